/**
 * `harden worker --job ID --server URL`: computes one job for the service that owns it, in a pod of
 * the Kubernetes Job the Kubernetes runner created for it (libs/jobs/kubernetes). The service
 * keeps the job record; the worker asks it what to compute (StartWork), streams progress events back
 * (ReportProgress, which also says when the job was cancelled) and reports what it made
 * (FinishWork). Two kinds of job:
 *
 * - `harden` (the training service): trains with checkpoints in the service's artifact store,
 *   resuming from the latest one, so a retried pod continues; FinishWork carries the trained
 *   model. The evaluation then runs in the services as usual.
 * - `evaluate` (the evaluation service, HARDEN_EVAL_SHARDS): a pod of an Indexed Job evaluates its
 *   slice of the test set (shard `--shard`, else `JOB_COMPLETION_INDEX`, which Kubernetes sets) and
 *   writes the slice's per-sample results to the store; the service merges the slices.
 *
 * Exit codes, which the Job's podFailurePolicy and backoffLimit act on: 0 done (or the job was
 * cancelled: nothing to retry), 1 failed (Kubernetes starts another pod, which resumes), 2 bad input
 * (not retried), 143 stopped by SIGTERM (eviction: the next pod resumes).
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Code, ConnectError } from '@connectrpc/connect';
import { resolveBackendChoice, type BackendChoice } from '../../libs/engine/index.js';
import { EVALUATE_SHARD_TASK, relayEvaluation, type EvaluationEvent, type EvaluationJobSpec, type ShardTaskPayload, type ShardTaskResult } from '../../libs/evaluation/index.js';
import { runWorkerTask, type JobProgress } from '../../libs/jobs/index.js';
import { createServiceClient, createTransport } from '../../libs/rpc/index.js';
import { JobWorkerService, type StartWorkResponse } from '../../libs/rpc/gen/robustness/v1/worker_pb.js';
import { ATTR, contextFromEnv, createLogger, createTracingInterceptor, shutdownTelemetry, startTelemetry, traceContextCarrier, withSpan, type Logger } from '../../libs/telemetry/index.js';
import { HARDEN_TASK, relayTraining, type HardenJobSpec, type HardenTaskPayload, type HardenTaskResult, type TrainingEvent } from '../../libs/training/index.js';
import { CliError } from '../cli-error.js';
import { positive } from '../flags.js';

export const workerHelp = `harden worker --job ID --server URL [--shard I] [--backend B] [--report-every S]
  Computes one job for the service at --server (default $HARDEN_TRAINING_URL): what the Kubernetes
  runner (HARDEN_RUNNER=kubernetes) runs in each job's pod. A Harden job trains with checkpoints in
  the service's store (resuming from the latest) and reports the trained model; a sharded
  evaluation (HARDEN_EVAL_SHARDS) evaluates slice --shard (default $JOB_COMPLETION_INDEX) and writes
  its results to the store. Progress goes to the service every --report-every seconds (default 2).
  Exit 0 done or cancelled, 1 failed (retried), 2 bad input (not retried), 143 on SIGTERM (resumed
  by the next pod).`;

/** Events and progress waiting to be reported. */
interface Pending {
  events: Array<{ type: string; dataJson: string }>;
  progress: Record<string, unknown>;
}

type WorkerClient = ReturnType<typeof createServiceClient<typeof JobWorkerService>>;

/** What the worker computes for a job, once StartWork has said what the job is. */
interface WorkerRun {
  jobId: string;
  start: StartWorkResponse;
  backend: BackendChoice;
  client: WorkerClient;
  log: Logger;
  workerName: string;
  reportMs: number;
  /** Aborts on SIGTERM/SIGINT (reason carries `exitCode`). */
  stop: AbortSignal;
  call<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shardFlag(value: string | undefined): number | undefined {
  const raw = value ?? process.env.JOB_COMPLETION_INDEX;
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`${value !== undefined ? '--shard' : 'JOB_COMPLETION_INDEX'} must be an integer ≥ 0; got "${raw}"`);
  return n;
}

