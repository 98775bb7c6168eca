/**
 * The Harden job's training, in its own worker thread (libs/jobs `runWorkerTask`): load the data,
 * build (or load) the target and the guidance model, `train` with checkpoints under
 * `jobs/<id>/checkpoints/` and `resume: true` — so a job restarted after a crash continues from its
 * latest checkpoint — then save the final target to `jobs/<id>/model/`. Progress goes back as
 * libs/training `TrainingEvent`s.
 */
import { initEngine, type BackendChoice } from '../../libs/engine/index.js';
import { countBatches, deriveSeed } from '../../libs/data/index.js';
import { buildModel, loadModelFromUri, resolveModelConfig, saveModelWithOnnx } from '../../libs/models/index.js';
import { openStore } from '../../libs/storage/index.js';
import { getMethod, loadTrainingSplits, train } from '../../libs/training/index.js';
import type { TaskContext } from '../../libs/jobs/index.js';
import { ATTR, traceStore, withTaskSpan } from '../../libs/telemetry/index.js';
import type { HardenSpec } from './harden-spec.js';

export interface HardenTaskPayload {
  storeUri: string;
  jobId: string;
  spec: HardenSpec;
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

/** The job's folder in the store. */
export function jobFolder(jobId: string): string {
  return `jobs/${jobId}`;
}

export function runHarden(p: HardenTaskPayload, ctx: TaskContext): Promise<HardenTaskResult> {
  return withTaskSpan('harden.train', { [ATTR.JOB_ID]: p.jobId, [ATTR.METHOD]: p.spec.method, [ATTR.BACKEND]: p.backend }, p.traceContext, () => train_(p, ctx));
}

async function train_(p: HardenTaskPayload, ctx: TaskContext): Promise<HardenTaskResult> {
  await initEngine(p.backend);
  const s = p.spec;
  const root = traceStore(openStore(p.storeUri)).child(jobFolder(p.jobId));
  const { train: trainData, heldOut } = await loadTrainingSplits(s.dataset, { evalSize: s.evalSize, ...(s.limit > 0 ? { limit: s.limit } : {}) });
  const method = getMethod(s.method);
  const build = (arch: string, stream: number) =>
    // Model seeds derive from the request's seed (as `harden train`): same request, same initial weights.
    buildModel(resolveModelConfig({ arch, inputShape: trainData.shape, numClasses: trainData.numClasses, seed: deriveSeed(s.seed, stream) >>> 1 }));
  const target = s.modelUri ? await loadModelFromUri(s.modelUri) : build(s.arch ?? 'small-cnn', 1);
  const guidanceArch = method.usesGuidance ? (s.guidanceArch ?? (trainData.shape[1] >= 32 ? 'resnet18' : 'small-cnn')) : null;
  const guidance = guidanceArch ? build(guidanceArch, 2) : undefined;
  try {
    // About 20 progress events per epoch, at least one per batch for tiny runs.
    const progressEvery = Math.max(1, Math.round(countBatches(trainData.size, s.batchSize) / 20));
    const result = await train({
      method: s.method,
      target,
      ...(guidance ? { guidance } : {}),
      train: trainData,
      ...(heldOut ? { heldOut } : {}),
      epochs: s.epochs,
      batchSize: s.batchSize,
      lr: s.lr,
      eps: s.eps,
      steps: s.steps,
      seed: s.seed,
      evalSize: s.evalSize,
      checkpoints: root.child('checkpoints'),
      resume: true,
      progressEvery,
      onEvent: (e) => ctx.emit(e),
      signal: ctx.signal,
    });
    const saved = await saveModelWithOnnx(target, root, 'model'); // model.json + weights, and model.onnx beside them
    return {
      modelUri: saved.uri,
      checkpointsUri: `${root.uri}/checkpoints`,
      completedEpochs: result.completedEpochs,
      resumedFrom: result.resumedFrom ?? null,
      cleanAccuracy: result.cleanAccuracy,
      robustAccuracy: result.robustAccuracy,
      history: result.history.map((r) => ({ epoch: r.epoch, loss: r.loss, cleanAccuracy: r.cleanAccuracy, robustAccuracy: r.robustAccuracy, imagesPerSecond: r.imagesPerSecond })),
      collapsed: result.collapsed,
      warnings: [...result.warnings, ...saved.warnings],
      seconds: result.seconds,
    };
  } finally {
    target.dispose();
    guidance?.dispose();
  }
}
