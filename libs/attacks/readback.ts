/**
 * The read-back rule for iterative attacks: values stay on the device between steps, and a loop
 * reads back at most once per `STEPS_PER_READBACK` steps (progress objectives, early-stop checks,
 * all in one read) plus once after its last step. A read-back on a GPU waits for every queued
 * program to finish and then maps a buffer, so a read inside each step serialises CPU and GPU.
 *
 * - `stepReadout(ctx, steps)`: queues each step's objective (Σ loss, a scalar on the device) while
 *   the caller listens (`onStep`); `due(step)` says when to `flush`, which reads the queued objectives
 *   and any other tensors the loop needs (e.g. "every sample frozen?") in one read-back, then reports
 *   the steps in order. Events arrive in bursts, with the same values and order as one per step.
 * - `firstStepChecks(ctx)`: the zero-gradient and non-finite-loss checks of the starting point, kept
 *   as tensors and read with the loop's final values.
 */
import { tf, type Tensor, type Tensor1D, type Tensor4D } from '../engine/index.js';
import type { StepContext } from './attack.js';
import { checkFiniteLoss, checkZeroGradient } from './checks.js';
import { gradientAbsSumsTensor, takeAllValues } from './gradient.js';

/**
 * Steps between read-backs inside an attack loop. 10 keeps the read-back cost under a tenth of a
 * step's and still lets early stopping and progress react within 10 steps; it was not measured on a
 * real GPU (none was available; the software adapter's timings are not representative). Choose it by
 * measurement there: the smallest value whose read-backs cost little against the steps between them.
 */
export const STEPS_PER_READBACK = 10;

export interface StepReadout {
  /** Queues step `step`'s per-sample objective (not owned; summed on the device) when reporting. */
  record(step: number, loss: Tensor1D): void;
  /** Whether the loop should flush after step `step` (every `STEPS_PER_READBACK` steps, not the last). */
  due(step: number): boolean;
  /**
   * One read-back of the queued objectives (then reported) and of `extra` (taken: disposed), whose
   * values come back in order. Reads nothing when both are empty.
   */
  flush(extra?: readonly Tensor[]): Promise<Float32Array[]>;
  /** Disposes anything still queued (a loop that failed). */
  dispose(): void;
}

export function stepReadout(ctx: StepContext, steps: number): StepReadout {
  const queued: Array<{ step: number; objective: Tensor }> = [];
  return {
    record(step, loss) {
      if (ctx.reporting) queued.push({ step, objective: tf.sum(loss) });
    },
    due: (step) => (step + 1) % STEPS_PER_READBACK === 0 && step + 1 < steps,
    async flush(extra = []) {
      const pending = queued.splice(0);
      const objectives = pending.length ? [tf.stack(pending.map((q) => q.objective))] : [];
      tf.dispose(pending.map((q) => q.objective));
      const values = await takeAllValues([...objectives, ...extra]);
      if (pending.length) pending.forEach((q, i) => ctx.reportStep(q.step, values[0][i]));
      return values.slice(objectives.length);
    },
    dispose() {
      tf.dispose(queued.splice(0).map((q) => q.objective));
    },
  };
}

export interface FirstStepChecks {
  /** Keeps the starting point's Σ|∇| per sample and loss (the caller keeps ownership of its tensors). */
  record(grad: Tensor4D, loss: Tensor1D): void;
  /** The tensors to read with the final values (taken by the read), in `warn`'s order. */
  tensors(): Tensor[];
  /** Raises the warnings from the values read for `tensors()`. */
  warn(values: readonly Float32Array[]): void;
  dispose(): void;
}

export function firstStepChecks(ctx: StepContext): FirstStepChecks {
  let kept: Tensor[] = [];
  return {
    record(grad, loss) {
      kept = [gradientAbsSumsTensor(grad), loss.clone()];
    },
    tensors() {
      const out = kept;
      kept = [];
      return out;
    },
    warn(values) {
      if (values.length < 2) return;
      ctx.warn(checkZeroGradient(values[0], ctx.attack));
      ctx.warn(checkFiniteLoss(values[1], ctx.attack));
    },
    dispose() {
      tf.dispose(kept);
      kept = [];
    },
  };
}
