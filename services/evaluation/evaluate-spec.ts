/**
 * EvaluateRequest → `EvaluateSpec`, the validated job spec stored with the evaluation job (JSON).
 * Every field is checked here, before the job exists.
 */
import { evaluationEps } from '../../libs/attacks/index.js';
import { isSuiteName, SUITE_NAMES, type EvaluationJobSpec, type SuiteName } from '../../libs/evaluation/index.js';
import { choice, count, datasetSpec, invalidField, modelUri, OPEN_LOCATIONS, positiveNumber, requestId, type LocationPolicy } from '../../libs/rpc/index.js';
import type { EvaluateRequest } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';

/** The stored spec: what libs/evaluation's evaluation task computes. */
export type EvaluateSpec = EvaluationJobSpec;

export interface EvaluateLimits {
  /** Largest `limit`. @default 10000 */
  maxExamples: number;
  /** Which model and data locations requests may name. @default every location (OPEN_LOCATIONS) */
  locations: LocationPolicy;
}

export const DEFAULT_EVALUATE_LIMITS: EvaluateLimits = { maxExamples: 10_000, locations: OPEN_LOCATIONS };

export async function evaluateSpec(req: EvaluateRequest, limits: EvaluateLimits = DEFAULT_EVALUATE_LIMITS): Promise<{ spec: EvaluateSpec; requestId: string | undefined }> {
  const id = requestId(req.requestId);
  const dataset = datasetSpec(req.dataset, 'dataset', limits.locations);
  const split = choice('split', req.split, ['train', 'test'] as const, 'test');
  const limit = count('limit', req.limit, 1000, limits.maxExamples);
  const suite = choice('suite', req.suite, SUITE_NAMES, 'quick');
  if (!isSuiteName(suite)) throw invalidField('suite', `unknown suite ${suite}`);
  const eps = positiveNumber('eps', req.eps, evaluationEps(dataset.text), 1);
  const t = req.training;
  if (t && t.history.length > 10_000) throw invalidField('training.history', 'at most 10000 epochs');
  const model = await modelUri(req.modelUri, 'model_uri', limits.locations);
  return {
    requestId: id,
    spec: {
      modelUri: model,
      dataset: dataset.text,
      split,
      limit,
      suite,
      eps,
      seed: req.seed,
      training: t
        ? {
            jobId: t.jobId,
            method: t.method,
            history: t.history.map((h) => ({ epoch: h.epoch, loss: h.loss, cleanAccuracy: h.cleanAccuracy, robustAccuracy: h.robustAccuracy })),
          }
        : null,
    },
  };
}
