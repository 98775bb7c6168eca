/**
 * SGD with momentum and weight decay, updating exactly as PyTorch's `torch.optim.SGD` (dampening 0,
 * no Nesterov) does:
 *
 *   d_p = g + wd · w          (weight decay added to the gradient, every parameter, BN included)
 *   buf = μ · buf + d_p       (buf starts at 0, so the first step gives buf = d_p, as PyTorch's clone)
 *   w   = w − lr · buf
 *
 * A parameter that received no gradient this step is skipped entirely (PyTorch skips `p.grad is None`).
 * The momentum buffers are the whole state: `exportState` / `importState` copy them out and in
 * bit-exactly, so a checkpointed run resumes with the same updates.
 */
import { tf, type Tensor, type Variable } from '../engine/index.js';
import { invalidArgument, TrainingError } from './errors.js';

export interface SgdOptions {
  /** Momentum μ in [0, 1). @default 0.9 */
  momentum?: number;
  /** Weight decay (L2 coefficient added to the gradient), ≥ 0. @default 2e-4 */
  weightDecay?: number;
}

/** One momentum buffer, as plain values. */
export interface SgdBuffer {
  /**
   * Name of the parameter (e.g. `target/conv1/kernel`), for people reading a checkpoint. Imports
   * match buffers by position and shape, since auto-generated layer names differ between processes.
   */
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Everything `importState` needs to continue a run. */
export interface SgdState {
  momentum: number;
  weightDecay: number;
  /** Steps taken so far. */
  steps: number;
  buffers: SgdBuffer[];
}

export interface Sgd {
  /** The parameters, in update order. */
  readonly variables: readonly Variable[];
  /** Stable parameter names (checkpoint keys), one per variable. */
  readonly names: readonly string[];
  readonly momentum: number;
  readonly weightDecay: number;
  /** Steps taken so far. */
  readonly steps: number;
  /**
   * One update: `grads[i]` is the gradient of `variables[i]` (`undefined` skips it). `lr` > 0.
   * Does not dispose the gradients.
   */
  step(grads: ReadonlyArray<Tensor | undefined>, lr: number): void;
  /** Copies of the momentum buffers and counters. */
  exportState(): Promise<SgdState>;
  /** Restores state exported from an optimizer over the same parameters (count and shapes checked). */
  importState(state: SgdState): void;
  dispose(): void;
}

/**
 * SGD over `variables` (e.g. the union of the target's and the guidance model's trainable weights).
 * `names` are stable keys for checkpoints; they default to the variables' names.
 */
export function createSgd(variables: readonly Variable[], options: SgdOptions = {}, names?: readonly string[]): Sgd {
  const momentum = options.momentum ?? 0.9;
  const weightDecay = options.weightDecay ?? 2e-4;
  if (!(Number.isFinite(momentum) && momentum >= 0 && momentum < 1)) throw invalidArgument('momentum', `must be in [0, 1); got ${momentum}`);
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) throw invalidArgument('weightDecay', `must be ≥ 0; got ${weightDecay}`);
  const keys = names ? [...names] : variables.map((v) => v.name);
  if (keys.length !== variables.length) throw invalidArgument('names', `${keys.length} names for ${variables.length} variables`);
  if (new Set(variables).size !== variables.length) throw invalidArgument('variables', 'a variable appears twice');
  const buffers = variables.map((v) => {
    const zeros = tf.zerosLike(v);
    const buffer = tf.variable(zeros, false); // the variable keeps its own reference to the data
    zeros.dispose();
    return buffer;
  });
  let steps = 0;
  let disposed = false;

  return {
    variables,
    names: keys,
    momentum,
    weightDecay,
    get steps() {
      return steps;
    },
    step(grads, lr) {
      if (disposed) throw new TrainingError('invalid-argument', 'the optimizer was disposed', { field: 'optimizer' });
      if (grads.length !== variables.length) throw invalidArgument('grads', `${grads.length} gradients for ${variables.length} variables`);
      if (!(Number.isFinite(lr) && lr > 0)) throw invalidArgument('lr', `must be > 0; got ${lr}`);
      tf.tidy(() => {
        for (let i = 0; i < variables.length; i++) {
          const g = grads[i];
          if (g === undefined) continue;
          const w = variables[i];
          const dp = weightDecay === 0 ? g : tf.add(g, tf.mul(w, weightDecay));
          const buf = momentum === 0 ? dp : tf.add(tf.mul(buffers[i], momentum), dp);
          if (momentum !== 0) buffers[i].assign(buf);
          w.assign(tf.sub(w, tf.mul(buf, lr)));
        }
      });
      steps++;
    },
    async exportState() {
      const out: SgdBuffer[] = [];
      for (let i = 0; i < buffers.length; i++) {
        out.push({ name: keys[i], shape: [...buffers[i].shape], values: Float32Array.from((await buffers[i].data()) as Float32Array) });
      }
      return { momentum, weightDecay, steps, buffers: out };
    },
    importState(state) {
      const where = 'optimizer state';
      if (state.buffers.length !== buffers.length) {
        throw new TrainingError('corrupt', `${where} has ${state.buffers.length} buffers; the models have ${buffers.length} trainable weights`);
      }
      state.buffers.forEach((b, i) => {
        const shape = buffers[i].shape;
        if (b.shape.length !== shape.length || b.shape.some((d, k) => d !== shape[k])) {
          throw new TrainingError(
            'corrupt',
            `${where}: buffer ${i} is ${b.name} [${b.shape.join(', ')}]; expected ${keys[i]} [${shape.join(', ')}]`,
          );
        }
        if (b.values.length !== buffers[i].size) {
          throw new TrainingError('corrupt', `${where}: buffer ${b.name} has ${b.values.length} values; expected ${buffers[i].size}`);
        }
      });
      state.buffers.forEach((b, i) => tf.tidy(() => buffers[i].assign(tf.tensor(b.values, b.shape, 'float32'))));
      steps = state.steps;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      buffers.forEach((b) => b.dispose());
    },
  };
}
