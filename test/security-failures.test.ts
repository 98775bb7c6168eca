/**
 * Failures that say what failed, and refusing early, over the network: a malformed protobuf frame
 * (gRPC over raw HTTP/2, and Connect), evaluation RPCs naming evaluation_id, Harden and Evaluate
 * refusing a missing data set and a model.json that is not a model before they queue, a store that
 * cannot be written keeping the server NOT_SERVING until it can, a job's store failure described
 * without paths, and a job whose latest checkpoint is damaged starting over and saying so.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { describeFailure, ServingStatus } from '../libs/rpc/index.js';
import { RemoteError } from '../libs/engine/index.js';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import { createLogger } from '../libs/telemetry/index.js';
import { startHardenServer, type HardenServer } from '../services/server/index.js';
import { connectClients, saveTinyModel, startTestServer, tempDir, waitFor } from './rpc-helpers.js';

const MALFORMED = 'the request is not a valid protobuf message for this method';

/** One gRPC call over raw HTTP/2 with `body` as the length-prefixed message; resolves with grpc-status and grpc-message. */
function rawGrpc(url: string, path: string, message: Buffer): Promise<{ status: string; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    let headers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (headers = h));
    req.on('trailers', (t) => (headers = { ...headers, ...t }));
    req.on('data', () => undefined);
    req.on('end', () => {
      session.close();
      resolve({ status: String(headers['grpc-status']), message: decodeURIComponent(String(headers['grpc-message'] ?? '')) });
    });
    req.on('error', reject);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    req.end(frame);
  });
}

describe('failures that say what failed, refusals before queueing', () => {
  let server: HardenServer;
  let dir: string;
  let modelUri = '';

  before(async () => {
    ({ server, dir } = await startTestServer({ logger: createLogger('serve', { level: 'error' }) }));
    modelUri = await saveTinyModel(dir);
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers a malformed protobuf frame with INVALID_ARGUMENT and a fixed message (gRPC and Connect)', async () => {
    // Field 1 (job_id) as a length-delimited string whose length runs past the end.
    const bad = Buffer.from([0x0a, 0x7f, 0x41]);
    const grpc = await rawGrpc(server.url, '/robustness.v1.HardeningService/GetJob', bad);
    assert.equal(grpc.status, String(Code.InvalidArgument));
    assert.equal(grpc.message, MALFORMED);
    const res = await fetch(`${server.url}/robustness.v1.HardeningService/GetJob`, { method: 'POST', headers: { 'content-type': 'application/proto' }, body: bad });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 'invalid_argument', message: MALFORMED });
  });

  it('names evaluation_id for an unknown evaluation', async () => {
    const { evaluation } = connectClients(server.url);
    for (const call of [() => evaluation.getEvaluation({ evaluationId: 'nope' }), () => evaluation.cancelEvaluation({ evaluationId: 'nope' })]) {
      await assert.rejects(call(), (e: unknown) => {
        const c = ConnectError.from(e);
        assert.equal(c.code, Code.NotFound);
        assert.match(c.rawMessage, /^evaluation_id: no evaluation "nope"/);
        return true;
      });
    }
  });

  it('refuses a missing data set and a model.json that is not a model before queueing (Harden and Evaluate)', async () => {
    const { hardening, evaluation } = connectClients(server.url);
    const before = (await hardening.listJobs({})).jobs.length;
    const missing = `idx:${join(dir, 'no-such-folder')}`;
    await assert.rejects(hardening.harden({ model: { case: 'arch', value: 'small-cnn' }, dataset: missing, epochs: 1 }), (e: unknown) => ConnectError.from(e).code === Code.NotFound);
    await assert.rejects(evaluation.evaluate({ modelUri, dataset: missing }), (e: unknown) => ConnectError.from(e).code === Code.NotFound);
    const notModel = join(dir, 'not-a-model');
    mkdirSync(notModel);
    writeFileSync(join(notModel, 'model.json'), '{"hello": "world"}');
    const notModelUri = pathToFileURL(notModel).href;
    await assert.rejects(hardening.harden({ model: { case: 'modelUri', value: notModelUri }, dataset: 'mnist', epochs: 1 }), (e: unknown) => ConnectError.from(e).code === Code.FailedPrecondition);
    await assert.rejects(evaluation.evaluate({ modelUri: notModelUri, dataset: 'mnist' }), (e: unknown) => ConnectError.from(e).code === Code.FailedPrecondition);
    assert.equal((await hardening.listJobs({})).jobs.length, before, 'nothing was queued');
    assert.equal((await evaluation.listReports({})).reports.length, 0);
  });

  it("describes a job's store and checkpoint failures by their real code, without paths", () => {
    const full = describeFailure(new RemoteError('TrainingError', 'writing checkpoint file:///srv/secret/store/jobs/j/checkpoints/epoch-0002: io: ENOSPC: no space left on device, write', 'io'));
    assert.deepEqual(full, { code: 'unavailable', message: 'the artifact store is full' });
    const ro = describeFailure(new RemoteError('StorageError', "EROFS: read-only file system, open '/srv/secret/x'", 'io'));
    assert.deepEqual(ro, { code: 'unavailable', message: 'the artifact store is read-only' });
    const creds = describeFailure(new RemoteError('StorageError', 'InvalidAccessKeyId: AKIA123 is not valid', 'bad-credentials'));
    assert.deepEqual(creds, { code: 'unavailable', message: 'the artifact store rejected its credentials' });
    const damaged = describeFailure(
      new RemoteError('TrainingError', 'opening checkpoint file:///srv/secret/jobs/j/checkpoints/epoch-0001: file:///srv/secret/jobs/j/checkpoints/epoch-0001/target/group1-shard1of1.bin does not match manifest.json: 10 bytes with sha256 ab', 'corrupt'),
    );
    assert.deepEqual(damaged, { code: 'failed-precondition', message: 'checkpoint epoch-0001 does not match its manifest' });
    for (const d of [full, ro, creds, damaged]) assert.ok(!/\/srv|AKIA/.test(d.message));
  });
});

