/**
 * HardeningService end to end on a loopback server: a tiny Harden job through grpc-js (Harden →
 * WatchJob to SUCCEEDED → GetReport with clean and robust accuracy), the same job seen through the
 * Connect client (idempotent Harden, GetJob, ListJobs paging, ListReports filtered by model, WatchJob
 * replay from a sequence number), the dashboard pages of the job and its report, and a job cancelled
 * mid-run (Connect) whose watcher reconnects midway without losing an event and whose compute stops.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import type { HardenServer } from '../services/server/index.js';
import { collect, connectClients, grpcClients, grpcFailure, GRPC_STATUS, startTestServer, tinyHardenRequest, unary, waitFor, type GrpcClients } from './rpc-helpers.js';

interface GrpcEvent {
  sequence: number;
  kind: string;
  [kind: string]: unknown;
}

describe('HardeningService', () => {
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

  it('hardens a tiny model: Harden → WatchJob to SUCCEEDED → GetReport (grpc-js), then the same job through Connect', async () => {
    const request = tinyHardenRequest({ requestId: 'tiny-1' });
    const { job } = await unary(grpcjs.hardening, 'Harden', request);
    assert.ok(job.jobId);
    assert.ok(['JOB_STATE_QUEUED', 'JOB_STATE_RUNNING'].includes(job.state));

    const events = (await collect(grpcjs.hardening.WatchJob({ jobId: job.jobId, afterSequence: 0 }))).map((r: { event: GrpcEvent }) => r.event);
    assert.deepEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1), 'contiguous sequence numbers from 1');
    const kinds = new Set(events.map((e) => e.kind));
    for (const k of ['stateChanged', 'batchProgress', 'epochCompleted', 'checkpointSaved', 'reportLinked']) assert.ok(kinds.has(k), `a ${k} event`);
    const last = events.at(-1)!;
    assert.equal(last.kind, 'stateChanged');
    assert.equal((last.stateChanged as { state: string }).state, 'JOB_STATE_SUCCEEDED');

    const done = (await unary(grpcjs.hardening, 'GetJob', { jobId: job.jobId })).job;
    assert.equal(done.state, 'JOB_STATE_SUCCEEDED');
    assert.match(done.modelUri, /\/jobs\/.+\/model$/);
    assert.ok(done.reportId);
    assert.equal(done.lastSequence, events.length);
    const { report } = await unary(grpcjs.evaluation, 'GetReport', { reportId: done.reportId });
    assert.ok(report.cleanAccuracy >= 0 && report.cleanAccuracy <= 1);
    assert.ok(report.robustAccuracy >= 0 && report.robustAccuracy <= report.cleanAccuracy);
    assert.deepEqual(report.attacks.map((a: { name: string }) => a.name), ['fgsm', 'pgd-20', 'cw-20']);
    assert.equal(report.model.uri, done.modelUri);
    assert.equal(report.jobId, job.jobId);
    assert.equal(report.dataset.size, 16);

    // The Connect client sees the same job; a repeated request id returns it instead of a new one.
    const c = connectClients(server.url, 'connect');
    const again = await c.hardening.harden({
      requestId: 'tiny-1',
      model: { case: 'arch', value: 'small-cnn' },
      method: 'standard',
      dataset: 'mnist',
      limit: 96,
      epochs: 1,
      batchSize: 32,
      learningRate: 0.05,
      evalSize: 16,
      evaluation: { suite: 'quick', limit: 16 },
    });
    assert.equal(again.job?.jobId, job.jobId);
    assert.equal(again.job?.state, JobState.SUCCEEDED);
    const viaConnect = (await c.evaluation.getReport({ reportId: done.reportId })).report;
    assert.equal(viaConnect?.robustAccuracy, report.robustAccuracy);
    assert.equal(viaConnect?.cleanAccuracy, report.cleanAccuracy);

    // WatchJob from a sequence number replays exactly the rest.
    const from = 5;
    const rest: number[] = [];
    for await (const r of c.hardening.watchJob({ jobId: job.jobId, afterSequence: BigInt(from) })) rest.push(Number(r.event?.sequence));
    assert.deepEqual(rest, events.slice(from).map((e) => e.sequence));

    // Listing: paging and the model filter.
    const page1 = await c.hardening.listJobs({ pageSize: 1 });
    assert.equal(page1.jobs.length, 1);
    assert.ok(page1.nextPageToken === '' || (await c.hardening.listJobs({ pageSize: 1, pageToken: page1.nextPageToken })).jobs[0]?.jobId !== page1.jobs[0].jobId);
    const succeeded = await c.hardening.listJobs({ state: JobState.SUCCEEDED });
    assert.ok(succeeded.jobs.some((j) => j.jobId === job.jobId));
    const mine = await c.evaluation.listReports({ modelUri: done.modelUri });
    assert.deepEqual(mine.reports.map((r) => r.reportId), [done.reportId]);
    assert.equal((await c.evaluation.listReports({ modelUri: 'file:///some/other/model' })).reports.length, 0);

    // The dashboard on the same port shows the job and the report.
    const jobPage = await fetch(`${server.url}/jobs/${job.jobId}`);
    assert.equal(jobPage.status, 200);
    assert.ok((await jobPage.text()).includes(job.jobId));
    assert.equal((await fetch(`${server.url}/reports/${done.reportId}`)).status, 200);

    await assert.rejects(unary(grpcjs.hardening, 'CancelJob', { jobId: job.jobId }), (e: unknown) => grpcFailure(e).code === GRPC_STATUS.FAILED_PRECONDITION);
  });

  it('cancels a running job (Connect): the watcher reconnects midway losing nothing, the job ends CANCELLED and its compute stops', async () => {
    const c = connectClients(server.url, 'connect');
    const { job } = await c.hardening.harden({
      model: { case: 'arch', value: 'small-cnn' },
      method: 'standard',
      dataset: 'mnist',
      limit: 256,
      epochs: 30,
      batchSize: 32,
      evalSize: 16,
      evaluation: { skip: true },
    });
    const jobId = job!.jobId;
    const seen: number[] = [];
    // First connection: until the first training batch, then the client goes away.
    const first = new AbortController();
    try {
      for await (const r of c.hardening.watchJob({ jobId }, { signal: first.signal })) {
        seen.push(Number(r.event?.sequence));
        if (r.event?.kind.case === 'batchProgress') first.abort();
      }
    } catch (error) {
      assert.equal(ConnectError.from(error).code, Code.Canceled);
    }
    // Second connection, from the last sequence seen: cancel after two more batches.
    let cancelledAt: bigint | undefined;
    let finalState: JobState | undefined;
    let batchesAfterCancel = 0;
    for await (const r of c.hardening.watchJob({ jobId, afterSequence: BigInt(seen.at(-1)!) })) {
      const e = r.event!;
      seen.push(Number(e.sequence));
      if (e.kind.case === 'batchProgress') {
        if (cancelledAt !== undefined && e.sequence > cancelledAt) batchesAfterCancel++;
        else if (cancelledAt === undefined && seen.length > 6) {
          const res = await c.hardening.cancelJob({ jobId });
          assert.ok(res.job?.cancelRequested || res.job?.state === JobState.CANCELLED);
          // Events after this one were committed after the cancel was recorded.
          cancelledAt = res.job!.lastSequence;
        }
      }
      if (e.kind.case === 'stateChanged') finalState = e.kind.value.state;
    }
    assert.equal(finalState, JobState.CANCELLED);
    assert.deepEqual(seen, seen.map((_, i) => i + 1), 'no event lost or repeated across the reconnect');
    // The batch computing when the cancel came finishes (and one already finished may be in flight to the store).
    assert.ok(batchesAfterCancel <= 2, `training stopped within a batch of the cancel (${batchesAfterCancel} after)`);
    // The compute has stopped: no job runs, and nothing more happens to the job.
    await waitFor(() => server.hardening!.runner.active === 0, 10_000, 'the runner to be idle');
    const settled = (await c.hardening.getJob({ jobId })).job!;
    assert.equal(settled.state, JobState.CANCELLED);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await c.hardening.getJob({ jobId })).job!.lastSequence, settled.lastSequence);
  });
});
