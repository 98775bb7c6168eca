/**
 * Sharded evaluation on Kubernetes, without a cluster: `harden serve --service evaluation` with
 * HARDEN_RUNNER=kubernetes and 3 shards against a fake Kubernetes API server, and this test playing
 * the Job controller and kubelet — it runs each index of the Indexed Job as a `harden worker`
 * process with the pod's arguments, environment and JOB_COMPLETION_INDEX. Shard 1's first pod is
 * killed mid-run (Kubernetes retries the index); shard 0 runs twice (the retry finds its results).
 * The merged report must equal what `harden eval` computes in one process.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { workerJobName } from '../libs/jobs/kubernetes/index.js';
import type { RobustnessReport } from '../libs/evaluation/index.js';
import { createServiceClient, createTransport } from '../libs/rpc/index.js';
import { EvaluationService } from '../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import { JobWorkerService } from '../libs/rpc/gen/robustness/v1/worker_pb.js';
import { createLogger } from '../libs/telemetry/index.js';
import { startHardenServer, type HardenServer } from '../services/server/index.js';
import { fakeRunnerOptions, runJobPod, startFakeKubeApi, type FakeKubeApi } from './helpers/fake-kube-api.js';

const CLI = new URL('../cli/main.js', import.meta.url).pathname;
const NS = 'ml';
const SHARDS = 3;
const LIMIT = 30;
const EPS = 0.05;

/** Runs index `index` of Indexed Job `name` as a process, as the kubelet would; resolves with its exit code. */
const runPod = (fake: FakeKubeApi, name: string, index: number, onStart?: (child: ChildProcess) => void) =>
  runJobPod(fake, NS, name, { extraEnv: { JOB_COMPLETION_INDEX: String(index) }, ...(onStart ? { onStart } : {}) });

