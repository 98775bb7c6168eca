/**
 * The Harden job's compute (a libs/jobs `JobExecutor`), run by the training service's runner:
 *
 * 1. training — `runHarden` in a worker thread (libs/training harden-task.ts); its events become job events
 *    (`batch`, `epoch`, `checkpoint`, `resumed`, `warning`). Skipped when a previous attempt of the
 *    same job finished it (outputs.trained), e.g. after a restart during the evaluation.
 * 2. evaluation — `EvaluationService.Evaluate` over gRPC (the configured address; in the all-in-one
 *    server, its own address: the same client path), idempotent by `request_id = harden:<job id>`
 *    so that a restarted job finds its evaluation again; followed with `WatchEvaluation`
 *    (reconnecting on UNAVAILABLE) until it ends.
 * 3. link — the report's id and URI go on the job (`report` event), and the job SUCCEEDS.
 *
 * Cancelling the job aborts the training thread, or cancels the evaluation job it waits for.
 */
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import type { BackendChoice } from '../../libs/engine/index.js';
import { JobFailure, runWorkerTask, type JobContext, type JobStore, ShutdownReason } from '../../libs/jobs/index.js';
import { runOnKubernetes, type KubernetesRunner } from '../../libs/jobs/kubernetes/index.js';
import { createTrainingTelemetry, HARDEN_TASK, relayTraining, type HardenTaskPayload, type HardenTaskResult, type TrainingEvent } from '../../libs/training/index.js';
import type { EvaluationService } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { JobState } from '../../libs/rpc/gen/robustness/v1/job_pb.js';
import { ATTR, traceContextCarrier } from '../../libs/telemetry/index.js';
import type { HardenSpec } from './harden-spec.js';

export interface HardenOutputs extends Record<string, unknown> {
  trained: boolean;
  modelUri: string;
  checkpointsUri: string;
  cleanAccuracy: number;
  robustAccuracy: number;
  history: HardenTaskResult['history'];
  evaluationId: string;
  reportId: string;
  reportUri: string;
}

export interface HardenJobDeps {
  storeUri: string;
  backend: BackendChoice;
  /** The EvaluationService client (created lazily: the server's own address is known after listen). */
  evaluation: () => Client<typeof EvaluationService>;
  /** Reconnects of a lost WatchEvaluation stream before the job fails. @default 20 */
  watchRetries?: number;
  /**
   * Train in a Kubernetes Job (`harden worker`) instead of a worker thread; the worker reports its
   * events and outputs through JobWorkerService into `store`. The evaluation runs here as before.
   */
  kubernetes?: { runner: KubernetesRunner; store: JobStore };
}


const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Training in a Kubernetes Job: its worker reports events and, at the end, the outputs. */
async function trainOnKubernetes(ctx: JobContext<HardenSpec>, k8s: NonNullable<HardenJobDeps['kubernetes']>): Promise<Partial<HardenOutputs>> {
  await runOnKubernetes(ctx, k8s);
  const o = k8s.store.get(ctx.job.id).outputs as Partial<HardenOutputs>;
  if (!o.trained || !o.modelUri) throw new JobFailure('worker-failed', 'the worker pod finished without reporting its trained model');
  return { trained: true, modelUri: o.modelUri, checkpointsUri: o.checkpointsUri ?? '', cleanAccuracy: o.cleanAccuracy ?? NaN, robustAccuracy: o.robustAccuracy ?? NaN, history: o.history ?? [] };
}

async function train(ctx: JobContext<HardenSpec>, deps: HardenJobDeps): Promise<Partial<HardenOutputs>> {
  ctx.emit('phase', { phase: 'training', message: `${ctx.job.spec.method}, ${ctx.job.spec.epochs} epochs on ${ctx.job.spec.dataset}` });
  ctx.progress({ phase: 'training', epochs: ctx.job.spec.epochs });
  if (deps.kubernetes) return trainOnKubernetes(ctx, deps.kubernetes);
  const s = ctx.job.spec;
  const telemetry = createTrainingTelemetry({ [ATTR.JOB_ID]: ctx.job.id, [ATTR.METHOD]: s.method, [ATTR.ARCH]: s.arch, [ATTR.DATASET]: s.dataset, [ATTR.BACKEND]: deps.backend });
  let r: HardenTaskResult;
  try {
    r = await runWorkerTask<HardenTaskPayload, HardenTaskResult>({
      ...HARDEN_TASK,
      payload: { storeUri: deps.storeUri, jobId: ctx.job.id, spec: ctx.job.spec, backend: deps.backend, traceContext: traceContextCarrier() },
      signal: ctx.signal,
      onEvent: (e) => {
        telemetry.onEvent(e as TrainingEvent);
        relayTraining(ctx, e as TrainingEvent);
      },
    });
    telemetry.end();
  } catch (error) {
    telemetry.end(error);
    throw error;
  }
  const outputs = {
    trained: true,
    modelUri: r.modelUri,
    checkpointsUri: r.checkpointsUri,
    cleanAccuracy: r.cleanAccuracy,
    robustAccuracy: r.robustAccuracy,
    history: r.history,
  };
  ctx.setOutputs(outputs);
  return outputs;
}

