/**
 * libs/training — adversarial training: one trainer loop with pluggable methods (standard, pgd-at,
 * trades, mart, lbgat, d2r), PyTorch-exact SGD, schedules, per-epoch held-out checks with collapse
 * detection, and resumable checkpoints. See README.md.
 *
 * Entry points: `train(options)` runs a whole training; `createTrainingStep` is one step (for tests
 * and custom loops); `openCheckpoint` / `readPointer` read what a run wrote.
 */
export { TrainingError, type TrainingErrorCode } from './errors.js';
export {
  METHOD_NAMES,
  logitsOf,
  methodLoss,
  type ForwardPass,
  type InnerMaxSettings,
  type LossInputs,
  type LossWeights,
  type MethodModels,
  type MethodName,
  type TrainingMethod,
} from './method.js';
export { describeMethods, getMethod, isMethodName } from './methods.js';
export {
  crossEntropy,
  D2R_WEIGHTS,
  d2rLoss,
  d2rTerms,
  klBar,
  klBatchMean,
  lbgatLoss,
  martLoss,
  meanSquaredError,
  tradesLoss,
  type D2rLogits,
  type D2rTerms,
} from './losses.js';
export { cagExamples, cePgdExamples, klPgdExamples } from './inner-max.js';
export { createSgd, type Sgd, type SgdBuffer, type SgdOptions, type SgdState } from './sgd.js';
export {
  SCHEDULE_KINDS,
  defaultWarmupEpochs,
  epsilonAt,
  learningRate,
  piecewiseFactor,
  type LrSchedule,
  type RunPosition,
  type ScheduleKind,
} from './schedules.js';
export {
  collectParameters,
  createTrainingStep,
  readLosses,
  type GradientMode,
  type StepOutcome,
  type StepSettings,
  type TrainingStep,
  type TrainingStepOptions,
} from './step.js';
export { HELD_OUT_SEED, HELD_OUT_SOURCE, loadTrainingSplits, splitHeldOut, type TrainingSplits } from './held-out.js';
export { detectCollapse, evaluateHeldOut, type Collapse, type CollapseReason, type HeldOutMetrics, type HeldOutOptions } from './held-out-check.js';
export {
  BEST_POINTER,
  CHECKPOINT_VERSION,
  LATEST_POINTER,
  checkpointKey,
  openCheckpoint,
  publishCheckpoint,
  readPointer,
  writeCheckpoint,
  type Checkpoint,
  type CheckpointPointer,
  type EpochRecord,
  type TrainingState,
} from './checkpoint.js';
export { describeConfig, modelSignature, resolveTrainConfig, type TrainConfig, type TrainOptions } from './config.js';
export type { TrainingEvent } from './events.js';
export { train, type TrainingResult } from './trainer.js';
export { createTrainingTelemetry, type TrainingTelemetry, type TrainingTelemetryOptions } from './telemetry.js';
export { defaultGuidanceArch, hardenModel, type HardenedModel, type HardenFieldNames, type HardenModelOptions } from './harden.js';
export { HARDEN_TASK, jobFolder, runHarden, type HardenJobSpec, type HardenTaskPayload, type HardenTaskResult } from './harden-task.js';
export { relayTraining } from './relay.js';
