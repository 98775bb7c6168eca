/**
 * A Harden job's training as a worker-thread task (libs/jobs `runWorkerTask`; module
 * `HARDEN_TASK.module`, function `runHarden`), run alike by the training service and by the
 * Kubernetes worker (`harden worker`): `hardenModel` with checkpoints under
 * `jobs/<id>/checkpoints/` and `resume: true` — so a job restarted after a crash continues from
 * its latest checkpoint — and the hardened model in `jobs/<id>/model/`. Progress goes back as
 * `TrainingEvent`s (relay them with `relayTraining`).
 */
import { initEngine, type BackendChoice } from '../engine/index.js';
import { openStore } from '../storage/index.js';
import { ATTR, traceStore, withTaskSpan } from '../telemetry/index.js';
import { hardenModel } from './harden.js';

/** What a Harden job asks for (the training service's validated request, stored with the job). */
export interface HardenJobSpec {
  /** Start from this saved model, or build `arch` from scratch (exactly one is set). */
  modelUri: string | null;
  arch: string | null;
  method: string;
  dataset: string;
  /** Training examples; 0 = the whole train split. */
  limit: number;
  epochs: number;
  batchSize: number;
  lr: number;
  eps: number;
  steps: number;
  seed: number;
  guidanceArch: string | null;
  evalSize: number;
}

export interface HardenTaskPayload {
  storeUri: string;
  jobId: string;
  spec: HardenJobSpec;
  backend: BackendChoice;
  /** The caller's trace context (`traceContextCarrier()`): the training and its checkpoint uploads join the job's trace. */
  traceContext?: Record<string, string>;
}

export interface HardenTaskResult {
  modelUri: string;
  checkpointsUri: string;
  completedEpochs: number;
  resumedFrom: number | null;
  cleanAccuracy: number;
  robustAccuracy: number;
  history: { epoch: number; loss: number; cleanAccuracy: number; robustAccuracy: number; imagesPerSecond: number }[];
  collapsed: boolean;
  warnings: string[];
  seconds: number;
}

/** The task's module and function, for `runWorkerTask`. */
export const HARDEN_TASK = { module: new URL('./harden-task.js', import.meta.url).href, fn: 'runHarden' } as const;

/** A Harden job's folder in the store. */
export function jobFolder(jobId: string): string {
  return `jobs/${jobId}`;
}

interface TaskContext {
  signal: AbortSignal;
  emit(event: unknown): void;
}

export function runHarden(p: HardenTaskPayload, ctx: TaskContext): Promise<HardenTaskResult> {
  return withTaskSpan('harden.train', { [ATTR.JOB_ID]: p.jobId, [ATTR.METHOD]: p.spec.method, [ATTR.BACKEND]: p.backend }, p.traceContext, () => harden(p, ctx));
}

async function harden(p: HardenTaskPayload, ctx: TaskContext): Promise<HardenTaskResult> {
  await initEngine(p.backend);
  const s = p.spec;
  const trainSize = s.limit > 0 ? s.limit : undefined;
  const h = await hardenModel({
    method: s.method,
    modelUri: s.modelUri,
    // Built from scratch: small-cnn unless the request named one.
    arch: s.modelUri ? null : (s.arch ?? 'small-cnn'),
    guidanceArch: s.guidanceArch,
    dataset: s.dataset,
    ...(trainSize !== undefined ? { limit: trainSize } : {}),
    evalSize: s.evalSize,
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    eps: s.eps,
    steps: s.steps,
    seed: s.seed,
    out: traceStore(openStore(p.storeUri)).child(jobFolder(p.jobId)),
    resume: true,
    // About 20 progress events per epoch, at least one per batch for tiny runs.
    batchEventsPerEpoch: 20,
    onEvent: (e) => ctx.emit(e),
    signal: ctx.signal,
  });
  const r = h.result;
  return {
    modelUri: h.modelUri,
    checkpointsUri: h.checkpointsUri,
    completedEpochs: r.completedEpochs,
    resumedFrom: r.resumedFrom ?? null,
    cleanAccuracy: r.cleanAccuracy,
    robustAccuracy: r.robustAccuracy,
    history: r.history.map((e) => ({ epoch: e.epoch, loss: e.loss, cleanAccuracy: e.cleanAccuracy, robustAccuracy: e.robustAccuracy, imagesPerSecond: e.imagesPerSecond })),
    collapsed: r.collapsed,
    warnings: r.warnings,
    seconds: r.seconds,
  };
}
