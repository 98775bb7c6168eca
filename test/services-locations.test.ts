/**
 * Which locations requests may name (libs/rpc/locations.ts), end to end: a server confined to its
 * store and one allowed folder refuses, with PERMISSION_DENIED naming the field and before any job
 * exists, models and data sets elsewhere — plainly outside, reached through `..`, or through a
 * symlink inside the store — over grpc-js and Connect, and serves the allowed ones. A server bound to
 * all interfaces confines itself to its store; one on loopback reads anything.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Code, ConnectError } from '@connectrpc/connect';
import type { HardenServer } from '../services/server/index.js';
import { connectClients, grpcClients, grpcFailure, GRPC_STATUS, saveTinyModel, startTestServer, tempDir, tinyHardenRequest, unary, type GrpcClients } from './rpc-helpers.js';

describe('request locations', () => {
  let server: HardenServer;
  let store: string;
  let allowed: string;
  let outside: string;
  let grpcjs: GrpcClients;

  before(async () => {
    allowed = tempDir('harden-allowed');
    outside = tempDir('harden-outside');
    store = tempDir('harden-store');
    ({ server } = await startTestServer({ storeUri: pathToFileURL(store).href, allowedLocations: [pathToFileURL(allowed).href] }));
    grpcjs = grpcClients(server.url);
    await saveTinyModel(store, 'in-store');
    await saveTinyModel(allowed, 'm');
    await saveTinyModel(outside, 'm');
    symlinkSync(join(outside, 'm'), join(store, 'link-out'));
    mkdirSync(join(outside, 'cifar'));
  });
  after(async () => {
    grpcjs.close();
    await server.close();
  });

  it('lists the store and the allowed folder', () => {
    assert.deepEqual(server.allowedLocations, [server.storeUri, pathToFileURL(allowed).href]);
  });

  it('refuses models outside, through .. and through a symlink: PERMISSION_DENIED naming the field, no job (grpc-js)', async () => {
    const refused = [pathToFileURL(join(outside, 'm')).href, `${pathToFileURL(store).href}/../${join(outside, 'm').split('/').slice(-2).join('/')}`, pathToFileURL(join(store, 'link-out')).href, '/etc'];
    for (const modelUri of refused) {
      await assert.rejects(unary(grpcjs.hardening, 'Harden', tinyHardenRequest({ arch: undefined, modelUri })), (e: unknown) => {
        const f = grpcFailure(e);
        assert.equal(f.code, GRPC_STATUS.PERMISSION_DENIED, `${modelUri}: ${f.code} ${f.details}`);
        assert.match(f.details, /^model_uri: .* is outside the locations this server reads \(file:\/\//);
        return true;
      });
    }
    await assert.rejects(unary(grpcjs.hardening, 'Harden', tinyHardenRequest({ dataset: `cifar10:${join(outside, 'cifar')}` })), (e: unknown) => {
      assert.equal(grpcFailure(e).code, GRPC_STATUS.PERMISSION_DENIED);
      assert.match(grpcFailure(e).details, /^dataset: /);
      return true;
    });
    assert.equal(server.jobs.list({ kind: 'harden' }).jobs.length, 0, 'no job was created');
  });

  it('refuses them on every service (Connect), and a missing model inside is still NOT_FOUND', async () => {
    const { evaluation, adversarial } = connectClients(server.url);
    const outsideModel = pathToFileURL(join(outside, 'm')).href;
    const denied = (e: unknown, field: string) => {
      const c = ConnectError.from(e);
      assert.equal(c.code, Code.PermissionDenied, `${Code[c.code]} ${c.rawMessage}`);
      assert.ok(c.rawMessage.startsWith(`${field}: `), c.rawMessage);
      return true;
    };
    await assert.rejects(evaluation.evaluate({ modelUri: outsideModel, dataset: 'mnist' }), (e) => denied(e, 'model_uri'));
    await assert.rejects(evaluation.evaluate({ modelUri: pathToFileURL(join(allowed, 'm')).href, dataset: `idx:${outside}` }), (e) => denied(e, 'dataset'));
    const drain = async (req: Parameters<typeof adversarial.generateAdversarial>[0]) => {
      for await (const _ of adversarial.generateAdversarial(req)) {
        // nothing should arrive
      }
    };
    await assert.rejects(drain({ modelUri: outsideModel, dataset: 'mnist', numBatches: 1, batchSize: 2 }), (e) => denied(e, 'model_uri'));
    await assert.rejects(
      drain({ modelUri: pathToFileURL(join(allowed, 'm')).href, guidanceUri: outsideModel, attack: 'cag', dataset: 'mnist', numBatches: 1, batchSize: 2 }),
      (e) => denied(e, 'guidance_uri'),
    );
    await assert.rejects(evaluation.evaluate({ modelUri: pathToFileURL(join(store, 'gone')).href, dataset: 'mnist' }), (e: unknown) => ConnectError.from(e).code === Code.NotFound);
  });

  it('serves models in the store and in the allowed folder', async () => {
    const { adversarial } = connectClients(server.url);
    for (const modelUri of [pathToFileURL(join(store, 'in-store')).href, pathToFileURL(join(allowed, 'm')).href]) {
      let batches = 0;
      for await (const r of adversarial.generateAdversarial({ modelUri, dataset: 'mnist', attack: 'fgsm', eps: 0.1, numBatches: 1, batchSize: 2 })) if (r.batch) batches++;
      assert.equal(batches, 1, modelUri);
    }
  });
});

describe('request locations by bind address', () => {
  it('a server on all interfaces allows only its store; one on loopback allows any location', async () => {
    const wide = await startTestServer({ host: '0.0.0.0', dashboard: false, insecure: true });
    try {
      assert.deepEqual(wide.server.allowedLocations, [wide.server.storeUri]);
    } finally {
      await wide.server.close();
    }
    const local = await startTestServer({ dashboard: false });
    try {
      assert.equal(local.server.allowedLocations, undefined);
    } finally {
      await local.server.close();
    }
  });
});