async function evaluate(ctx: JobContext<HardenSpec>, deps: HardenJobDeps, trained: Partial<HardenOutputs>): Promise<Partial<HardenOutputs>> {
  const spec = ctx.job.spec;
  const client = deps.evaluation();
  const signal = ctx.signal;
  ctx.emit('phase', { phase: 'evaluating', message: `${spec.evaluation.suite} suite on ${spec.evaluation.limit} test images` });
  ctx.progress({ phase: 'evaluating' });
  // The evaluation service may be restarting or busy (RESOURCE_EXHAUSTED): retry with backoff; the
  // request id makes a retry that reached the server return the same evaluation.
  const evaluateWithRetries = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await client.evaluate(
          {
            requestId: `harden:${ctx.job.id}`,
            modelUri: trained.modelUri ?? '',
            dataset: spec.dataset,
            split: 'test',
            limit: spec.evaluation.limit,
            suite: spec.evaluation.suite,
            eps: spec.evaluation.eps,
            seed: spec.seed,
            training: {
              jobId: ctx.job.id,
              method: spec.method,
              history: (trained.history ?? []).map((h) => ({ epoch: h.epoch, loss: h.loss ?? NaN, cleanAccuracy: h.cleanAccuracy ?? NaN, robustAccuracy: h.robustAccuracy ?? NaN })),
            },
          },
          { signal },
        );
      } catch (error) {
        const code = ConnectError.from(error).code;
        if (signal.aborted || (code !== Code.Unavailable && code !== Code.ResourceExhausted) || attempt >= (deps.watchRetries ?? 20)) throw error;
        await sleep(Math.min(10_000, 200 * 2 ** attempt), signal);
      }
    }
  };
  const started = await evaluateWithRetries();
  const evaluationId = started.evaluation?.evaluationId ?? '';
  ctx.setOutputs({ evaluationId });
  try {
    let after = 0n;
    let retries = 0;
    for (;;) {
      try {
        for await (const r of client.watchEvaluation({ evaluationId, afterSequence: after }, { signal })) {
          after = r.event?.sequence ?? after;
          const kind = r.event?.kind;
          if (kind?.case === 'phaseStarted' && kind.value.phase.startsWith('attack ')) ctx.emit('phase', { phase: `evaluating: ${kind.value.phase}`, message: kind.value.message });
        }
        break;
      } catch (error) {
        if (signal.aborted || ConnectError.from(error).code !== Code.Unavailable || retries++ >= (deps.watchRetries ?? 20)) throw error;
        await sleep(Math.min(5000, 100 * 2 ** retries), signal);
      }
    }
    const done = (await client.getEvaluation({ evaluationId }, { signal })).evaluation;
    if (done?.state !== JobState.SUCCEEDED) {
      throw new JobFailure('evaluation-failed', `evaluation ${evaluationId} ended ${JobState[done?.state ?? 0]}${done?.error ? `: ${done.error.message}` : ''}`);
    }
    const report = (await client.getReport({ reportId: done.reportId }, { signal })).report;
    ctx.emit('report', { reportId: done.reportId, reportUri: done.reportUri, cleanAccuracy: report?.cleanAccuracy ?? NaN, robustAccuracy: report?.robustAccuracy ?? NaN });
    return { evaluationId, reportId: done.reportId, reportUri: done.reportUri };
  } catch (error) {
    // A cancelled Harden job takes its evaluation down with it; a shutdown leaves it to finish (the
    // resumed job finds it again by its request id).
    if (signal.aborted && !(signal.reason instanceof ShutdownReason)) {
      await client.cancelEvaluation({ evaluationId }, { timeoutMs: 5000 }).catch(() => undefined);
    }
    throw error;
  }
}

export function createHardenExecutor(deps: HardenJobDeps) {
  return async (ctx: JobContext<HardenSpec>): Promise<Partial<HardenOutputs>> => {
    const previous = ctx.job.outputs as Partial<HardenOutputs>;
    const trained = previous.trained ? previous : await train(ctx, deps);
    if (ctx.job.spec.evaluation.skip) return trained;
    return { ...trained, ...(await evaluate(ctx, deps, trained)) };
  };
}
