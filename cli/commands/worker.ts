/**
 * `harden worker --job ID --server URL`: trains one Harden job for the training service, in the pod
 * of the Kubernetes Job the Kubernetes runner created for it (libs/jobs/k8s-runner.ts). The service
 * keeps the job record; the worker asks it for the spec (StartWork), trains with checkpoints in the
 * service's artifact store — resuming from the latest one, so a retried pod continues —, streams
 * progress events back (ReportProgress, which also says when the job was cancelled) and reports the
 * trained model (FinishWork). The evaluation then runs in the services as usual.
 *
 * Exit codes, which the Job's podFailurePolicy and backoffLimit act on: 0 done (or the job was
 * cancelled: nothing to retry), 1 failed (Kubernetes starts another pod, which resumes), 2 bad input
 * (not retried), 143 stopped by SIGTERM (eviction: the next pod resumes).
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Code, ConnectError } from '@connectrpc/connect';
import { resolveBackendChoice } from '../../libs/engine/index.js';
import { JobFailure, runWorkerTask } from '../../libs/jobs/index.js';
import { createServiceClient, createTransport } from '../../libs/rpc/index.js';
import { JobWorkerService } from '../../libs/rpc/gen/robustness/v1/worker_pb.js';
import { ATTR, contextFromEnv, createLogger, createTracingInterceptor, shutdownTelemetry, startTelemetry, traceContextCarrier, withSpan } from '../../libs/telemetry/index.js';
import type { TrainingEvent } from '../../libs/training/index.js';
import { relay } from '../../services/training/harden-job.js';
import type { HardenSpec } from '../../services/training/harden-spec.js';
import type { HardenTaskPayload, HardenTaskResult } from '../../services/training/harden-task.js';
import { CliError } from '../cli-error.js';
import { positive } from '../flags.js';

export const workerHelp = `harden worker --job ID --server URL [--backend B] [--report-every S]
  Trains one Harden job for the training service at --server (default $HARDEN_TRAINING_URL): what the
  Kubernetes runner (HARDEN_RUNNER=kubernetes) runs in each job's pod. Gets the job's spec, trains
  with checkpoints in the service's store (resuming from the latest), reports progress every
  --report-every seconds (default 2) and the trained model at the end. Exit 0 done or cancelled,
  1 failed (retried), 2 bad input (not retried), 143 on SIGTERM (resumed by the next pod).`;

const TASK_MODULE = new URL('../../services/training/harden-task.js', import.meta.url).href;

/** Events and progress waiting to be reported. */
interface Pending {
  events: Array<{ type: string; dataJson: string }>;
  progress: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function workerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { job: { type: 'string' }, server: { type: 'string' }, backend: { type: 'string' }, 'report-every': { type: 'string' } },
    strict: true,
  });
  const jobId = values.job ?? process.env.HARDEN_JOB_ID;
  if (!jobId) throw new CliError('--job ID is required (the Harden job to train)');
  const server = values.server ?? process.env.HARDEN_TRAINING_URL;
  if (!server) throw new CliError('--server URL is required (the training service, e.g. http://harden-training:50051)');
  const backend = resolveBackendChoice(values.backend);
  const reportMs = (positive('--report-every', values['report-every']) ?? 2) * 1000;
  const workerName = process.env.POD_NAME ?? hostname();

  startTelemetry({ serviceName: 'harden-worker' });
  const log = createLogger('worker').child({ job_id: jobId, worker: workerName });
  const client = createServiceClient(JobWorkerService, createTransport({ address: server, protocol: 'grpc', defaultTimeoutMs: 30_000, interceptors: [createTracingInterceptor({ side: 'client' })] }));
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log.warn(`${signal}: stopping; the next pod resumes from the latest checkpoint`);
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
        log.warn(`${what}: the training service is unavailable; retrying`, { attempt: i });
        await sleep(Math.min(10_000, 250 * 2 ** i));
      }
    }
  }

  try {
    // The Kubernetes runner hands its span to the pod as TRACEPARENT: this run joins the job's trace.
    return await withSpan('harden.worker', { [ATTR.JOB_ID]: jobId, 'k8s.pod.name': workerName, [ATTR.BACKEND]: backend }, async () => {
      let start;
      try {
        start = await call('StartWork', () => client.startWork({ jobId, worker: workerName }));
      } catch (error) {
        const e = ConnectError.from(error);
        if (e.code === Code.FailedPrecondition) {
          log.info('the job is not running any more; nothing to do', { reason: e.rawMessage });
          return 0;
        }
        if (e.code === Code.NotFound || e.code === Code.InvalidArgument) throw new CliError(`job ${jobId}: ${e.rawMessage}`, 2, { cause: error });
        throw error;
      }
      const spec = JSON.parse(start.specJson) as HardenSpec;
      log.info('training', { attempt: start.attempt, store_uri: start.storeUri, method: spec.method, epochs: spec.epochs });

      const task = new AbortController();
      stop.signal.addEventListener('abort', () => task.abort(stop.signal.reason), { once: true });
      let cancelled = false;
      let pending: Pending = { events: [], progress: {} };
      const collector = {
        emit: (type: string, data: Record<string, unknown>) => void pending.events.push({ type, dataJson: JSON.stringify(data) }),
        progress: (p: Record<string, unknown>) => void Object.assign(pending.progress, p),
      };
      let flushing: Promise<void> = Promise.resolve();
      const flush = () => {
        flushing = flushing.then(async () => {
          if (pending.events.length === 0 && Object.keys(pending.progress).length === 0) return;
          const batch = pending;
          pending = { events: [], progress: {} };
          try {
            const r = await client.reportProgress({ jobId, events: batch.events, progressJson: JSON.stringify(batch.progress) });
            if (r.cancelRequested && !cancelled) {
              cancelled = true;
              log.info('the job was cancelled; stopping');
              task.abort(Object.assign(new Error('cancelled'), { name: 'AbortError' }));
            }
          } catch (error) {
            // Not fatal: keep the events for the next report (the service may be restarting).
            pending = { events: [...batch.events, ...pending.events].slice(-5000), progress: { ...batch.progress, ...pending.progress } };
            log.warn('reporting progress failed; will retry', { error: ConnectError.from(error).rawMessage });
          }
        });
        return flushing;
      };
      const timer = setInterval(() => void flush(), reportMs);
      let result: HardenTaskResult;
      try {
        result = await runWorkerTask<HardenTaskPayload, HardenTaskResult>({
          module: TASK_MODULE,
          fn: 'runHarden',
          payload: { storeUri: start.storeUri, jobId, spec, backend, traceContext: traceContextCarrier() },
          signal: task.signal,
          onEvent: (e) => {
            const event = e as TrainingEvent;
            relay(collector, event);
            if (event.type === 'epoch' || event.type === 'checkpoint') void flush();
          },
        });
      } catch (error) {
        clearInterval(timer);
        if (cancelled) return 0;
        if (stop.signal.aborted) return (stop.signal.reason as { exitCode?: number }).exitCode ?? 143;
        const message = error instanceof Error ? error.message : String(error);
        collector.emit('warning', { id: 'worker', message: `worker ${workerName} failed: ${message}` });
        await flush();
        if (error instanceof JobFailure && error.code === 'invalid-argument') throw new CliError(message, 2, { cause: error });
        throw error;
      }
      clearInterval(timer);
      for (const w of result.warnings) collector.emit('warning', { id: 'training', message: w });
      await flush();
      const outputs = { trained: true, modelUri: result.modelUri, checkpointsUri: result.checkpointsUri, cleanAccuracy: result.cleanAccuracy, robustAccuracy: result.robustAccuracy, history: result.history };
      await call('FinishWork', () => client.finishWork({ jobId, outputsJson: JSON.stringify(outputs) }));
      log.info('trained', { model_uri: result.modelUri, epochs: result.completedEpochs, seconds: result.seconds });
      return 0;
    }, { parent: contextFromEnv() });
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await shutdownTelemetry();
  }
}
