/**
 * GenerateAdversarialRequest → `GenerateSpec`, checked before any work starts: model and guidance
 * URIs (NOT_FOUND when nothing is there), data set, attack name and norm, ε and α in (0, 1], batch
 * size and count within the server's limits, and the attack's own options (compiled once by the
 * attack registry, so an option the attack does not take is refused too).
 */
import { ATTACK_NAMES, AttackError, attackSettings, createAttack, fromLogitsFunction, isAttackName, type AttackName, type AttackSettings, type Norm } from '../../libs/attacks/index.js';
import { choice, count, datasetSpec, invalidField, modelUri, OPEN_LOCATIONS, positiveNumber, type LocationPolicy } from '../../libs/rpc/index.js';
import type { GenerateAdversarialRequest } from '../../libs/rpc/gen/robustness/v1/adversarial_pb.js';

export interface GenerateSpec {
  modelUri: string;
  guidanceUri: string | null;
  dataset: string;
  split: 'train' | 'test';
  attack: AttackName;
  eps: number;
  norm: Norm;
  /** Attack options beyond ε (steps, alpha), as the registry takes them. */
  options: Record<string, unknown>;
  seed: number;
  batchSize: number;
  numBatches: number;
  offset: number;
  includeClean: boolean;
}

export interface GenerateLimits {
  /** Largest batch_size. @default 1024 */
  maxBatchSize: number;
  /** Largest num_batches. @default 100000 */
  maxBatches: number;
  /** Largest steps. @default 10000 */
  maxSteps: number;
  /** Which model and data locations requests may name. @default every location (OPEN_LOCATIONS) */
  locations: LocationPolicy;
}

export const DEFAULT_GENERATE_LIMITS: GenerateLimits = { maxBatchSize: 1024, maxBatches: 100_000, maxSteps: 10_000, locations: OPEN_LOCATIONS };

/** Stands in for the guidance model while the options are checked here (never called). */
const PLACEHOLDER = fromLogitsFunction(() => {
  throw new Error('placeholder model');
}, 2);

export async function generateSpec(req: GenerateAdversarialRequest, limits: GenerateLimits = DEFAULT_GENERATE_LIMITS): Promise<GenerateSpec> {
  const dataset = datasetSpec(req.dataset, 'dataset', limits.locations);
  const split = choice('split', req.split, ['train', 'test'] as const, 'test');
  const attack = choice('attack', req.attack, ATTACK_NAMES, 'pgd');
  if (!isAttackName(attack)) throw invalidField('attack', `unknown attack ${attack}`);
  const norm = choice('norm', req.norm, ['Linf', 'L2'] as const, 'Linf');
  // Defaults and ranges: libs/attacks attackSettings, as `harden attack` resolves them.
  let settings: AttackSettings;
  try {
    settings = attackSettings(attack, dataset.text, {
      ...(req.eps !== 0 ? { eps: req.eps } : {}),
      ...(req.steps !== 0 ? { steps: count('steps', req.steps, 0, limits.maxSteps) } : {}),
      ...(req.alpha !== 0 ? { alpha: req.alpha } : {}),
      norm,
    });
    // The attack compiles its options once here, so an option it does not take is refused now.
    createAttack(attack, settings.needsGuidance ? { ...settings.options, guidance: PLACEHOLDER } : settings.options);
  } catch (error) {
    if (AttackError.is(error, 'invalid-argument', 'unsupported')) throw invalidField(error.field ?? 'attack', error.message);
    throw error;
  }
  const { eps, options } = settings;
  const batchSize = count('batch_size', req.batchSize, 64, limits.maxBatchSize);
  const numBatches = count('num_batches', req.numBatches, 1, limits.maxBatches);
  if (settings.needsGuidance && req.guidanceUri === '') throw invalidField('guidance_uri', `is required for ${attack} (the guidance model anchors the attack)`);
  if (!settings.needsGuidance && req.guidanceUri !== '') throw invalidField('guidance_uri', `only attacks with a guidance model take one, not ${attack}`);
  const model = await modelUri(req.modelUri, 'model_uri', limits.locations);
  const guidance = req.guidanceUri !== '' ? await modelUri(req.guidanceUri, 'guidance_uri', limits.locations) : null;
  return {
    modelUri: model,
    guidanceUri: guidance,
    dataset: dataset.text,
    split,
    attack,
    eps,
    norm,
    options,
    seed: req.seed,
    batchSize,
    numBatches,
    offset: req.offset,
    includeClean: req.includeClean,
  };
}
