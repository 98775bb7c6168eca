/**
 * The Kubernetes runner: each harden job runs as a batch/v1 Job (`harden worker --job <id>`) that
 * reads and writes the store and reports progress to the training service over gRPC. The training
 * service keeps the job record; this runner creates the Job and follows it to its end.
 *
 * Outcomes of `run` (`KubernetesRunOutcome`):
 *
 * - `succeeded`: the Job's `Complete` condition.
 * - `failed`: its `Failed` condition (retries exhausted — `BackoffLimitExceeded` —, a non-retryable
 *   exit, the deadline), with the last failed pod's termination message.
 * - `cancelled` / `deleted`: the Job disappeared (or was replaced) without this runner asking:
 *   someone ran `kubectl delete job`. That is a cancellation.
 * - `cancelled` / `requested`: the run's signal aborted with a `CancelReason`; the runner deleted
 *   the Job.
 * - `detached`: the signal aborted for any other reason (the service shuts down): the Job keeps
 *   running, and a later `run` of the same job id adopts it instead of starting another.
 *
 * A failed pod is retried by Kubernetes itself (`backoffLimit`); each retry is reported through
 * `onStatus` as `retrying` with the failed pod count. Errors talking to the API server are retried
 * with backoff; only `maxApiFailures` in a row end the run.
 *
 * `createKubernetesExecutor` plugs this into `createJobRunner` as its `execute` function.
 */
import { context } from '@opentelemetry/api';
import { ATTR, createLogger, SPAN, traceContextEnv, withSpan, type Logger } from '../../telemetry/index.js';
import { JobFailure } from '../errors.js';
import { KubernetesApiError, type JobObject, type KubernetesApi, type PodObject } from './api.js';
import { buildWorkerJob, K8S_LABELS, workerJobName, type WorkerJobSettings, type WorkerTemplate } from './job-spec.js';
import { CancelReason, type JobContext, type JobExecutor } from '../runner.js';
import type { JobStore } from '../job-store.js';

/** Where a Job stands, as `onStatus` reports it. */
export interface KubernetesJobStatus {
  phase: 'created' | 'adopted' | 'pending' | 'running' | 'retrying';
  jobName: string;
  namespace: string;
  /** Pods running now, ready, and failed so far. */
  active: number;
  ready: number;
  failed: number;
  /** Allowed pod failures before the Job fails (per index for Indexed Jobs). */
  backoffLimit: number;
  /** Indexed Jobs: indexes (shards) done, of `completions`. */
  succeeded?: number;
  completions?: number;
  /** For `retrying`: why the last pod failed. */
  message?: string;
}

export type KubernetesRunOutcome =
  | { state: 'succeeded'; jobName: string }
  | { state: 'failed'; jobName: string; reason: string; message: string; failedPods: number }
  | { state: 'cancelled'; jobName: string; by: 'deleted' | 'requested' }
  | { state: 'detached'; jobName: string };

export interface KubernetesRunnerOptions {
  api: KubernetesApi;
  /** Namespace the Jobs are created in. */
  namespace: string;
  template: WorkerTemplate;
  settings?: WorkerJobSettings;
  /** Job kind label (the harden job kind). @default 'harden' */
  kind?: string;
  /** Time between status reads, ms. @default 2000 */
  pollIntervalMs?: number;
  /** API failures in a row (server unreachable, 5xx) before a run gives up. @default 30 */
  maxApiFailures?: number;
  /** @default createLogger('k8s-runner') */
  logger?: Logger;
  /**
   * The credential of `jobId`'s worker pods (a per-job worker token, libs/rpc/auth.ts), given to
   * them as HARDEN_WORKER_TOKEN. @default none (a server without authentication)
   */
  workerToken?: (jobId: string) => string;
}

export interface RunOptions {
  /** Abort with a `CancelReason` to delete the Job; with anything else to stop following it. */
  signal?: AbortSignal;
  onStatus?: (status: KubernetesJobStatus) => void;
  /** Extra environment for the worker (the trace context is added by the runner). */
  env?: Record<string, string>;
  /** Runs an Indexed Job of this many pods (shards) instead of one pod. */
  shards?: number;
}

export interface KubernetesRunner {
  readonly namespace: string;
  /** The Job this runner would create for `jobId` (for inspection and tests). */
  manifest(jobId: string, env?: Record<string, string>, shards?: number): JobObject;
  /** The name of `jobId`'s Kubernetes Job. */
  jobName(jobId: string): string;
  /** Creates (or adopts) the Job for `jobId` and follows it to an outcome. */
  run(jobId: string, options?: RunOptions): Promise<KubernetesRunOutcome>;
}