describe('the store at start-up', () => {
  it('stays NOT_SERVING while the store cannot be written, then SERVING once it can', async () => {
    const dir = tempDir('harden-probe');
    const storeDir = join(dir, 'store');
    mkdirSync(storeDir);
    // A file where the probe's folder must go: every write under it fails (as on a read-only store, even for root).
    writeFileSync(join(storeDir, 'probes'), 'in the way');
    const server = await startHardenServer({ port: 0, storeUri: pathToFileURL(storeDir).href, dbPath: join(dir, 'jobs.sqlite'), backend: 'wasm', services: ['evaluation'], dashboard: false, logger: createLogger('serve', { level: 'error' }) });
    try {
      const { health } = connectClients(server.url);
      assert.equal((await health.check({ service: '' })).status, ServingStatus.NOT_SERVING);
      assert.equal((await health.check({ service: 'robustness.v1.EvaluationService' })).status, ServingStatus.NOT_SERVING);
      rmSync(join(storeDir, 'probes'));
      await waitFor(async () => (await health.check({ service: '' })).status === ServingStatus.SERVING, 15_000, 'SERVING once the store takes writes');
      assert.deepEqual(existsSync(join(storeDir, 'probes')) ? readdirSync(join(storeDir, 'probes')) : [], [], 'the probe object was deleted');
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a damaged latest checkpoint', () => {
  it('is passed over: the job starts over (no intact checkpoint), says so, and succeeds', async () => {
    const dir = tempDir('harden-damaged');
    const storeUri = pathToFileURL(join(dir, 'store')).href;
    const opts = { port: 0, storeUri, backend: 'wasm' as const, services: ['training' as const, 'evaluation' as const], dashboard: false, shutdownGraceMs: 10_000, logger: createLogger('serve', { level: 'error' }) };
    let server = await startHardenServer(opts);
    try {
      let { hardening } = connectClients(server.url);
      // evalSize 0 means the default (200 held-out images, PGD-10 each epoch: most of the job's time); 16 keeps the check and the test short.
      const job = (await hardening.harden({ model: { case: 'arch', value: 'small-cnn' }, method: 'standard', dataset: 'mnist', limit: 128, epochs: 8, batchSize: 32, evalSize: 16, evaluation: { skip: true } })).job!;
      const ckpts = join(dir, 'store', 'jobs', job.jobId, 'checkpoints');
      await waitFor(() => existsSync(join(ckpts, 'latest.json')), 120_000, 'latest.json');
      assert.notEqual(server.jobs.get(job.jobId).state, 'SUCCEEDED', 'the job is stopped mid-run');
      await server.close();
      // Damage every kept checkpoint (its state no longer matches its manifest): none is intact.
      for (const folder of readdirSync(ckpts).filter((f) => f.startsWith('epoch-'))) writeFileSync(join(ckpts, folder, 'state.json'), '{"damaged": true}');
      server = await startHardenServer(opts);
      ({ hardening } = connectClients(server.url));
      await waitFor(async () => [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED].includes((await hardening.getJob({ jobId: job.jobId })).job!.state), 480_000, 'the job to end');
      const done = (await hardening.getJob({ jobId: job.jobId })).job!;
      const warnings: string[] = [];
      for await (const r of hardening.watchJob({ jobId: job.jobId })) {
        if (r.event?.kind.case === 'warning') warnings.push((r.event.kind.value as { message: string }).message);
      }
      assert.ok(warnings.some((w) => /checkpoint epoch-\d{4} is damaged/.test(w) && /starts over/.test(w)), `a warning says so: ${JSON.stringify(warnings)}`);
      assert.equal(done.state, JobState.SUCCEEDED, JSON.stringify(done.error));
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
