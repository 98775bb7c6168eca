/**
 * Every bad request gets its code before any work starts — INVALID_ARGUMENT naming the field,
 * NOT_FOUND for missing models, jobs and reports, RESOURCE_EXHAUSTED when the job queue is full,
 * FAILED_PRECONDITION for an impossible state change — through grpc-js and the Connect client, and
 * no message carries a stack trace or a storage internal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Code, ConnectError } from '@connectrpc/connect';
import type { HardenServer } from '../services/server/index.js';
import { collect, connectClients, grpcClients, grpcFailure, GRPC_STATUS, saveTinyModel, startTestServer, tinyHardenRequest, unary, waitFor, type GrpcClients } from './rpc-helpers.js';

const NO_STACK = /\n\s+at |\.ts:\d+|\.js:\d+/;

describe('error codes', () => {
  let server: HardenServer;
  let dir: string;
  let grpcjs: GrpcClients;
  let model: string;

  before(async () => {
    ({ server, dir } = await startTestServer({ trainingConcurrency: 1, queueLimit: 1, hardenLimits: { maxBatchSize: 256 } }));
    grpcjs = grpcClients(server.url);
    model = await saveTinyModel(dir);
  });
  after(async () => {
    grpcjs.close();
    await server.close();
  });

  /** grpc-js: the call fails with `code`, its message names `field` (when given), and shows no stack. */
  async function grpcFails(call: Promise<unknown>, code: number, field?: string): Promise<void> {
    await assert.rejects(call, (e: unknown) => {
      const f = grpcFailure(e);
      assert.equal(f.code, code, `${f.code} ${f.details}`);
      if (field) assert.ok(f.details.startsWith(`${field}:`), `"${f.details}" names ${field}`);
      assert.doesNotMatch(f.details, NO_STACK);
      return true;
    });
  }

  /** The Connect client: the same. */
  async function connectFails(call: Promise<unknown>, code: Code, field?: string): Promise<void> {
    await assert.rejects(call, (e: unknown) => {
      const c = ConnectError.from(e);
      assert.equal(c.code, code, `${Code[c.code]} ${c.rawMessage}`);
      if (field) assert.ok(c.rawMessage.startsWith(`${field}:`), `"${c.rawMessage}" names ${field}`);
      assert.doesNotMatch(c.rawMessage, NO_STACK);
      return true;
    });
  }

  it('Harden: INVALID_ARGUMENT naming the field, NOT_FOUND for a missing model (grpc-js)', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ eps: 2 }, 'eps'],
      [{ eps: -0.1 }, 'eps'],
      [{ method: 'magic' }, 'method'],
      [{ batchSize: 5000 }, 'batch_size'],
      [{ batchSize: 200, limit: 100 }, 'batch_size'],
      [{ arch: 'resnet9000' }, 'arch'],
      [{ arch: undefined, modelUri: 'ftp://host/model' }, 'model_uri'],
      [{ arch: undefined, modelUri: 'file:relative' }, 'model_uri'],
      [{ arch: undefined }, 'model'],
      [{ dataset: 'imagenet-22k' }, 'dataset'],
      [{ dataset: '' }, 'dataset'],
      [{ guidanceArch: 'resnet18' }, 'guidance_arch'],
      [{ requestId: 'has spaces' }, 'request_id'],
      [{ evaluation: { suite: 'heavy' } }, 'evaluation.suite'],
      [{ epochs: 100000 }, 'epochs'],
    ];
    for (const [overrides, field] of bad) await grpcFails(unary(grpcjs.hardening, 'Harden', tinyHardenRequest(overrides)), GRPC_STATUS.INVALID_ARGUMENT, field);
    await grpcFails(
      unary(grpcjs.hardening, 'Harden', tinyHardenRequest({ arch: undefined, modelUri: pathToFileURL(`${dir}/nothing-here`).href })),
      GRPC_STATUS.NOT_FOUND,
      'model_uri',
    );
    assert.equal(server.jobs.list({ kind: 'harden' }).jobs.length, 0, 'no job was created');
  });

  it('GenerateAdversarial: INVALID_ARGUMENT and NOT_FOUND before the first batch (Connect)', async () => {
    const { adversarial } = connectClients(server.url, 'connect');
    const drain = async (req: Record<string, unknown>) => {
      for await (const _ of adversarial.generateAdversarial({ modelUri: model, dataset: 'mnist', batchSize: 4, steps: 1, ...req })) {
        // nothing: every call below fails before its first message
      }
    };
    await connectFails(drain({ attack: 'laser' }), Code.InvalidArgument, 'attack');
    await connectFails(drain({ eps: 1.5 }), Code.InvalidArgument, 'eps');
    await connectFails(drain({ alpha: -1 }), Code.InvalidArgument, 'alpha');
    await connectFails(drain({ norm: 'L7' }), Code.InvalidArgument, 'norm');
    await connectFails(drain({ attack: 'cag', norm: 'L2', guidanceUri: model }), Code.InvalidArgument, 'norm');
    await connectFails(drain({ batchSize: 100000 }), Code.InvalidArgument, 'batch_size');
    await connectFails(drain({ attack: 'cag' }), Code.InvalidArgument, 'guidance_uri');
    await connectFails(drain({ attack: 'fgsm', steps: 5 }), Code.InvalidArgument, 'steps');
    await connectFails(drain({ dataset: 'cifar10' }), Code.InvalidArgument, 'dataset');
    await connectFails(drain({ offset: 10_000_000 }), Code.InvalidArgument, 'offset');
    await connectFails(drain({ modelUri: 's3://' }), Code.InvalidArgument, 'model_uri');
    await connectFails(drain({ modelUri: pathToFileURL(`${dir}/missing`).href }), Code.NotFound, 'model_uri');
    await connectFails(drain({ dataset: `idx:${dir}/no-idx-files` }), Code.NotFound);
  });

  it('Evaluate, GetReport, GetJob, ListJobs: their codes, over both stacks', async () => {
    const { evaluation, hardening } = connectClients(server.url, 'grpc');
    await connectFails(evaluation.evaluate({ modelUri: model, dataset: 'mnist', suite: 'everything' }), Code.InvalidArgument, 'suite');
    await connectFails(evaluation.evaluate({ modelUri: model, dataset: 'mnist', split: 'validation' }), Code.InvalidArgument, 'split');
    await connectFails(evaluation.evaluate({ modelUri: pathToFileURL(`${dir}/gone`).href, dataset: 'mnist' }), Code.NotFound, 'model_uri');
    await connectFails(evaluation.getReport({ reportId: 'no-such-report' }), Code.NotFound, 'report_id');
    await grpcFails(unary(grpcjs.evaluation, 'GetReport', { reportId: 'no-such-report' }), GRPC_STATUS.NOT_FOUND, 'report_id');
    await grpcFails(unary(grpcjs.evaluation, 'GetReport', { reportId: '' }), GRPC_STATUS.INVALID_ARGUMENT, 'report_id');
    await connectFails(hardening.getJob({ jobId: 'no-such-job' }), Code.NotFound, 'job_id');
    await grpcFails(unary(grpcjs.hardening, 'GetJob', { jobId: '../../etc/passwd' }), GRPC_STATUS.INVALID_ARGUMENT, 'job_id');
    await grpcFails(unary(grpcjs.hardening, 'CancelJob', { jobId: 'no-such-job' }), GRPC_STATUS.NOT_FOUND, 'job_id');
    await grpcFails(collect(grpcjs.hardening.WatchJob({ jobId: 'no-such-job' })), GRPC_STATUS.NOT_FOUND, 'job_id');
    await connectFails(hardening.listJobs({ pageToken: 'not-a-token' }), Code.InvalidArgument, 'page_token');
    await grpcFails(unary(grpcjs.hardening, 'ListJobs', { pageSize: 100000 }), GRPC_STATUS.INVALID_ARGUMENT, 'page_size');
    await grpcFails(unary(grpcjs.evaluation, 'ListReports', { pageToken: 'AAAA' }), GRPC_STATUS.INVALID_ARGUMENT, 'page_token');
  });

  it('RESOURCE_EXHAUSTED when the queue is full; FAILED_PRECONDITION cancelling a finished job', async () => {
    // One job runs, one waits (queue limit 1): the third is refused.
    const long = tinyHardenRequest({ epochs: 50, evaluation: { skip: true } });
    const a = await unary(grpcjs.hardening, 'Harden', long);
    const b = await unary(grpcjs.hardening, 'Harden', long);
    assert.equal(a.job.state, 'JOB_STATE_RUNNING');
    assert.equal(b.job.state, 'JOB_STATE_QUEUED');
    await grpcFails(unary(grpcjs.hardening, 'Harden', long), GRPC_STATUS.RESOURCE_EXHAUSTED);
    const { hardening } = connectClients(server.url, 'connect');
    await connectFails(hardening.harden({ model: { case: 'arch', value: 'small-cnn' }, dataset: 'mnist', limit: 96, batchSize: 32 }), Code.ResourceExhausted);
    // Cancelling frees the slots; a cancelled job cancels again idempotently.
    assert.equal((await unary(grpcjs.hardening, 'CancelJob', { jobId: b.job.jobId })).job.state, 'JOB_STATE_CANCELLED');
    await unary(grpcjs.hardening, 'CancelJob', { jobId: a.job.jobId });
    await waitFor(() => server.jobs.get(a.job.jobId).state === 'CANCELLED', 60_000, 'the running job to stop');
    assert.equal((await unary(grpcjs.hardening, 'CancelJob', { jobId: a.job.jobId })).job.state, 'JOB_STATE_CANCELLED');
    // A finished job cannot be cancelled.
    const finished = server.jobs.create({ kind: 'harden', spec: { note: 'test' } }).job;
    server.jobs.transition(finished.id, 'RUNNING');
    server.jobs.transition(finished.id, 'FAILED', { error: { code: 'test', message: 'made by the test' } });
    await grpcFails(unary(grpcjs.hardening, 'CancelJob', { jobId: finished.id }), GRPC_STATUS.FAILED_PRECONDITION, 'job_id');
    // A request id reused for another request is ALREADY_EXISTS.
    await unary(grpcjs.hardening, 'Harden', tinyHardenRequest({ requestId: 'same-key', evaluation: { skip: true } })).then((r) => unary(grpcjs.hardening, 'CancelJob', { jobId: r.job.jobId }));
    await grpcFails(unary(grpcjs.hardening, 'Harden', tinyHardenRequest({ requestId: 'same-key', epochs: 2 })), GRPC_STATUS.ALREADY_EXISTS, 'request_id');
  });
});