export async function workerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { job: { type: 'string' }, server: { type: 'string' }, backend: { type: 'string' }, 'report-every': { type: 'string' }, shard: { type: 'string' } },
    strict: true,
  });
  const jobId = values.job ?? process.env.HARDEN_JOB_ID;
  if (!jobId) throw new CliError('--job ID is required (the job to compute)');
  const server = values.server ?? process.env.HARDEN_TRAINING_URL;
  if (!server) throw new CliError('--server URL is required (the service that owns the job, e.g. http://harden-training:50051)');
  const backend = resolveBackendChoice(values.backend);
  const reportMs = (positive('--report-every', values['report-every']) ?? 2) * 1000;
  const shardIndex = shardFlag(values.shard);
  const workerName = process.env.POD_NAME ?? hostname();

  startTelemetry({ serviceName: 'harden-worker' });
  const log = createLogger('worker').child({ job_id: jobId, worker: workerName, ...(shardIndex !== undefined ? { shard: shardIndex } : {}) });
  // The Kubernetes runner gives each pod its job's worker token; HARDEN_CA_FILE trusts a private CA.
  const token = process.env.HARDEN_WORKER_TOKEN?.trim() || process.env.HARDEN_TOKEN?.trim() || undefined;
  const caFile = process.env.HARDEN_CA_FILE?.trim() || undefined;
  const client = createServiceClient(
    JobWorkerService,
    createTransport({
      address: server,
      protocol: 'grpc',
      defaultTimeoutMs: 30_000,
      ...(token ? { token } : {}),
      ...(caFile ? { tls: { caFile } } : {}),
      interceptors: [createTracingInterceptor({ side: 'client' })],
    }),
  );
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log.warn(`${signal}: stopping; the next pod resumes`);
    stop.abort(Object.assign(new Error(`stopped by ${signal}`), { name: 'AbortError', exitCode: 143 }));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  /** Retries calls the service cannot answer right now (it may be restarting). */
  async function call<T>(what: string, fn: () => Promise<T>, attempts = 30): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (error) {
        const code = ConnectError.from(error).code;
        if (stop.signal.aborted || i >= attempts || (code !== Code.Unavailable && code !== Code.DeadlineExceeded)) throw error;
        log.warn(`${what}: the service is unavailable; retrying`, { attempt: i });
        await sleep(Math.min(10_000, 250 * 2 ** i));
      }
    }
  }

  try {
    // The Kubernetes runner hands its span to the pod as TRACEPARENT: this run joins the job's trace.
    return await withSpan('harden.worker', { [ATTR.JOB_ID]: jobId, 'k8s.pod.name': workerName, [ATTR.BACKEND]: backend }, async () => {
      let start: StartWorkResponse;
      try {
        start = await call('StartWork', () => client.startWork({ jobId, worker: workerName, ...(shardIndex !== undefined ? { shardIndex } : {}) }));
      } catch (error) {
        const e = ConnectError.from(error);
        if (e.code === Code.FailedPrecondition) {
          log.info('the job is not running any more; nothing to do', { reason: e.rawMessage });
          return 0;
        }
        if (e.code === Code.NotFound || e.code === Code.InvalidArgument) throw new CliError(`job ${jobId}: ${e.rawMessage}`, 2, { cause: error });
        throw error;
      }
      const run: WorkerRun = { jobId, start, backend, client, log, workerName, reportMs, stop: stop.signal, call };
      if (start.kind === 'harden') return train(run);
      if (start.kind === 'evaluate') return evaluateShard(run);
      throw new CliError(`job ${jobId} is of kind "${start.kind}", which harden worker does not compute`, 2);
    }, { parent: contextFromEnv() });
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await shutdownTelemetry();
  }
}

/** The outcome of a reported task: its result, or the exit code to end with (cancelled, stopped). */
type Reported<R> = { result: R; emit: (type: string, data: Record<string, unknown>) => void; flush: () => Promise<void> } | { exitCode: number };

/**
 * Runs `task` in a worker thread, relaying its events through `onEvent` to the service every
 * `reportMs` (and at once for events `urgent` says so of). Stops it when the service says the job
 * was cancelled (exit 0) or on SIGTERM (143); a failure is reported as a warning event and thrown
 * (bad input as exit code 2).
 */
