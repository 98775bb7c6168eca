/**
 * The RPC server as clients of other stacks see it, on loopback: grpc.health.v1 (grpc-js and the
 * Connect client in all three protocols), server reflection v1 and v1alpha (grpc-js, decoding the
 * descriptors), HTTP/1.1 and the dashboard on the same port, TLS, and the request size limit.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { ServingStatus } from '../libs/rpc/index.js';
import type { HardenServer } from '../services/server/index.js';
import { collect, connectClients, grpcClients, grpcFailure, GRPC_STATUS, startTestServer, tempDir, unary, type GrpcClients } from './rpc-helpers.js';

const SERVICES = ['robustness.v1.HardeningService', 'robustness.v1.AdversarialService', 'robustness.v1.EvaluationService'];

describe('RPC server on loopback', () => {
  let server: HardenServer;
  let grpcjs: GrpcClients;

  before(async () => {
    ({ server } = await startTestServer());
    grpcjs = grpcClients(server.url);
  });
  after(async () => {
    grpcjs.close();
    await server.close();
  });

  it('answers grpc.health.v1 Check SERVING for the server and each service (grpc-js)', async () => {
    for (const service of ['', ...SERVICES]) {
      const res = await unary(grpcjs.health, 'Check', { service });
      assert.equal(res.status, 'SERVING', service);
    }
    await assert.rejects(unary(grpcjs.health, 'Check', { service: 'nope.Service' }), (e: unknown) => grpcFailure(e).code === GRPC_STATUS.NOT_FOUND);
    const list = await unary(grpcjs.health, 'List', {});
    assert.deepEqual(Object.keys(list.statuses).sort(), ['', ...SERVICES].sort());
    const watch = grpcjs.health.Watch({ service: SERVICES[0] });
    watch.on('error', () => {}); // CANCELLED, after our cancel() below
    const first = await new Promise<{ status: string }>((resolve) => watch.once('data', resolve));
    assert.equal(first.status, 'SERVING');
    watch.cancel();
  });

  it('answers health over gRPC, gRPC-Web and Connect with the Connect client', async () => {
    for (const protocol of ['grpc', 'grpc-web', 'connect'] as const) {
      const { health } = connectClients(server.url, protocol);
      const res = await health.check({ service: 'robustness.v1.HardeningService' });
      assert.equal(res.status, ServingStatus.SERVING, protocol);
    }
  });

  it('serves reflection v1 and v1alpha from the generated descriptors', async () => {
    for (const client of [grpcjs.reflectionV1, grpcjs.reflectionV1alpha]) {
      const call = client.ServerReflectionInfo();
      const answers = collect(call);
      call.write({ listServices: '' });
      call.write({ fileContainingSymbol: 'robustness.v1.HardeningService' });
      call.write({ fileContainingSymbol: 'robustness.v1.AdversarialService.GenerateAdversarial' });
      call.write({ fileByFilename: 'robustness/v1/evaluation.proto' });
      call.write({ fileContainingSymbol: 'no.such.Symbol' });
      call.end();
      const [list, hardening, method, evaluation, missing] = await answers;
      const names = list.listServicesResponse.service.map((s: { name: string }) => s.name);
      for (const s of [...SERVICES, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']) assert.ok(names.includes(s), s);
      const files = (r: { fileDescriptorResponse: { fileDescriptorProto: Buffer[] } }) => r.fileDescriptorResponse.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
      const h = files(hardening);
      assert.equal(h[0].name, 'robustness/v1/hardening.proto');
      assert.ok(h.some((f) => f.name === 'google/protobuf/timestamp.proto'), 'dependencies are included');
      assert.ok(h.some((f) => f.name === 'robustness/v1/job.proto'));
      assert.deepEqual(h[0].service[0].method.map((m) => m.name), ['Harden', 'GetJob', 'WatchJob', 'CancelJob', 'ListJobs']);
      assert.equal(files(method)[0].name, 'robustness/v1/adversarial.proto');
      assert.equal(files(evaluation)[0].name, 'robustness/v1/evaluation.proto');
      assert.equal(missing.errorResponse.errorCode, GRPC_STATUS.NOT_FOUND);
    }
  });

  it('serves HTTP/1.1 on the same port: the dashboard, Connect JSON, and 404 elsewhere', async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Jobs/);
    const health = await fetch(`${server.url}/grpc.health.v1.Health/Check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"service":""}' });
    assert.deepEqual(await health.json(), { status: 'SERVING' });
    assert.equal((await fetch(`${server.url}/no/such/page`)).status, 404);
  });

  it('refuses a request larger than the read limit with RESOURCE_EXHAUSTED', async () => {
    const huge = 'x'.repeat(5 * 1024 * 1024);
    await assert.rejects(unary(grpcjs.hardening, 'GetJob', { jobId: huge }), (e: unknown) => grpcFailure(e).code === GRPC_STATUS.RESOURCE_EXHAUSTED);
    const { hardening } = connectClients(server.url, 'grpc');
    await assert.rejects(hardening.getJob({ jobId: huge }), (e: unknown) => ConnectError.from(e).code === Code.ResourceExhausted);
  });
});

describe('RPC server with TLS', () => {
  it('serves gRPC over TLS with the given certificate (grpc-js and Connect)', async (t) => {
    const dir = tempDir('harden-tls');
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    } catch {
      t.skip('openssl is not available to make a test certificate');
      return;
    }
    const { server } = await startTestServer({ services: ['evaluation'], tls: { certFile: cert, keyFile: key }, dashboard: false });
    try {
      assert.match(server.url, /^https:/);
      const url = server.url.replace('127.0.0.1', 'localhost');
      const grpcjs = grpcClients(url, { rootCert: readFileSync(cert) });
      assert.equal((await unary(grpcjs.health, 'Check', { service: 'robustness.v1.EvaluationService' })).status, 'SERVING');
      grpcjs.close();
      const { health } = connectClients(url, 'grpc', { caFile: cert });
      assert.equal((await health.check({ service: '' })).status, ServingStatus.SERVING);
      // Cleartext clients get nowhere.
      const plain = connectClients(server.url.replace('https:', 'http:'), 'grpc');
      await assert.rejects(plain.health.check({ service: '' }, { timeoutMs: 3000 }));
    } finally {
      await server.close();
    }
  });
});
