/**
 * HardenRequest → `HardenSpec`, the validated job spec stored with the Harden job (JSON). Every
 * field is checked here, before the job exists: unknown method or architecture, ε out of (0, 1],
 * a batch larger than the server allows or than the requested data, a malformed or missing model
 * URI, a bad data set spec.
 */
import { ARCH_NAMES, isArchName, type ArchName } from '../../libs/models/index.js';
import { describeMethods, METHOD_NAMES, type HardenJobSpec, type MethodName } from '../../libs/training/index.js';
import { evaluationEps, trainingEps } from '../../libs/attacks/index.js';
import { SUITE_NAMES, type SuiteName } from '../../libs/evaluation/index.js';
import { choice, count, datasetSpec, invalidField, modelUri, OPEN_LOCATIONS, positiveNumber, requestId, type LocationPolicy } from '../../libs/rpc/index.js';
import type { HardenRequest } from '../../libs/rpc/gen/robustness/v1/hardening_pb.js';

/** The stored spec: what libs/training's Harden task computes, and the evaluation that follows. */
export interface HardenSpec extends HardenJobSpec {
  arch: ArchName | null;
  method: MethodName;
  guidanceArch: ArchName | null;
  evaluation: { suite: SuiteName; limit: number; eps: number; skip: boolean };
}

export interface HardenLimits {
  /** Largest batch_size. @default 1024 */
  maxBatchSize: number;
  /** Largest epochs. @default 1000 */
  maxEpochs: number;
  /** Largest steps (inner maximisation). @default 1000 */
  maxSteps: number;
  /** Largest limit / eval_size / evaluation.limit. @default 1000000 / 10000 / 10000 */
  maxExamples: number;
  maxEvalExamples: number;
  /** Which model and data locations requests may name. @default every location (OPEN_LOCATIONS) */
  locations: LocationPolicy;
}

export const DEFAULT_HARDEN_LIMITS: HardenLimits = { maxBatchSize: 1024, maxEpochs: 1000, maxSteps: 1000, maxExamples: 1_000_000, maxEvalExamples: 10_000, locations: OPEN_LOCATIONS };

export async function hardenSpec(req: HardenRequest, limits: HardenLimits = DEFAULT_HARDEN_LIMITS): Promise<{ spec: HardenSpec; requestId: string | undefined }> {
  const id = requestId(req.requestId);
  let arch: ArchName | null = null;
  let fromUri: string | null = null;
  switch (req.model.case) {
    case 'arch':
      if (!isArchName(req.model.value)) throw invalidField('arch', `unknown architecture "${req.model.value.slice(0, 64)}"; expected one of ${ARCH_NAMES.join(', ')}`);
      arch = req.model.value;
      break;
    case 'modelUri':
      break;
    default:
      throw invalidField('model', 'set model_uri (a saved model to harden) or arch (a fresh model of that architecture)');
  }
  const method = choice('method', req.method, METHOD_NAMES, 'd2r');
  const usesGuidance = describeMethods().find((m) => m.name === method)?.usesGuidance ?? false;
  const dataset = datasetSpec(req.dataset, 'dataset', limits.locations);
  const limit = count('limit', req.limit, 0, limits.maxExamples);
  const epochs = count('epochs', req.epochs, 10, limits.maxEpochs);
  const batchSize = count('batch_size', req.batchSize, 128, limits.maxBatchSize);
  if (limit > 0 && batchSize > limit) throw invalidField('batch_size', `${batchSize} is larger than the training data (limit ${limit})`);
  const lr = positiveNumber('learning_rate', req.learningRate, 0.1, 10);
  const eps = positiveNumber('eps', req.eps, trainingEps(dataset.text), 1);
  const steps = count('steps', req.steps, 10, limits.maxSteps);
  let guidanceArch: ArchName | null = null;
  if (req.guidanceArch !== '') {
    if (!usesGuidance) throw invalidField('guidance_arch', `method ${method} uses no guidance model (only lbgat and d2r do)`);
    if (!isArchName(req.guidanceArch)) throw invalidField('guidance_arch', `unknown architecture "${req.guidanceArch.slice(0, 64)}"; expected one of ${ARCH_NAMES.join(', ')}`);
    guidanceArch = req.guidanceArch;
  }
  const evalSize = count('eval_size', req.evalSize, 200, limits.maxEvalExamples);
  const e = req.evaluation;
  const evaluation = {
    suite: choice('evaluation.suite', e?.suite ?? '', SUITE_NAMES, 'quick'),
    limit: count('evaluation.limit', e?.limit ?? 0, 1000, limits.maxEvalExamples),
    eps: positiveNumber('evaluation.eps', e?.eps ?? 0, evaluationEps(dataset.text), 1),
    skip: e?.skip ?? false,
  };
  if (req.model.case === 'modelUri') fromUri = await modelUri(req.model.value, 'model_uri', limits.locations);
  return {
    requestId: id,
    spec: { modelUri: fromUri, arch, method, dataset: dataset.text, limit, epochs, batchSize, lr, eps, steps, seed: req.seed, guidanceArch, evalSize, evaluation },
  };
}