function condition(job: JobObject, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** Why the most recent failed pod failed: its termination message (the log tail) or its reason. */
function lastFailure(pods: PodObject[]): string | undefined {
  const failed = pods
    .filter((p) => p.status?.phase === 'Failed')
    .sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')));
  for (const pod of failed) {
    const cs = pod.status?.containerStatuses?.find((c) => c.name === 'worker') ?? pod.status?.containerStatuses?.[0];
    const t = cs?.state?.terminated ?? cs?.lastState?.terminated;
    const text = t?.message?.trim() || [t?.reason, t?.exitCode !== undefined ? `exit code ${t.exitCode}` : undefined].filter(Boolean).join(', ') || pod.status?.message || pod.status?.reason;
    if (text) return `${pod.metadata.name}: ${text.split('\n').slice(-5).join('\n')}`;
  }
  return undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The environment variable holding a worker pod's per-job token. */
export const WORKER_TOKEN_ENV = 'HARDEN_WORKER_TOKEN';

export function createKubernetesRunner(options: KubernetesRunnerOptions): KubernetesRunner {
  const { api, namespace, template } = options;
  const kind = options.kind ?? 'harden';
  const pollMs = options.pollIntervalMs ?? 2000;
  const maxApiFailures = options.maxApiFailures ?? 30;
  const log = options.logger ?? createLogger('k8s-runner');
  const backoffLimit = options.settings?.backoffLimit ?? 3;
  const manifest = (jobId: string, env?: Record<string, string>, shards?: number) => buildWorkerJob({ jobId, kind, namespace, template, settings: options.settings, env, ...(shards ? { shards } : {}) });
  const jobName = (jobId: string) => workerJobName(jobId, options.settings?.namePrefix);

  /** Runs `call`, retrying transient API failures with capped exponential backoff. */
  async function retrying<T>(what: string, call: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    for (let failures = 0; ; ) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof KubernetesApiError) || !error.transient || ++failures >= maxApiFailures || signal?.aborted) throw error;
        log.warn('Kubernetes API call failed; retrying', { what, failures, error: error.message });
        await sleep(Math.min(pollMs * 2 ** Math.min(failures, 5), 30_000), signal);
      }
    }
  }

  async function createOrAdopt(jobId: string, job: JobObject, signal: AbortSignal | undefined): Promise<{ job: JobObject; adopted: boolean }> {
    const name = job.metadata.name!;
    try {
      return { job: await retrying('create Job', () => api.createJob(namespace, job), signal), adopted: false };
    } catch (error) {
      if (!(error instanceof KubernetesApiError) || error.status !== 409) throw error;
    }
    const existing = await retrying('read Job', () => api.readJob(namespace, name), signal);
    if (!existing) return createOrAdopt(jobId, job, signal); // deleted in between: create it again
    const owner = existing.metadata.annotations?.[K8S_LABELS.JOB_ID];
    if (owner !== jobId) throw new KubernetesApiError(409, `Job ${namespace}/${name} exists but belongs to ${owner ? `harden job ${owner}` : 'something else'}`, { reason: 'AlreadyExists' });
    return { job: existing, adopted: true };
  }

  return {
    namespace,
    manifest,
    jobName,
    async run(jobId, runOptions = {}) {
      const { signal, onStatus } = runOptions;
      const name = jobName(jobId);
      const env = { ...traceContextEnv(context.active()), ...runOptions.env, ...(options.workerToken ? { [WORKER_TOKEN_ENV]: options.workerToken(jobId) } : {}) };
      const { job: created, adopted } = await createOrAdopt(jobId, manifest(jobId, env, runOptions.shards), signal);
      const uid = created.metadata.uid;
      log.info(adopted ? 'following existing Kubernetes Job' : 'created Kubernetes Job', { job_id: jobId, k8s_job: name, namespace });
      const completions = created.spec.completionMode === 'Indexed' ? created.spec.completions : undefined;
      const base = { jobName: name, namespace, backoffLimit, ...(completions ? { completions } : {}) };
      onStatus?.({ ...base, phase: adopted ? 'adopted' : 'created', active: 0, ready: 0, failed: 0 });
      let last = '';
      let failedSeen = created.status?.failed ?? 0;
      let apiFailures = 0;
      let job: JobObject | undefined = created;
      for (let first = true; ; first = false) {
        if (!first) await sleep(pollMs, signal);
        if (signal?.aborted) {
          if (signal.reason instanceof CancelReason) {
            await retrying('delete Job', () => api.deleteJob(namespace, name), undefined);
            log.info('deleted Kubernetes Job on cancel', { job_id: jobId, k8s_job: name });
            return { state: 'cancelled', jobName: name, by: 'requested' };
          }
          log.info('stopped following Kubernetes Job; it keeps running', { job_id: jobId, k8s_job: name });
          return { state: 'detached', jobName: name };
        }
        if (!first) {
          try {
            job = await api.readJob(namespace, name);
            apiFailures = 0;
          } catch (error) {
            if (!(error instanceof KubernetesApiError) || !error.transient || ++apiFailures >= maxApiFailures) throw error;
            log.warn('reading the Kubernetes Job failed; will retry', { job_id: jobId, k8s_job: name, failures: apiFailures, error: error.message });
            continue;
          }
        }
        if (!job || (uid && job.metadata.uid !== uid) || job.metadata.deletionTimestamp) {
          log.info('Kubernetes Job was deleted: the job is cancelled', { job_id: jobId, k8s_job: name });
          return { state: 'cancelled', jobName: name, by: 'deleted' };
        }
        if (condition(job, 'Complete') || condition(job, 'SuccessCriteriaMet')) return { state: 'succeeded', jobName: name };
        const failedCond = condition(job, 'Failed');
        const failed = job.status?.failed ?? 0;
        if (failedCond) {
          const pods = await api.listPods(namespace, `job-name=${name}`).catch(() => [] as PodObject[]);
          const why = lastFailure(pods);
          return {
            state: 'failed',
            jobName: name,
            reason: failedCond.reason ?? 'Failed',
            message: [failedCond.message, why].filter(Boolean).join(': ') || 'the Kubernetes Job failed',
            failedPods: failed,
          };
        }
        const active = job.status?.active ?? 0;
        const ready = job.status?.ready ?? 0;
        const succeeded = job.status?.succeeded ?? 0;
        let phase: KubernetesJobStatus['phase'] = ready > 0 ? 'running' : 'pending';
        let message: string | undefined;
        if (failed > failedSeen) {
          failedSeen = failed;
          phase = 'retrying';
          message = lastFailure(await api.listPods(namespace, `job-name=${name}`).catch(() => [] as PodObject[]));
          log.warn('worker pod failed; Kubernetes retries it', { job_id: jobId, k8s_job: name, failed, backoff_limit: backoffLimit, reason: message });
        }
        const key = `${phase}/${active}/${ready}/${failed}/${succeeded}`;
        if (key !== last) {
          last = key;
          onStatus?.({ ...base, phase, active, ready, failed, ...(completions ? { succeeded } : {}), ...(message ? { message } : {}) });
        }
      }
    },
  };
}

