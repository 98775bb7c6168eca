/**
 * Scale-out end to end, without a cluster: `harden serve` with HARDEN_RUNNER=kubernetes against a
 * fake Kubernetes API server, and this test playing the kubelet — it runs each pod the Job asks for
 * as a `harden worker` process with the Job's arguments and environment, and reports the pod's exit
 * in the Job's status. The first pod is killed after the first epoch's checkpoint (a failed pod);
 * the retried pod resumes from that checkpoint; the job then gets its evaluation and SUCCEEDS.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { workerJobName } from '../libs/jobs/kubernetes/index.js';
import { createServiceClient, createTransport } from '../libs/rpc/index.js';
import { HardeningService } from '../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import { createLogger } from '../libs/telemetry/index.js';
import { startHardenServer, type HardenServer } from '../services/server/index.js';
import { fakeRunnerOptions, runJobPod, startFakeKubeApi, type FakeKubeApi } from './helpers/fake-kube-api.js';

const NS = 'ml';

/** Runs the pod of Job `name` as a process; resolves with its exit code. */
const runPod = (fake: FakeKubeApi, name: string, onStart: (child: ChildProcess) => void) => runJobPod(fake, NS, name, { onStart });

describe('Kubernetes runner with harden worker pods', () => {
  let fake: FakeKubeApi;
  let server: HardenServer;
  let dir: string;
  let url = '';

  before(async () => {
    fake = await startFakeKubeApi();
    dir = mkdtempSync(join(tmpdir(), 'harden-k8s-'));
    server = await startHardenServer({
      port: 0,
      storeUri: pathToFileURL(join(dir, 'store')).href,
      backend: 'wasm',
      dashboard: false,
      shutdownGraceMs: 5000,
      logger: createLogger('serve', { level: 'error' }),
      runner: 'kubernetes',
      kubernetes: fakeRunnerOptions(fake, NS, () => url),
    });
    url = server.url;
  });
  after(async () => {
    await server?.close();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('trains in worker pods (a failed pod retried, resuming from its checkpoint), then evaluates', { timeout: 300_000 }, async () => {
    const client = createServiceClient(HardeningService, createTransport({ address: url, protocol: 'grpc' }));
    const { job } = await client.harden({
      model: { case: 'arch', value: 'small-cnn' },
      method: 'standard',
      dataset: 'mnist',
      limit: 96,
      epochs: 2,
      batchSize: 32,
      learningRate: 0.05,
      evalSize: 16,
      evaluation: { suite: 'quick', limit: 16 },
    });
    const jobId = job!.jobId;
    const name = workerJobName(jobId);
    await fake.waitForJob(NS, name, 10_000);

    // Pod 1: killed once the first epoch's checkpoint is reported.
    fake.setStatus(NS, name, { active: 1, ready: 1 });
    let first: ChildProcess | undefined;
    const firstExit = runPod(fake, name, (c) => (first = c));
    const deadline = Date.now() + 180_000;
    while (!server.jobs.events(jobId).some((e) => e.type === 'checkpoint')) {
      assert.ok(Date.now() < deadline, 'the first pod reports a checkpoint');
      await new Promise((r) => setTimeout(r, 100));
    }
    first!.kill('SIGKILL');
    await firstExit;
    fake.addPod(NS, {
      metadata: { name: `${name}-a`, labels: { 'job-name': name }, creationTimestamp: new Date().toISOString() },
      spec: { containers: [{ name: 'worker' }] },
      status: { phase: 'Failed', containerStatuses: [{ name: 'worker', state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] },
    });
    fake.setStatus(NS, name, { active: 1, ready: 0, failed: 1 });

    // Pod 2: Kubernetes's retry; it resumes from the checkpoint and finishes.
    while (!server.jobs.events(jobId).some((e) => e.type === 'k8s' && e.data.phase === 'retrying')) await new Promise((r) => setTimeout(r, 50));
    fake.setStatus(NS, name, { active: 1, ready: 1, failed: 1 });
    const code = await runPod(fake, name, () => undefined);
    assert.equal(code, 0, 'the retried pod succeeds');
    fake.setStatus(NS, name, { active: 0, ready: 0, failed: 1, succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });

    let state = JobState.RUNNING;
    while (state !== JobState.SUCCEEDED && state !== JobState.FAILED && state !== JobState.CANCELLED) {
      assert.ok(Date.now() < deadline + 60_000, 'the job ends');
      await new Promise((r) => setTimeout(r, 200));
      state = (await client.getJob({ jobId })).job!.state;
    }
    const done = (await client.getJob({ jobId })).job!;
    assert.equal(done.state, JobState.SUCCEEDED, done.error?.message);
    assert.match(done.modelUri, new RegExp(`/jobs/${jobId}/model$`));
    assert.ok(done.reportId, 'the evaluation after training linked a report');
    const types = server.jobs.events(jobId).map((e) => e.type);
    for (const t of ['k8s', 'batch', 'epoch', 'checkpoint', 'resumed', 'report']) assert.ok(types.includes(t), `a ${t} event`);
    const resumed = server.jobs.events(jobId).find((e) => e.type === 'resumed')!;
    assert.equal(resumed.data.epoch, 1, 'the second pod resumed after epoch 1');
    assert.ok(fake.requests.filter((r) => r.method === 'POST').length === 1, 'one Kubernetes Job for the job');
  });
});