function cli(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, HARDEN_BACKEND: 'wasm', HARDEN_WORKERS: '1' }, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `harden ${args[0]}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('sharded evaluation on Kubernetes (Indexed Job)', () => {
  let fake: FakeKubeApi;
  let server: HardenServer;
  let dir: string;
  let url = '';
  let modelUri = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harden-k8s-eval-'));
    // A model that has learnt something, so that clean and robust accuracy are neither 0 nor chance.
    const trained = cli(['train', '--method', 'standard', '--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '1280', '--epochs', '1', '--batch', '32', '--lr', '0.05', '--schedule', 'constant', '--eval-size', '16', '--out', pathToFileURL(join(dir, 'trained')).href, '--json']);
    modelUri = trained.model_uri as string;
    fake = await startFakeKubeApi();
    server = await startHardenServer({
      port: 0,
      services: ['evaluation'],
      storeUri: pathToFileURL(join(dir, 'store')).href,
      backend: 'wasm',
      dashboard: false,
      shutdownGraceMs: 5000,
      logger: createLogger('serve', { level: 'error' }),
      runner: 'kubernetes',
      evaluationShards: SHARDS,
      evaluationKubernetes: fakeRunnerOptions(fake, NS, () => url, { kind: 'evaluate', settings: { namePrefix: 'harden-eval-' } }),
    });
    url = server.url;
  });
  after(async () => {
    await server?.close();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('evaluates slices in the pods of an Indexed Job and merges them into the one-process report', { timeout: 600_000 }, async () => {
    const client = createServiceClient(EvaluationService, createTransport({ address: url, protocol: 'grpc' }));
    const { evaluation } = await client.evaluate({ modelUri, dataset: 'mnist', limit: LIMIT, suite: 'quick', eps: EPS, seed: 3 });
    const id = evaluation!.evaluationId;
    const name = workerJobName(id, 'harden-eval-');
    const job = await fake.waitForJob(NS, name, 10_000);
    assert.equal(job.spec.completionMode, 'Indexed');
    assert.equal(job.spec.completions, SHARDS);
    assert.equal(job.spec.parallelism, SHARDS);
    assert.equal(job.spec.backoffLimitPerIndex, 2);
    assert.equal(job.spec.maxFailedIndexes, 0);
    assert.equal(job.spec.backoffLimit, undefined, 'the limit is per index');
    assert.equal(job.metadata.labels?.['harden.io/job-kind'], 'evaluate');

    // A worker must name a shard in range.
    const workers = createServiceClient(JobWorkerService, createTransport({ address: url, protocol: 'grpc' }));
    await assert.rejects(workers.startWork({ jobId: id, worker: 'x' }), /shard_index: job .* runs in 3 shards/);
    await assert.rejects(workers.startWork({ jobId: id, worker: 'x', shardIndex: 3 }), /shard_index: 3 is out of range/);
    await assert.rejects(workers.startWork({ jobId: 'no-such-job', worker: 'x', shardIndex: 0 }), (e: Error & { code?: number }) => e.code === 5, 'NOT_FOUND');

    fake.setStatus(NS, name, { active: SHARDS, ready: SHARDS });
    // Shard 1's first pod is killed once it has started attacking; Kubernetes retries the index.
    let first: ChildProcess | undefined;
    const firstExit = runPod(fake, name, 1, (c) => (first = c));
    const deadline = Date.now() + 300_000;
    while (!server.jobs.events(id).some((e) => e.type === 'phase' && e.data.shard === 1 && String(e.data.phase).startsWith('attack'))) {
      assert.ok(Date.now() < deadline, 'shard 1 reports its first attack');
      await new Promise((r) => setTimeout(r, 50));
    }
    first!.kill('SIGKILL');
    assert.equal(await firstExit, 137);
    fake.setStatus(NS, name, { active: SHARDS, ready: SHARDS - 1, failed: 1 });
    while (!server.jobs.events(id).some((e) => e.type === 'k8s' && e.data.phase === 'retrying')) await new Promise((r) => setTimeout(r, 50));

    const codes = await Promise.all([runPod(fake, name, 0), runPod(fake, name, 1), runPod(fake, name, 2)]);
    assert.deepEqual(codes, [0, 0, 0]);
    // Shard 0 again (as after an eviction that came after its write): its results are reused.
    assert.equal(await runPod(fake, name, 0), 0);
    assert.equal(server.jobs.get(id).state, 'RUNNING', 'the evaluation waits for the Job, not for the pods');
    const progress = server.jobs.get(id).progress;
    assert.equal(progress.fraction, 1, 'progress is the mean of the shards');
    fake.setStatus(NS, name, { active: 0, ready: 0, failed: 1, succeeded: SHARDS, completedIndexes: '0-2', conditions: [{ type: 'Complete', status: 'True' }] });

    let state = JobState.RUNNING;
    while (state === JobState.RUNNING || state === JobState.QUEUED) {
      assert.ok(Date.now() < deadline, 'the evaluation ends');
      await new Promise((r) => setTimeout(r, 100));
      state = (await client.getEvaluation({ evaluationId: id })).evaluation!.state;
    }
    const done = (await client.getEvaluation({ evaluationId: id })).evaluation!;
    assert.equal(done.state, JobState.SUCCEEDED, done.error?.message);

    const shardEvents = server.jobs.events(id).filter((e) => e.type === 'shard');
    assert.deepEqual(shardEvents.map((e) => [e.data.index, e.data.reused]).sort(), [[0, false], [0, true], [1, false], [2, false]]);
    assert.deepEqual(shardEvents.filter((e) => !e.data.reused).map((e) => e.data.n as number).reduce((a, b) => a + b, 0), LIMIT);
    const k8s = server.jobs.events(id).filter((e) => e.type === 'k8s');
    assert.ok(k8s.every((e) => e.data.completions === SHARDS), 'k8s events count the shards');

    // The merged report equals one process evaluating all 30 images with the same settings.
    const report = JSON.parse(readFileSync(fileURLToPath(done.reportUri), 'utf8')) as RobustnessReport;
    assert.equal(report.environment.shards, SHARDS);
    assert.equal(report.dataset.n, LIMIT);
    const single = cli(['eval', '--model', modelUri, '--dataset', 'mnist', '--limit', String(LIMIT), '--suite', 'quick', '--eps', String(EPS), '--seed', '3', '--json']);
    assert.ok((single.clean_accuracy as number) > 0.3, `the model learnt something (clean ${single.clean_accuracy})`);
    assert.equal(report.clean_accuracy, single.clean_accuracy);
    assert.equal(report.robust_accuracy, single.robust_accuracy);
    assert.ok(report.robust_accuracy > 0 && report.robust_accuracy < report.clean_accuracy, `attacks bite but not always (robust ${report.robust_accuracy})`);
    assert.deepEqual(
      report.attacks.map((a) => [a.name, a.robust_accuracy]),
      (single.attacks as Array<{ name: string; robust_accuracy: number }>).map((a) => [a.name, a.robust_accuracy]),
    );
    // What a client watching the evaluation sees: the shards and the Job's progress as phases.
    const phases: string[] = [];
    for await (const r of client.watchEvaluation({ evaluationId: id })) {
      const k = r.event!.kind;
      if (k.case === 'phaseStarted') phases.push(`${k.value.phase}: ${k.value.message}`);
      if (k.case === 'warning') assert.ok(!['shard', 'k8s'].includes(k.value.id), `no ${k.value.id} event shown as a warning`);
    }
    assert.ok(phases.some((p) => /^shard done: shard 1 of 3: 10 images, clean [\d.]+, robust [\d.]+$/.test(p)), phases.join('\n'));
    assert.ok(phases.some((p) => /^shard done: shard 0 of 3: .*\(found in the store\)$/.test(p)));
    assert.ok(phases.some((p) => /^k8s retrying: Job harden-eval-.*1 failed, 0\/3 shards done/.test(p)), phases.join('\n'));
    assert.ok(phases.some((p) => /^attack pgd-20: shard 2: 2\/3$/.test(p)), 'shard workers\' phases name their shard');
    const got = await client.getReport({ reportId: id });
    assert.equal(got.report!.robustAccuracy, report.robust_accuracy);
  });
});
