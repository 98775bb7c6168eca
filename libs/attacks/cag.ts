/**
 * CAG — Collaborative Adversarial Generation: the inner maximisation of the D2R + CAG method
 * (ARCHITECTURE.md, "The algorithm"), as the authors' released code computes it.
 *
 * Threat model: white-box on the target model T, L∞ only, ε-ball around x (ε = 0.031 by default),
 * inputs in [0, 1]. A guidance model G supplies the anchor: its clean prediction p_g(x). Starting
 * from x' = x + 0.001·N(0, I) (per-sample seeded streams), K = 10 times:
 *
 *   x' ← clip_[0,1]( clip_[x−ε, x+ε]( x' + α · sign(∇_x' Σ_batch KL(p_g(x) ‖ p_t(x'))) ) ),  α = 0.007
 *
 * with KL(p_g ‖ p_t) = Σ_c p_g(x) · (log(p_g(x) + 1e-5) − log_softmax(z_t(x'))) (`elementwiseKl`,
 * weighted by the guidance model's clean prediction). Both models run in inference mode (BatchNorm
 * uses running statistics, never updated). The objective pushes the target's prediction away from
 * the guidance model's clean prediction.
 *
 * Related attack: PGD with the TRADES KL loss (arXiv:1901.08573) is the same iteration with the
 * target's own clean prediction as the anchor.
 *
 * Example: `createCag({ guidance }).run(target, x, y, { eps: 0.031 })`; for training loops,
 * `generateCag(target, guidance, x, { seed })` returns only x' (no criterion, no checks).
 */
import { tf, type Tensor2D, type Tensor4D } from '../engine/index.js';
import { defineAttack, nameTag, sampleStream, type StepContext } from './attack.js';
import { AttackError } from './errors.js';
import { ascendLinf, lossAndGradientTensors, lossTensors } from './gradient.js';
import { elementwiseKl, type LossFn } from './losses.js';
import { ascentStep, project } from './norms.js';
import { checkKnownKeys, positiveInt, positiveNumber } from './options.js';
import { firstStepChecks, stepReadout } from './readback.js';
import { sum } from './rows.js';
import { NORMAL_START_STD, startingPoint } from './start.js';
import type { Attack, AttackModel } from './types.js';

/** CAG's published settings. */
export const CAG_DEFAULTS = { eps: 0.031, alpha: 0.007, steps: 10 } as const;

export interface CagOptions {
  /** The guidance model G whose clean prediction anchors the objective (required). */
  guidance: AttackModel;
  /** Sign-gradient steps K. @default 10 */
  steps?: number;
  /** Step size in input units. @default 0.007 */
  alpha?: number;
}

interface ResolvedCag {
  readonly guidance: AttackModel;
  readonly steps: number;
  readonly alpha: number;
}

function resolveCag(options: CagOptions): ResolvedCag {
  checkKnownKeys('cag', options ?? {}, ['guidance', 'steps', 'alpha']);
  const g = options?.guidance;
  if (!g || typeof g.logits !== 'function' || !Number.isInteger(g.numClasses)) {
    throw new AttackError('invalid-argument', 'cag needs a guidance model (an AttackModel, e.g. fromLayersModel(g))', { field: 'guidance' });
  }
  return {
    guidance: g,
    steps: positiveInt('cag', 'steps', options.steps, CAG_DEFAULTS.steps),
    alpha: positiveNumber('cag', 'alpha', options.alpha, CAG_DEFAULTS.alpha),
  };
}

/** Σ_c of the element-wise KL(p_g(x) ‖ p_t(x')) per sample (`anchor` = p_g(x), `z` = z_t(x')). */
function cagObjective(anchor: Tensor2D): LossFn {
  return (z) => tf.sum(elementwiseKl(anchor, z), 1) as ReturnType<LossFn>;
}

function guidanceProbs(guidance: AttackModel, x: Tensor4D): Tensor2D {
  return tf.tidy(() => tf.softmax(guidance.logits(x)) as Tensor2D);
}

