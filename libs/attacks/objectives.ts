/**
 * The losses an iterative attack can maximise, by name (a table, not a chain of ifs), built for one
 * context: untargeted runs push away from the true label, targeted runs towards `ctx.targets`.
 */
import { tf, type Tensor2D } from '../engine/index.js';
import type { StepContext } from './attack.js';
import { AttackError } from './errors.js';
import { crossEntropy, cwMargin, klDivergence, oneHotRows, targetedCrossEntropy, targetedCwMargin, type LossFn } from './losses.js';

export const PGD_LOSSES = ['ce', 'kl', 'cw'] as const;
/** `ce`: cross-entropy; `kl`: TRADES KL(p(x) ‖ p(x')) from the clean prediction; `cw`: CW margin. */
export type PgdLoss = (typeof PGD_LOSSES)[number];

const OBJECTIVES: { readonly [K in PgdLoss]: (ctx: StepContext) => LossFn } = {
  ce: (ctx) =>
    ctx.targets
      ? targetedCrossEntropy(ctx.own(oneHotRows(ctx.targets, ctx.model.numClasses)))
      : crossEntropy(ctx.own(oneHotRows(ctx.labels, ctx.model.numClasses))),
  cw: (ctx) =>
    ctx.targets
      ? targetedCwMargin(ctx.own(oneHotRows(ctx.targets, ctx.model.numClasses)))
      : cwMargin(ctx.own(oneHotRows(ctx.labels, ctx.model.numClasses))),
  kl: (ctx) => {
    if (ctx.targets) {
      throw new AttackError('unsupported', `${ctx.attack}: the kl loss is untargeted (it moves away from the clean prediction)`, {
        field: 'loss',
      });
    }
    const anchor = ctx.own(tf.tidy(() => tf.softmax(tf.tensor2d(ctx.cleanLogits, [ctx.n, ctx.model.numClasses])) as Tensor2D));
    return klDivergence(anchor);
  },
};

/** The named loss for this context; tensors it needs are owned by the context's run. */
export function objective(ctx: StepContext, loss: PgdLoss): LossFn {
  return OBJECTIVES[loss](ctx);
}