export interface KubernetesExecutorOptions {
  runner: KubernetesRunner;
  /** The job store: a Job deleted behind the service's back marks its job cancel-requested, so it ends CANCELLED. */
  store: Pick<JobStore, 'markCancelRequested'>;
  /** Worker environment per job (e.g. where to report). */
  env?: (context: JobContext<unknown>) => Record<string, string>;
  /** Runs the job as an Indexed Job of this many pods (shards). */
  shards?: number;
}

/**
 * Runs job `ctx` as a Kubernetes Job and resolves when the Job succeeded; otherwise throws what the
 * job runner expects: a `JobFailure` `worker-failed` (retries spent), the signal's reason (cancel:
 * the Job was deleted; shutdown: the Job keeps running and is adopted at the next start), or — for
 * a Job deleted behind the service's back — a `JobFailure` `cancelled` after marking the job
 * cancel-requested, so it ends CANCELLED. Progress: `k8s` events (`{ phase, job_name, active,
 * ready, failed, message? }`) inside a `harden.k8s_job` span, whose context reaches the worker as
 * `TRACEPARENT`.
 */
export async function runOnKubernetes<Spec>(ctx: JobContext<Spec>, options: KubernetesExecutorOptions): Promise<void> {
  const { runner, store } = options;
  const id = ctx.job.id;
  const outcome = await withSpan(SPAN.K8S_JOB, { [ATTR.JOB_ID]: id, [ATTR.RUNNER]: 'kubernetes', [ATTR.K8S_JOB]: runner.jobName(id), [ATTR.K8S_NAMESPACE]: runner.namespace }, async (span) => {
    const result = await runner.run(id, {
      signal: ctx.signal,
      env: options.env?.(ctx as JobContext<unknown>),
      ...(options.shards ? { shards: options.shards } : {}),
      onStatus: (s) => {
        ctx.emit('k8s', {
          phase: s.phase,
          job_name: s.jobName,
          namespace: s.namespace,
          active: s.active,
          ready: s.ready,
          failed: s.failed,
          backoff_limit: s.backoffLimit,
          ...(s.completions ? { succeeded: s.succeeded ?? 0, completions: s.completions } : {}),
          ...(s.message ? { message: s.message } : {}),
        });
        if (s.phase === 'pending' || s.phase === 'retrying') ctx.progress({ phase: s.phase === 'pending' ? 'waiting for a worker pod' : 'retrying' });
      },
    });
    span.setAttribute('harden.k8s_outcome', result.state);
    return result;
  });
  switch (outcome.state) {
    case 'succeeded':
      return;
    case 'failed':
      throw new JobFailure('worker-failed', `Kubernetes Job ${outcome.jobName} failed (${outcome.reason}) after ${outcome.failedPods} failed pod(s): ${outcome.message}`);
    case 'cancelled':
      if (outcome.by === 'deleted') {
        store.markCancelRequested(id);
        throw new JobFailure('cancelled', `Kubernetes Job ${outcome.jobName} was deleted`);
      }
      throw ctx.signal.reason;
    case 'detached':
      throw ctx.signal.reason;
  }
}

/**
 * The `execute` function for `createJobRunner` that runs each whole job as a Kubernetes Job (see
 * `runOnKubernetes`); SUCCEEDED outputs are whatever the worker reported meanwhile.
 */
export function createKubernetesExecutor<Spec>(options: KubernetesExecutorOptions): JobExecutor<Spec> {
  return async (ctx) => {
    await runOnKubernetes(ctx, options);
    return {};
  };
}
