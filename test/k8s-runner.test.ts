/**
 * The Kubernetes runner against a fake API server speaking the Job API's JSON: the Job it creates
 * (schema-valid, the worker command, trace context, GPU, retry policy), how it follows the Job's
 * status, failed pods retried up to the backoff limit, a deleted Job as cancellation, cancel and
 * shutdown through the job runner, adoption after a restart, and API errors retried.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { CancelReason, createJobRunner, createJobStore, ShutdownReason, type JobRecord } from '../libs/jobs/index.js';
import { createRestKubernetesApi, loadClientNodeKubernetesApi, type JobObject, type KubernetesApi } from '../libs/jobs/kubernetes/index.js';
import { kubernetesRunnerOptionsFromEnv } from '../libs/jobs/kubernetes/index.js';
import { workerJobName } from '../libs/jobs/kubernetes/index.js';
import { createKubernetesExecutor, createKubernetesRunner, type KubernetesJobStatus, type KubernetesRunnerOptions } from '../libs/jobs/kubernetes/index.js';
import { createLogger } from '../libs/telemetry/index.js';
import { withSpan } from '../libs/telemetry/spans.js';
import { startTestTelemetry } from '../libs/telemetry/testing.fixture.js';
import { startFakeKubeApi, type FakeKubeApi } from './helpers/fake-kube-api.js';

const NS = 'ml';
const quiet = createLogger('k8s-runner', { write: () => {} });

let fake: FakeKubeApi;
let api: KubernetesApi;
const telemetry = startTestTelemetry();

before(async () => {
  fake = await startFakeKubeApi();
  api = createRestKubernetesApi({ server: fake.url, token: 'secret-token' });
});
after(async () => {
  await fake.close();
  await telemetry.shutdown();
});

function runnerOptions(over: Partial<KubernetesRunnerOptions> = {}): KubernetesRunnerOptions {
  return {
    api,
    namespace: NS,
    template: { image: 'registry.example/harden-gpu:0.1.0', extraArgs: ['--server', 'http://harden-training:50051'], gpus: 1, envFrom: [{ configMapRef: { name: 'harden-config' } }] },
    settings: { backoffLimit: 2 },
    pollIntervalMs: 10,
    logger: quiet,
    ...over,
  };
}

const until = async (predicate: () => boolean, what: string, timeoutMs = 5000) => {
  const t0 = Date.now();
  while (!predicate()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const failedPod = (job: string, n: number, message: string) => ({
  metadata: { name: `${job}-${n}`, labels: { 'job-name': job }, creationTimestamp: new Date(Date.now() + n * 1000).toISOString() },
  spec: { containers: [{ name: 'worker' }] },
  status: { phase: 'Failed', containerStatuses: [{ name: 'worker', state: { terminated: { exitCode: 1, reason: 'Error', message } } }] },
});

describe('Kubernetes runner', () => {
  it('creates the expected batch/v1 Job and follows it to success', async () => {
    const runner = createKubernetesRunner(runnerOptions());
    const statuses: KubernetesJobStatus[] = [];
    const id = 'a1b2c3d4-0000-4000-8000-000000000001';
    const name = workerJobName(id);
    const done = withSpan('harden.job', {}, () => runner.run(id, { onStatus: (s) => statuses.push(s) }));
    const job = await fake.waitForJob(NS, name);
    new Job(job as never).validate();
    const post = fake.requests.find((r) => r.method === 'POST')!;
    assert.equal(post.path, `/apis/batch/v1/namespaces/${NS}/jobs`);
    assert.equal(post.authorization, 'Bearer secret-token');
    const pod = job.spec.template.spec;
    const worker = pod.containers[0];
    assert.deepEqual(worker.args, ['worker', '--job', id, '--server', 'http://harden-training:50051']);
    assert.equal(worker.image, 'registry.example/harden-gpu:0.1.0');
    assert.equal(worker.resources?.limits?.['nvidia.com/gpu'], '1');
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(job.spec.backoffLimit, 2);
    assert.equal(job.metadata.annotations?.['harden.io/job-id'], id);
    assert.deepEqual(worker.envFrom, [{ configMapRef: { name: 'harden-config' } }]);
    const env = Object.fromEntries((worker.env ?? []).map((e) => [e.name, e.value]));
    const jobSpan = () => telemetry.spans().find((s) => s.name === 'harden.job');
    assert.match(env.TRACEPARENT ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'the worker continues the trace');
    assert.equal(env.HARDEN_JOB_ID, id);
    assert.ok(job.spec.podFailurePolicy?.rules.some((r) => r.action === 'FailJob'), 'exit code 2 is not retried');

    fake.setStatus(NS, name, { active: 1, ready: 0 });
    await until(() => statuses.some((s) => s.phase === 'pending'), 'pending');
    fake.setStatus(NS, name, { active: 1, ready: 1 });
    await until(() => statuses.some((s) => s.phase === 'running'), 'running');
    fake.setStatus(NS, name, { active: 0, ready: 0, succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    const outcome = await done;
    assert.deepEqual(outcome, { state: 'succeeded', jobName: name });
    assert.deepEqual(statuses.map((s) => s.phase), ['created', 'pending', 'running']);
    assert.equal((env.TRACEPARENT ?? "").split('-')[1], jobSpan()?.spanContext().traceId);
  });

  it('reports failed pods as retries and fails with the last pod’s message once the backoff limit is spent', async () => {
    const runner = createKubernetesRunner(runnerOptions());
    const statuses: KubernetesJobStatus[] = [];
    const id = 'job-fails';
    const name = workerJobName(id);
    const done = runner.run(id, { onStatus: (s) => statuses.push(s) });
    await fake.waitForJob(NS, name);
    fake.addPod(NS, failedPod(name, 1, 'harden: out of memory in epoch 3'));
    fake.setStatus(NS, name, { active: 1, failed: 1 });
    await until(() => statuses.some((s) => s.phase === 'retrying'), 'retrying');
    const retry = statuses.find((s) => s.phase === 'retrying')!;
    assert.equal(retry.failed, 1);
    assert.equal(retry.backoffLimit, 2);
    assert.match(retry.message ?? '', /out of memory in epoch 3/);
    fake.addPod(NS, failedPod(name, 2, 'harden: store unreachable'));
    fake.addPod(NS, failedPod(name, 3, 'harden: store unreachable again'));
    fake.setStatus(NS, name, { active: 0, failed: 3, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] });
    const outcome = await done;
    assert.equal(outcome.state, 'failed');
    if (outcome.state !== 'failed') return;
    assert.equal(outcome.reason, 'BackoffLimitExceeded');
    assert.equal(outcome.failedPods, 3);
    assert.match(outcome.message, /backoff limit.*store unreachable again/s);
  });

  it('takes a deleted Job as cancellation', async () => {
    const runner = createKubernetesRunner(runnerOptions());
    const name = workerJobName('job-deleted');
    const done = runner.run('job-deleted');
    await fake.waitForJob(NS, name);
    fake.setStatus(NS, name, { active: 1, ready: 1 });
    fake.deleteJob(NS, name);
    assert.deepEqual(await done, { state: 'cancelled', jobName: name, by: 'deleted' });
  });

  it('deletes the Job on a cancel request, and leaves it running on shutdown', async () => {
    const runner = createKubernetesRunner(runnerOptions());
    const cancel = new AbortController();
    const name = workerJobName('job-cancel');
    const done = runner.run('job-cancel', { signal: cancel.signal });
    await fake.waitForJob(NS, name);
    cancel.abort(new CancelReason('job-cancel'));
    assert.deepEqual(await done, { state: 'cancelled', jobName: name, by: 'requested' });
    assert.ok(fake.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(`/jobs/${name}`) && (r.body as { propagationPolicy?: string }).propagationPolicy === 'Background'));
    assert.equal(fake.jobs.has(`${NS}/${name}`), false);

    const stop = new AbortController();
    const kept = workerJobName('job-detach');
    const first = runner.run('job-detach', { signal: stop.signal });
    const created = await fake.waitForJob(NS, kept);
    stop.abort(new ShutdownReason());
    assert.deepEqual(await first, { state: 'detached', jobName: kept });
    assert.equal(fake.jobs.has(`${NS}/${kept}`), true, 'the Job outlives the service');
    // The restarted service adopts the Job instead of creating another, and sees it finish.
    const statuses: KubernetesJobStatus[] = [];
    const second = runner.run('job-detach', { onStatus: (s) => statuses.push(s) });
    await until(() => statuses.length > 0, 'adopted');
    assert.equal(statuses[0].phase, 'adopted');
    assert.equal(fake.jobs.get(`${NS}/${kept}`)?.metadata.uid, created.metadata.uid);
    fake.setStatus(NS, kept, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    assert.equal((await second).state, 'succeeded');
  });

  it('refuses to adopt a Job of that name made for something else', async () => {
    const runner = createKubernetesRunner(runnerOptions());
    const name = workerJobName('job-foreign');
    fake.jobs.set(`${NS}/${name}`, { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: NS, uid: 'x', annotations: {} }, spec: { template: { spec: { containers: [] } } } } as JobObject);
    await assert.rejects(runner.run('job-foreign'), /exists but belongs to something else/);
  });

  it('retries API server errors', async () => {
    const runner = createKubernetesRunner(runnerOptions());
    const name = workerJobName('job-flaky');
    fake.failNext(2);
    const done = runner.run('job-flaky');
    await fake.waitForJob(NS, name);
    fake.failNext(3);
    fake.setStatus(NS, name, { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    assert.equal((await done).state, 'succeeded');
  });
});

describe('Kubernetes executor in the job runner', () => {
  type Spec = { epochs: number };
  async function setup() {
    const store = createJobStore({ path: ':memory:' });
    const runner = createJobRunner<Spec>({ store, kind: 'harden', execute: createKubernetesExecutor<Spec>({ runner: createKubernetesRunner(runnerOptions()), store }) });
    runner.start();
    return { store, runner };
  }
  const settled = async (store: ReturnType<typeof createJobStore>, id: string): Promise<JobRecord> => {
    await until(() => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(store.get(id).state), `job ${id} to end`);
    return store.get(id);
  };

  it('ends the job SUCCEEDED, FAILED (worker-failed) or CANCELLED (deleted Job, or CancelJob)', async () => {
    const { store, runner } = await setup();
    const ok = runner.submit({ spec: { epochs: 1 }, id: 'exec-ok' }).job.id;
    const bad = runner.submit({ spec: { epochs: 1 }, id: 'exec-bad' }).job.id;
    await fake.waitForJob(NS, workerJobName(ok));
    fake.setStatus(NS, workerJobName(ok), { active: 1, ready: 1 });
    await until(() => store.events(ok).some((e) => e.type === 'k8s' && e.data.phase === 'running'), 'a k8s running event');
    fake.setStatus(NS, workerJobName(ok), { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] });
    assert.equal((await settled(store, ok)).state, 'SUCCEEDED');

    await fake.waitForJob(NS, workerJobName(bad));
    fake.setStatus(NS, workerJobName(bad), { failed: 3, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] });
    const failed = await settled(store, bad);
    assert.equal(failed.state, 'FAILED');
    assert.equal(failed.error?.code, 'worker-failed');

    const gone = runner.submit({ spec: { epochs: 1 }, id: 'exec-gone' }).job.id;
    await fake.waitForJob(NS, workerJobName(gone));
    fake.deleteJob(NS, workerJobName(gone));
    assert.equal((await settled(store, gone)).state, 'CANCELLED');

    const cancelled = runner.submit({ spec: { epochs: 1 }, id: 'exec-cancel' }).job.id;
    await fake.waitForJob(NS, workerJobName(cancelled));
    runner.cancel(cancelled);
    assert.equal((await settled(store, cancelled)).state, 'CANCELLED');
    assert.equal(fake.jobs.has(`${NS}/${workerJobName(cancelled)}`), false, 'CancelJob deleted the Kubernetes Job');
    await runner.shutdown({ graceMs: 1000 });
  });
});

describe('kubernetesRunnerOptionsFromEnv', () => {
  it('inherits image, config and GPU placement from the training pod', async () => {
    fake.addPod(NS, {
      metadata: { name: 'harden-training-0', labels: {} },
      spec: {
        containers: [{ name: 'harden', image: 'registry.example/harden-gpu:0.1.0', envFrom: [{ configMapRef: { name: 'harden-config' } }], env: [{ name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'harden-s3', key: 'access-key-id' } } }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }],
        nodeSelector: { 'nvidia.com/gpu.present': 'true' },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      },
    });
    const options = await kubernetesRunnerOptionsFromEnv({ POD_NAME: 'harden-training-0', POD_NAMESPACE: NS, HARDEN_K8S_WORKER_GPUS: '1', HARDEN_TRAINING_URL: 'http://harden-training.ml:50051' }, api);
    assert.equal(options.namespace, NS);
    assert.equal(options.template.image, 'registry.example/harden-gpu:0.1.0');
    assert.equal(options.template.gpus, 1);
    assert.deepEqual(options.template.nodeSelector, { 'nvidia.com/gpu.present': 'true' });
    assert.deepEqual(options.template.extraArgs, ['--server', 'http://harden-training.ml:50051']);
    assert.deepEqual(options.template.env?.map((e) => e.name), ['AWS_ACCESS_KEY_ID'], 'secret refs kept, downward-API entries left to the Job');
    const job = createKubernetesRunner(options).manifest('x1');
    new Job(job as never).validate();
    await assert.rejects(kubernetesRunnerOptionsFromEnv({ HARDEN_K8S_WORKER_GPUS: 'two', HARDEN_K8S_WORKER_IMAGE: 'i' }, api), /HARDEN_K8S_WORKER_GPUS/);
  });
});

describe('@kubernetes/client-node adapter', () => {
  it('speaks the same API through a kubeconfig', async () => {
    const kubeconfig = `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "${fake.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: tok}}]\ncontexts: [{name: c, context: {cluster: fake, user: u}}]\ncurrent-context: c\n`;
    // The fake API server speaks plain HTTP, which client-node accepts only with TLS verification off.
    const client: KubernetesApi = await loadClientNodeKubernetesApi({ kubeconfigYaml: kubeconfig });
    const runner = createKubernetesRunner(runnerOptions({ api: client }));
    const name = workerJobName('job-client-node');
    const done = runner.run('job-client-node');
    await fake.waitForJob(NS, name);
    fake.deleteJob(NS, name);
    assert.equal((await done).state, 'cancelled');
  });
});