async function runReported<P, R>(
  run: WorkerRun,
  task: { module: string; fn: string; payload: P },
  onEvent: (event: unknown, sink: { emit: (type: string, data: Record<string, unknown>) => void; progress: (p: JobProgress) => void }) => boolean,
): Promise<Reported<R>> {
  const { client, jobId, log } = run;
  const shardIndex = run.start.shard?.index;
  const controller = new AbortController();
  run.stop.addEventListener('abort', () => controller.abort(run.stop.reason), { once: true });
  let cancelled = false;
  let pending: Pending = { events: [], progress: {} };
  const sink = {
    emit: (type: string, data: Record<string, unknown>) => void pending.events.push({ type, dataJson: JSON.stringify(data) }),
    progress: (p: JobProgress) => void Object.assign(pending.progress, p),
  };
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    flushing = flushing.then(async () => {
      if (pending.events.length === 0 && Object.keys(pending.progress).length === 0) return;
      const batch = pending;
      pending = { events: [], progress: {} };
      try {
        const r = await client.reportProgress({ jobId, events: batch.events, progressJson: JSON.stringify(batch.progress), ...(shardIndex !== undefined ? { shardIndex } : {}) });
        if (r.cancelRequested && !cancelled) {
          cancelled = true;
          log.info('the job was cancelled; stopping');
          controller.abort(Object.assign(new Error('cancelled'), { name: 'AbortError' }));
        }
      } catch (error) {
        // Not fatal: keep the events for the next report (the service may be restarting).
        pending = { events: [...batch.events, ...pending.events].slice(-5000), progress: { ...batch.progress, ...pending.progress } };
        log.warn('reporting progress failed; will retry', { error: ConnectError.from(error).rawMessage });
      }
    });
    return flushing;
  };
  const timer = setInterval(() => void flush(), run.reportMs);
  try {
    const result = await runWorkerTask<P, R>({
      ...task,
      signal: controller.signal,
      onEvent: (e) => {
        if (onEvent(e, sink)) void flush();
      },
    });
    return { result, emit: sink.emit, flush };
  } catch (error) {
    if (cancelled) return { exitCode: 0 };
    if (run.stop.aborted) return { exitCode: (run.stop.reason as { exitCode?: number }).exitCode ?? 143 };
    const message = error instanceof Error ? error.message : String(error);
    sink.emit('warning', { id: 'worker', message: `worker ${run.workerName} failed: ${message}` });
    await flush();
    // Bad input (a JobFailure or a library error coming back from the thread): retrying cannot help.
    if ((error as { code?: string }).code === 'invalid-argument') throw new CliError(message, 2, { cause: error });
    throw error;
  } finally {
    clearInterval(timer);
  }
}

async function train(run: WorkerRun): Promise<number> {
  const spec = JSON.parse(run.start.specJson) as HardenJobSpec;
  run.log.info('training', { attempt: run.start.attempt, store_uri: run.start.storeUri, method: spec.method, epochs: spec.epochs });
  const out = await runReported<HardenTaskPayload, HardenTaskResult>(
    run,
    { ...HARDEN_TASK, payload: { storeUri: run.start.storeUri, jobId: run.jobId, spec, backend: run.backend, traceContext: traceContextCarrier() } },
    (e, sink) => {
      const event = e as TrainingEvent;
      relayTraining(sink, event);
      return event.type === 'epoch' || event.type === 'checkpoint';
    },
  );
  if ('exitCode' in out) return out.exitCode;
  const { result } = out;
  for (const w of result.warnings) out.emit('warning', { id: 'training', message: w });
  await out.flush();
  const outputs = { trained: true, modelUri: result.modelUri, checkpointsUri: result.checkpointsUri, cleanAccuracy: result.cleanAccuracy, robustAccuracy: result.robustAccuracy, history: result.history };
  await run.call('FinishWork', () => run.client.finishWork({ jobId: run.jobId, outputsJson: JSON.stringify(outputs) }));
  run.log.info('trained', { model_uri: result.modelUri, epochs: result.completedEpochs, seconds: result.seconds });
  return 0;
}

async function evaluateShard(run: WorkerRun): Promise<number> {
  const shard = run.start.shard;
  if (!shard) throw new CliError(`job ${run.jobId}: the evaluation service did not assign a shard`, 2);
  const spec = JSON.parse(run.start.specJson) as EvaluationJobSpec;
  const where = { index: shard.index, count: shard.count };
  run.log.info('evaluating a shard', { attempt: run.start.attempt, store_uri: run.start.storeUri, shard: shard.index, shards: shard.count, suite: spec.suite, limit: spec.limit });
  const out = await runReported<ShardTaskPayload, ShardTaskResult>(
    run,
    { ...EVALUATE_SHARD_TASK, payload: { storeUri: run.start.storeUri, reportId: run.jobId, spec, backend: run.backend, shard: where, traceContext: traceContextCarrier() } },
    (e, sink) => {
      const event = e as EvaluationEvent;
      relayEvaluation(sink, event);
      return event.type === 'attack-done';
    },
  );
  if ('exitCode' in out) return out.exitCode;
  await out.flush();
  await run.call('FinishWork', () => run.client.finishWork({ jobId: run.jobId, shardIndex: shard.index, outputsJson: JSON.stringify(out.result) }));
  run.log.info('shard evaluated', { shard: shard.index, n: out.result.n, robust_accuracy: out.result.robust_accuracy, seconds: out.result.seconds, reused: out.result.reused });
  return 0;
}
