/**
 * One place decides an attack's defaults (libs/attacks `attackSettings`): the CLI and the RPCs ask
 * for the same attack on the same data and get the same ε, steps and α — `harden attack` against
 * GenerateAdversarial over the network, `harden train` against Harden's stored spec — and a
 * guidance model that cannot take the input size is never chosen by default (8×8 digits).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { attackSettings, evaluationEps, trainingEps } from '../libs/attacks/index.js';
import { writeIdxPair } from '../libs/data/test-fixtures.js';
import type { HardenServer } from '../services/server/index.js';
import { CLI, collect, grpcClients, saveTinyModel, startTestServer, tinyHardenRequest, unary, type GrpcClients } from './rpc-helpers.js';

function harden(args: string[]): { code: number; stderr: string; json: Record<string, unknown> | undefined } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, HARDEN_WORKERS: '1' }, timeout: 240_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(last) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stderr: r.stderr, json };
}

describe('attack defaults: one source for the CLI and the RPCs', () => {
  let server: HardenServer;
  let grpcjs: GrpcClients;
  let dir: string;
  let model: string;
  let guidance: string;

  before(async () => {
    ({ server, dir } = await startTestServer({ services: ['adversarial', 'training', 'evaluation'] }));
    grpcjs = grpcClients(server.url);
    model = await saveTinyModel(dir, 'model', 7);
    guidance = await saveTinyModel(dir, 'guidance', 8);
  });
  after(async () => {
    grpcjs.close();
    await server.close();
  });

  it('ε by data set for every attack (CAG included), 8/255 or CAG’s 0.031 elsewhere', () => {
    for (const attack of ['fgsm', 'pgd', 'cw', 'cag', 'apgd-ce', 'square', 'autoattack'] as const) {
      assert.equal(attackSettings(attack, 'mnist').eps, 0.3, attack);
      assert.equal(attackSettings(attack, 'fashion-mnist:/data').eps, 0.1, attack);
    }
    assert.equal(attackSettings('pgd', 'cifar10:/data').eps, 8 / 255);
    assert.equal(attackSettings('cag', 'cifar10:/data').eps, 0.031);
    assert.equal(trainingEps('cifar10:/data'), 0.031);
    assert.equal(evaluationEps('cifar10:/data'), 8 / 255);
    assert.equal(attackSettings('square', 'mnist', { steps: 50 }).options.queries, 50);
    assert.throws(() => attackSettings('pgd', 'mnist', { eps: 1.5 }), /must be in \(0, 1\]/);
    assert.throws(() => attackSettings('apgd-ce', 'mnist', { alpha: 0.1 }), /has no step size/);
    assert.throws(() => attackSettings('fgsm', 'mnist', { steps: 3 }), /no step or query budget/);
  });

  for (const attack of ['pgd', 'cag', 'fgsm'] as const) {
    it(`harden attack and GenerateAdversarial agree on ${attack} over mnist`, async () => {
      const withGuidance = attack === 'cag' ? ['--guidance', guidance] : [];
      const cli = harden(['attack', '--model', model, '--dataset', 'mnist', '--attack', attack, '--limit', '4', '--workers', '1', '--json', ...withGuidance]);
      assert.equal(cli.code, 0, cli.stderr);
      const rpc = (await collect(grpcjs.adversarial.GenerateAdversarial({ modelUri: model, dataset: 'mnist', attack, batchSize: 4, numBatches: 1, ...(attack === 'cag' ? { guidanceUri: guidance } : {}) }))).map((r) => r.batch);
      const expected = attackSettings(attack, 'mnist');
      assert.equal(cli.json?.eps, expected.eps);
      assert.ok(Math.abs(rpc[0].eps - expected.eps) < 1e-6, `RPC ε ${rpc[0].eps}`);
      assert.equal(cli.json?.steps, expected.steps);
      assert.equal(cli.json?.alpha, expected.alpha);
    });
  }

  it('the CLI refuses ε > 1 as GenerateAdversarial does', async () => {
    const cli = harden(['attack', '--model', model, '--dataset', 'mnist', '--attack', 'pgd', '--eps', '1.5', '--limit', '4', '--json']);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /--eps: must be in \(0, 1\]/);
    await assert.rejects(collect(grpcjs.adversarial.GenerateAdversarial({ modelUri: model, dataset: 'mnist', attack: 'pgd', eps: 1.5, batchSize: 4, numBatches: 1 })), /eps: must be in \(0, 1\]/);
  });

  it('harden train and Harden take the same training ε by default', async () => {
    const out = join(dir, 'train-run');
    const cli = harden(['train', '--method', 'pgd-at', '--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '32', '--eval-size', '16', '--epochs', '1', '--batch', '16', '--steps', '1', '--eval-steps', '1', '--out', out, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const r = await unary(grpcjs.hardening, 'Harden', tinyHardenRequest({ method: 'pgd-at', evaluation: { skip: true } }));
    await unary(grpcjs.hardening, 'CancelJob', { jobId: r.job.jobId });
    assert.equal(cli.json?.eps, trainingEps('mnist'));
    assert.ok(Math.abs(r.job.request.eps - trainingEps('mnist')) < 1e-9, `Harden's ε ${r.job.request.eps}`);
  });

  it('8×8 images: the default guidance model is one that takes them (not small-cnn)', async () => {
    const data = join(dir, 'digits8');
    mkdirSync(data, { recursive: true });
    const labels = Array.from({ length: 48 }, (_, i) => i % 10);
    await writeIdxPair(data, 'train', { images: 48, h: 8, w: 8, labels }, false);
    await writeIdxPair(data, 't10k', { images: 10, h: 8, w: 8, labels: labels.slice(0, 10) }, false);
    const cli = harden(['train', '--method', 'd2r', '--arch', 'ref-cnn', '--dataset', `idx:${data}`, '--limit', '32', '--eval-size', '8', '--epochs', '1', '--batch', '16', '--steps', '1', '--eval-steps', '1', '--out', join(dir, 'digits-run'), '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.json?.guidance_arch, 'ref-cnn');
    // Named explicitly, small-cnn is refused with the reason, as bad input.
    const refused = harden(['train', '--method', 'd2r', '--arch', 'ref-cnn', '--guidance-arch', 'small-cnn', '--dataset', `idx:${data}`, '--limit', '32', '--eval-size', '8', '--epochs', '1', '--batch', '16', '--out', join(dir, 'digits-run2'), '--json']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--guidance-arch: .*needs inputs of at least 16×16/);
  });
});
