/**
 * FGSM — Fast Gradient Sign Method.
 *
 * Paper: Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples",
 * arXiv:1412.6572. Threat model: white-box, one gradient step of size ε on the cross-entropy:
 * L∞ — x' = x + ε·sign(∇ₓ CE); L2 — the fast gradient method x' = x + ε·∇ₓ CE / ‖∇ₓ CE‖₂.
 * Targeted criteria descend the cross-entropy of the target class instead.
 *
 * Example: `await createFgsm().run(model, x, y, { eps: 0.3 })` → x', one result per ε.
 */
import { tf, type Tensor4D } from '../engine/index.js';
import { defineAttack, type StepContext } from './attack.js';
import { checkFiniteLoss, checkZeroGradient } from './checks.js';
import { gradientAbsSums, lossAndGradient } from './gradient.js';
import { ascentStep } from './norms.js';
import { objective } from './objectives.js';
import { checkKnownKeys } from './options.js';
import type { Attack } from './types.js';

/** FGSM has no options: the step size is ε. */
export type FgsmOptions = Record<string, never>;

export function createFgsm(options: FgsmOptions = {}): Attack {
  checkKnownKeys('fgsm', options, []);
  return defineAttack({
    name: 'fgsm',
    norms: ['Linf', 'L2'],
    targeted: true,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      const { grad, loss } = await lossAndGradient(ctx.model, ctx.x, objective(ctx, 'ce'));
      try {
        ctx.warn(checkZeroGradient(await gradientAbsSums(grad), ctx.attack));
        ctx.warn(checkFiniteLoss(loss, ctx.attack));
        ctx.reportStep(0, loss.reduce((a, b) => a + b, 0));
        return tf.tidy(() => ascentStep(ctx.x, grad, ctx.eps, ctx.norm));
      } finally {
        grad.dispose();
      }
    },
  });
}
