/**
 * libs/attacks — adversarial attacks behind one interface, CAG, and AutoAttack composition.
 *
 * Entry points: `createAttack(name, options)` (registry) → `attack.run(model, x, y, { eps, norm,
 * seed })`; `runAttackByName(name, model, x, y, options)` for one-ε reports (CLI, services);
 * `runAttackParallel(pool, models, x, y, name, options)` over worker threads; `generateCag` for
 * training loops. See README.md (attacks, defaults, papers) and CHECKS.md (warnings).
 */
export { AttackError, type AttackErrorCode } from './errors.js';
export {
  NORMS,
  type Attack,
  type AttackModel,
  type AttackResult,
  type Criterion,
  type EpsilonResult,
  type Labels,
  type Norm,
  type RunOptions,
  type StageResult,
  type StepEvent,
} from './types.js';
export { fromLayersModel, fromLogitsFunction, logitsValues, type ModelWrapperOptions } from './model.js';
export { attackInThread, loadThreadModels, sharedAbortSignal, threadModels, unloadThreadModels, type ThreadAttackPayload, type ThreadAttackResult, type ThreadModels } from './thread-models.js';
export { argMaxRows } from './run-by-name.js';
export { describeStep, throttledSteps, type StepProgress } from './step-progress.js';
export { evaluateCriterion, misclassification, targetedMisclassification } from './criteria.js';
export { CHECK_IDS, CHECKS_DOC, type CheckId, type CheckWarning } from './checks.js';
export { defineAttack, attackRows, type AttackSteps, type StepContext } from './attack.js';
export { elementwiseKl, KL_SMOOTHING, crossEntropy, cwMargin, dlr, dlrTargeted, klDivergence, type LossFn } from './losses.js';
export { project, projectToBall, sampleNorms, perturbationNorms } from './norms.js';
export { PGD_LOSSES, type PgdLoss } from './objectives.js';
export { createFgsm, type FgsmOptions } from './fgsm.js';
export { createPgd, generatePgd, type GeneratePgdOptions, type PgdOptions } from './pgd.js';
export { STEPS_PER_READBACK } from './readback.js';
export { createCw, type CwOptions } from './cw.js';
export { CAG_DEFAULTS, createCag, generateCag, type CagOptions, type GenerateCagOptions } from './cag.js';
export { createApgdCe, type ApgdCeOptions } from './apgd-ce.js';
export { createApgdT, type ApgdTOptions } from './apgd-t.js';
export type { ApgdOptions } from './apgd-core.js';
export { createFabT, type FabTOptions } from './fab-t.js';
export { createSquare, squareFraction, type SquareOptions } from './square.js';
export { AUTOATTACK_STAGES, STANDARD_STAGES, createAutoAttack, type AutoAttackOptions, type AutoAttackStage } from './autoattack.js';
export {
  ATTACK_NAMES,
  createAttack,
  describeAttack,
  describeAttacks,
  isAttackName,
  type AttackDescription,
  type AttackName,
  type AttackOptionsByName,
} from './registry.js';
export { attackSettings, checkEps, defaultEps, evaluationEps, trainingEps, type AttackRequest, type AttackSettings } from './defaults.js';
export { disposeResult, runAttackByName, type AttackReport, type RunByNameOptions } from './run-by-name.js';
export { runAttackParallel, type ParallelModels, type ParallelOptions } from './parallel.js';
export { createAttackStreamer, modelBytesKey, type AttackStreamer, type StreamData, type StreamedBatch, type StreamModels, type StreamRequest } from './stream.js';