function checkGuidance(target: AttackModel, guidance: AttackModel): void {
  if (guidance.numClasses !== target.numClasses) {
    throw new AttackError(
      'invalid-argument',
      `guidance model has ${guidance.numClasses} classes, target has ${target.numClasses}`,
      { field: 'guidance' },
    );
  }
}

export function createCag(options: CagOptions): Attack {
  const o = resolveCag(options);
  return defineAttack({
    name: 'cag',
    norms: ['Linf'],
    targeted: false,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      checkGuidance(ctx.model, o.guidance);
      const anchor = ctx.own(guidanceProbs(o.guidance, ctx.x));
      const lossFn = cagObjective(anchor);
      let xAdv = ctx.own(startingPoint(ctx, 'normal', 0));
      // Nothing is read back inside a step (readback.ts): progress every STEPS_PER_READBACK steps
      // when the caller listens, the starting point's checks once at the end.
      const readout = stepReadout(ctx, o.steps);
      const checks = firstStepChecks(ctx);
      try {
        for (let step = 0; step < o.steps; step++) {
          const { grad, loss, logits } = lossAndGradientTensors(ctx.model, xAdv, lossFn);
          logits.dispose();
          if (step === 0) checks.record(grad, loss);
          readout.record(step, loss);
          loss.dispose();
          if (readout.due(step)) await readout.flush();
          const cur = xAdv;
          const next = tf.tidy(() => project(ascentStep(cur, grad, o.alpha, 'Linf'), ctx.x, ctx.eps, 'Linf', ctx.model.bounds));
          grad.dispose();
          xAdv = ctx.swap(xAdv, next);
          await ctx.checkpoint();
        }
        const finalLoss = ctx.reporting ? [tf.tidy(() => lossTensors(ctx.model, xAdv, lossFn)[1])] : [];
        const values = await readout.flush([...finalLoss, ...checks.tensors()]);
        if (ctx.reporting) ctx.reportStep(o.steps, sum(values[0]));
        checks.warn(values.slice(finalLoss.length));
      } finally {
        readout.dispose();
        checks.dispose();
      }
      return xAdv;
    },
  });
}

export interface GenerateCagOptions {
  /** @default 0.031 */
  eps?: number;
  /** @default 0.007 */
  alpha?: number;
  /** @default 10 */
  steps?: number;
  /** Seed of the N(0, I) start; sample i uses stream (seed, i + indexOffset). @default 0 */
  seed?: number;
  /** @default 0 */
  indexOffset?: number;
}

/**
 * CAG for training loops: returns x' `[n, h, w, c]` (owned by the caller) and nothing else — no
 * bounds check, criterion or warnings, one forward/backward pass per step. Same iteration (and, for
 * the same seed, the same numbers) as `createCag(...).run`.
 */
export function generateCag(target: AttackModel, guidance: AttackModel, x: Tensor4D, options: GenerateCagOptions = {}): Tensor4D {
  checkKnownKeys('cag', options, ['eps', 'alpha', 'steps', 'seed', 'indexOffset']);
  const eps = positiveNumber('cag', 'eps', options.eps, CAG_DEFAULTS.eps);
  const alpha = positiveNumber('cag', 'alpha', options.alpha, CAG_DEFAULTS.alpha);
  const steps = positiveInt('cag', 'steps', options.steps, CAG_DEFAULTS.steps);
  const seed = options.seed ?? 0;
  const offset = options.indexOffset ?? 0;
  checkGuidance(target, guidance);
  const [n, h, w, c] = x.shape;
  const d = h * w * c;
  const noise = new Float32Array(n * d);
  const tag = nameTag('cag');
  for (let i = 0; i < n; i++) sampleStream(seed, tag, offset + i, 0).fillNormal(noise.subarray(i * d, (i + 1) * d), 0, 1);
  const anchor = guidanceProbs(guidance, x);
  const lossFn = cagObjective(anchor);
  const xStart = tf.tidy(() => tf.add(x, tf.mul(tf.tensor4d(noise, [n, h, w, c]), NORMAL_START_STD)) as Tensor4D);
  try {
    return ascendLinf(target, x, xStart, lossFn, steps, alpha, eps);
  } finally {
    anchor.dispose();
  }
}
