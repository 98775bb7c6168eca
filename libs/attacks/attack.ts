/**
 * The shared attack wrapper (house habit 3): every attack supplies only its step logic
 * (`AttackSteps.perturb`); `defineAttack` turns it into an `Attack` that
 *
 * - validates run options once (eps list, norm, seed, batch size) and the inputs (rank, labels,
 *   targets, values inside `model.bounds`),
 * - processes the batch in chunks, calls the steps once per chunk and epsilon,
 * - projects every output onto the ε-ball (in the run's norm) and into the bounds,
 * - decides success with the criterion, keeping the clean input where it already meets the
 *   criterion (per-sample worst case),
 * - runs the cheap sanity checks and collects warnings,
 * - disposes every tensor it or the steps created except the returned `raw`/`clipped` tensors, also
 *   when the run fails or is aborted.
 *
 * Randomness is drawn from per-sample streams keyed by (seed, attack name, global sample index,
 * stream), so results do not depend on chunking, on which other samples share a batch, or on how a
 * batch is sharded over workers (only on the backend's arithmetic).
 */
import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '../engine/index.js';
import { createRng, deriveSeed, type Rng } from '../data/index.js';
import { checkSoftmaxOutput, type CheckWarning } from './checks.js';
import { evaluateCriterion, misclassification } from './criteria.js';
import { AttackError, throwIfAborted } from './errors.js';
import { takeValues } from './gradient.js';
import { logitsValues } from './model.js';
import { project } from './norms.js';
import { selectRows } from './rows.js';
import { compileRunOptions } from './options.js';
import type { Attack, AttackModel, AttackResult, Criterion, EpsilonResult, Labels, Norm, RunOptions, StageResult, StepEvent } from './types.js';

/** What an attack's step logic sees: one chunk (or subset) of the batch at one epsilon. */
export interface StepContext {
  /** Name of the running attack (or AutoAttack stage); keys the random streams. */
  readonly attack: string;
  readonly model: AttackModel;
  /** Clean inputs `[n, h, w, c]`, inside the bounds. Owned by the wrapper: never dispose. */
  readonly x: Tensor4D;
  readonly n: number;
  readonly labels: Int32Array;
  /** Target class per sample when the criterion is targeted. */
  readonly targets: Int32Array | undefined;
  /** Logits of the clean inputs, `[n * numClasses]`. */
  readonly cleanLogits: Float32Array;
  readonly eps: number;
  readonly norm: Norm;
  readonly criterion: Criterion;
  /** True when the caller listens to steps (skip computing objectives otherwise). */
  readonly reporting: boolean;
  /** A random stream for one sample (row of this context); same (row's global index, stream) → same numbers. */
  sampleRng(row: number, stream: number): Rng;
  /** A random stream shared by all samples (e.g. Square's window positions). */
  sharedRng(stream: number): Rng;
  /** Per-row success of logits `[n * numClasses]` under the run's criterion. */
  isAdversarial(logits: Float32Array): Uint8Array;
  /**
   * The same on the device: bool `[n]` for logits `[n, numClasses]` (owned by the caller), or
   * `undefined` when the criterion has no device form (then read the logits and use `isAdversarial`).
   */
  adversarialMask(logits: Tensor2D): Tensor1D | undefined;
  /** Registers a tensor to be disposed when the run ends, whatever happens. Returns it. */
  own<T extends Tensor>(t: T): T;
  /** Disposes `old` now and owns `next` (for state that is replaced each step). Returns `next`. */
  swap<T extends Tensor>(old: T | undefined, next: T): T;
  /** Yields to the event loop, then throws `AttackError('aborted')` if the signal fired. */
  checkpoint(): Promise<void>;
  reportStep(step: number, objective: number, samples?: number): void;
  warn(warning: CheckWarning | undefined): void;
  /** Composed attacks: records which rows are still robust after a stage. */
  recordStage(name: string, robust: Uint8Array): void;
  /** A context over some rows of this one (gathered), optionally for another attack's steps. */
  subset(rows: Int32Array, attack?: string): StepContext;
  /** Disposes the tensors this context created for itself (a subset's gathered inputs). */
  release(): void;
}

/** An attack's step logic: everything else is the wrapper's job. */
export interface AttackSteps {
  readonly name: string;
  readonly norms: readonly Norm[];
  /** Whether the steps honour targeted criteria (`ctx.targets`). */
  readonly targeted: boolean;
  /**
   * Returns the adversarial inputs for `ctx.x` (same shape; a new tensor, or `ctx.x` itself). The
   * wrapper projects them; the steps should still keep iterates feasible, since gradients are taken
   * there.
   */
  perturb(ctx: StepContext): Promise<Tensor4D>;
  /** Composed attacks: checks on the whole batch's stage results (e.g. `black-box-stronger`). */
  checkStages?(stages: readonly StageResult[]): CheckWarning[];
}

interface RunState {
  readonly model: AttackModel;
  readonly criterion: Criterion;
  readonly seed: number;
  readonly signal: AbortSignal | undefined;
  readonly onStep: ((event: StepEvent) => void) | undefined;
  readonly owned: Set<Tensor>;
  readonly warnings: Map<string, CheckWarning>;
}

interface Part {
  attack: string;
  x: Tensor4D;
  labels: Int32Array;
  targets: Int32Array | undefined;
  indices: Int32Array;
  cleanLogits: Float32Array;
  eps: number;
  norm: Norm;
}

type StageSink = (name: string, robust: Uint8Array) => void;

/** The run each context belongs to (for `attackRows`). */
const stateOf = new WeakMap<StepContext, RunState>();

/** FNV-1a of a name: the attack's tag in random-stream seeds. */
export function nameTag(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The random stream of one sample: (seed, attack tag, global sample index, stream number). */
export function sampleStream(seed: number, tag: number, index: number, stream: number): Rng {
  return createRng(deriveSeed(seed, tag, index, stream));
}

function addWarning(state: RunState, w: CheckWarning | undefined): void {
  if (!w) return;
  const key = `${w.id}:${w.attack}`;
  const prev = state.warnings.get(key);
  if (!prev) state.warnings.set(key, w);
  else if (prev.count !== undefined && w.count !== undefined) state.warnings.set(key, { ...prev, count: prev.count + w.count });
}

function makeContext(state: RunState, part: Part, sink: StageSink | undefined, selfOwned: Tensor[] = []): StepContext {
  const tag = nameTag(part.attack);
  const numClasses = state.model.numClasses;
  // Labels and targets on the device, made on first use and kept for the context's life.
  let onDevice: { labels: Tensor1D; targets: Tensor1D | undefined } | undefined;
  const deviceLabels = () => {
    if (!onDevice) {
      const made = { labels: tf.tensor1d(part.labels, 'int32'), targets: part.targets && tf.tensor1d(part.targets, 'int32') };
      for (const t of [made.labels, made.targets]) {
        if (!t) continue;
        state.owned.add(t);
        selfOwned.push(t);
      }
      onDevice = made;
    }
    return onDevice;
  };
  const ctx: StepContext = {
    attack: part.attack,
    model: state.model,
    x: part.x,
    n: part.labels.length,
    labels: part.labels,
    targets: part.targets,
    cleanLogits: part.cleanLogits,
    eps: part.eps,
    norm: part.norm,
    criterion: state.criterion,
    reporting: state.onStep !== undefined,
    sampleRng: (row, stream) => sampleStream(state.seed, tag, part.indices[row], stream),
    sharedRng: (stream) => createRng(deriveSeed(state.seed, tag, -1, stream)),
    isAdversarial: (logits) => evaluateCriterion(state.criterion, logits, numClasses, part.labels, part.targets),
    adversarialMask(logits) {
      const mask = state.criterion.adversarialMask;
      if (!mask) return undefined;
      const { labels, targets } = deviceLabels();
      return mask(logits, labels, targets);
    },
    own(t) {
      state.owned.add(t);
      return t;
    },
    swap(old, next) {
      if (old && old !== next) {
        state.owned.delete(old);
        old.dispose();
      }
      state.owned.add(next);
      return next;
    },
    async checkpoint() {
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(state.signal);
    },
    reportStep(step, objective, samples = part.labels.length) {
      state.onStep?.({ attack: part.attack, step, objective, samples });
    },
    warn: (w) => addWarning(state, w),
    recordStage(name, robust) {
      sink?.(name, robust);
    },
    subset(rows, attack = part.attack) {
      const idx = tf.tensor1d(rows, 'int32');
      const x = tf.gather(part.x, idx) as Tensor4D;
      idx.dispose();
      state.owned.add(x);
      const pick = (a: Int32Array) => Int32Array.from(rows, (r) => a[r]);
      const cleanLogits = new Float32Array(rows.length * numClasses);
      rows.forEach((r, i) => cleanLogits.set(part.cleanLogits.subarray(r * numClasses, (r + 1) * numClasses), i * numClasses));
      return makeContext(
        state,
        {
          ...part,
          attack,
          x,
          labels: pick(part.labels),
          targets: part.targets && pick(part.targets),
          indices: pick(part.indices),
          cleanLogits,
        },
        undefined,
        [x],
      );
    },
    release() {
      for (const t of selfOwned) {
        state.owned.delete(t);
        t.dispose();
      }
    },
  };
  stateOf.set(ctx, state);
  return ctx;
}

interface Projected {
  raw: Tensor4D;
  clipped: Tensor4D;
  success: Uint8Array;
}

/** Runs the steps on a context, then the shared projection and criterion. The caller owns the tensors. */
async function perturbAndProject(steps: AttackSteps, ctx: StepContext, state: RunState): Promise<Projected> {
  let raw = await steps.perturb(ctx);
  if (raw === ctx.x) raw = raw.clone();
  state.owned.delete(raw);
  try {
    if (raw.shape.join() !== ctx.x.shape.join()) {
      throw new Error(`${steps.name} returned shape [${raw.shape}] for inputs [${ctx.x.shape}]`);
    }
    const clipped = project(raw, ctx.x, ctx.eps, ctx.norm, state.model.bounds);
    const success = ctx.isAdversarial(await logitsValues(state.model, clipped));
    return { raw, clipped, success };
  } catch (error) {
    raw.dispose();
    throw error;
  }
}

/**
 * Runs another attack's steps on some rows of `ctx` (AutoAttack's stages, restarts on the samples
 * still robust) and returns the projected inputs `[rows * d]` and their success. Leaves no tensors.
 */
export async function attackRows(
  steps: AttackSteps,
  ctx: StepContext,
  rows: Int32Array,
): Promise<{ clipped: Float32Array; success: Uint8Array }> {
  const sub = ctx.subset(rows, steps.name);
  const state = stateOf.get(ctx);
  if (!state) throw new Error('attackRows needs a context made by the attack wrapper');
  try {
    const { raw, clipped, success } = await perturbAndProject(steps, sub, state);
    raw.dispose();
    const values = await takeValues(clipped);
    return { clipped: values, success };
  } finally {
    sub.release();
  }
}

async function toLabels(y: Labels, n: number, numClasses: number): Promise<Int32Array> {
  let values: ArrayLike<number>;
  if (y instanceof Int32Array || Array.isArray(y)) values = y as ArrayLike<number>;
  else if (typeof (y as Tensor).data === 'function') {
    const t = y as Tensor;
    if (t.rank !== 1) throw new AttackError('invalid-argument', `labels must be a rank-1 tensor; got shape [${t.shape}]`, { field: 'y' });
    values = await t.data();
  } else throw new AttackError('invalid-argument', 'labels must be an Int32Array, a number[] or a rank-1 tensor', { field: 'y' });
  if (values.length !== n) throw new AttackError('invalid-argument', `${values.length} labels for ${n} inputs`, { field: 'y' });
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new AttackError('invalid-argument', `label ${i} is ${v}; expected an integer in [0, ${numClasses})`, { field: 'y' });
    }
    out[i] = v;
  }
  return out;
}

async function checkInputs(model: AttackModel, x: Tensor4D, criterion: Criterion): Promise<void> {
  if (x.rank !== 4 || x.dtype !== 'float32') {
    throw new AttackError('invalid-argument', `inputs must be a float32 tensor [n, h, w, c]; got ${x.dtype} [${x.shape}]`, { field: 'x' });
  }
  if (x.shape[0] === 0) throw new AttackError('invalid-argument', 'inputs are an empty batch', { field: 'x' });
  const [lo, hi] = model.bounds;
  const [min, max] = await takeValues(tf.tidy(() => tf.stack([tf.min(x), tf.max(x)])));
  if (!(min >= lo && max <= hi)) {
    throw new AttackError('invalid-argument', `inputs span [${min}, ${max}], outside the model's bounds [${lo}, ${hi}]`, { field: 'x' });
  }
  const t = criterion.targets;
  if (t) {
    if (t.length !== x.shape[0]) throw new AttackError('invalid-argument', `${t.length} targets for ${x.shape[0]} inputs`, { field: 'targets' });
    for (let i = 0; i < t.length; i++) {
      if (t[i] >= model.numClasses) {
        throw new AttackError('invalid-argument', `target ${i} is ${t[i]}; the model has ${model.numClasses} classes`, { field: 'targets' });
      }
    }
  }
}

function concatRows(parts: Tensor4D[]): Tensor4D {
  if (parts.length === 1) return parts[0];
  const out = tf.concat(parts, 0) as Tensor4D;
  for (const p of parts) p.dispose();
  return out;
}

/** Turns step logic into an `Attack` with the shared checks, projection, criterion and disposal. */
export function defineAttack(steps: AttackSteps): Attack {
  return {
    name: steps.name,
    norms: steps.norms,
    run: (model, x, y, options) => runAttack(steps, model, x, y, options),
  };
}

async function runAttack(steps: AttackSteps, model: AttackModel, x: Tensor4D, y: Labels, options: RunOptions): Promise<AttackResult> {
  const opts = compileRunOptions(steps.name, options);
  if (!steps.norms.includes(opts.norm)) {
    throw new AttackError('unsupported', `${steps.name} supports ${steps.norms.join(', ')}, not ${opts.norm}`, { field: 'norm' });
  }
  const criterion = options.criterion ?? misclassification();
  if (criterion.targets && !steps.targeted) {
    throw new AttackError('unsupported', `${steps.name} is untargeted; it cannot use the ${criterion.name} criterion`, { field: 'criterion' });
  }
  await checkInputs(model, x, criterion);
  const n = x.shape[0];
  const labels = await toLabels(y, n, model.numClasses);
  throwIfAborted(opts.signal);

  const state: RunState = {
    model,
    criterion,
    seed: opts.seed,
    signal: opts.signal,
    onStep: opts.onStep,
    owned: new Set(),
    warnings: new Map(),
  };
  const perEps = opts.eps.map(() => ({
    raw: [] as Tensor4D[],
    clipped: [] as Tensor4D[],
    success: new Uint8Array(n),
    stages: new Map<string, { robust: number; n: number }>(),
  }));
  const clean = new Uint8Array(n);
  try {
    for (let start = 0; start < n; start += opts.batchSize) {
      const size = Math.min(opts.batchSize, n - start);
      const xChunk = tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]);
      state.owned.add(xChunk);
      const cleanLogits = await logitsValues(model, xChunk);
      const chunkLabels = labels.subarray(start, start + size);
      const chunkTargets = criterion.targets?.subarray(start, start + size);
      const cleanChunk = evaluateCriterion(criterion, cleanLogits, model.numClasses, chunkLabels, chunkTargets);
      clean.set(cleanChunk, start);
      addWarning(state, checkSoftmaxOutput(cleanLogits, model.numClasses, steps.name));
      const indices = Int32Array.from({ length: size }, (_, i) => opts.indexOffset + start + i);

      for (let k = 0; k < opts.eps.length; k++) {
        const out = perEps[k];
        const sink: StageSink = (name, robust) => {
          const s = out.stages.get(name) ?? { robust: 0, n: 0 };
          s.robust += robust.reduce((a, b) => a + b, 0);
          s.n += robust.length;
          out.stages.set(name, s);
        };
        const part: Part = {
          attack: steps.name,
          x: xChunk,
          labels: chunkLabels,
          targets: chunkTargets,
          indices,
          cleanLogits,
          eps: opts.eps[k],
          norm: opts.norm,
        };
        const ctx = makeContext(state, part, sink);
        const { raw, clipped, success } = await perturbAndProject(steps, ctx, state);
        out.raw.push(raw);
        // Where the clean input already meets the criterion, it is the worst case at distance 0.
        const keepClean = new Uint8Array(size);
        let anyKeep = false;
        for (let i = 0; i < size; i++) {
          if (cleanChunk[i] && !success[i]) {
            keepClean[i] = 1;
            success[i] = 1;
            anyKeep = true;
          }
        }
        if (anyKeep) {
          const fixed = selectRows(keepClean, xChunk, clipped);
          clipped.dispose();
          out.clipped.push(fixed);
        } else out.clipped.push(clipped);
        out.success.set(success, start);
        await ctx.checkpoint();
      }
      state.owned.delete(xChunk);
      xChunk.dispose();
    }

    const cleanAccuracy = 1 - clean.reduce((a, b) => a + b, 0) / n;
    const results: EpsilonResult[] = perEps.map((out, k) => {
      const robust = n - out.success.reduce((a, b) => a + b, 0);
      const result: EpsilonResult = {
        eps: opts.eps[k],
        raw: concatRows(out.raw),
        clipped: concatRows(out.clipped),
        success: out.success,
        robustAccuracy: robust / n,
      };
      if (out.stages.size === 0) return result;
      const stages: StageResult[] = [...out.stages].map(([name, s]) => ({ name, robust: s.robust, n: s.n, robustAccuracy: s.n ? s.robust / s.n : 0 }));
      for (const w of steps.checkStages?.(stages) ?? []) addWarning(state, w);
      return { ...result, stages };
    });
    return { attack: steps.name, norm: opts.norm, clean, cleanAccuracy, results, warnings: [...state.warnings.values()] };
  } catch (error) {
    for (const out of perEps) for (const t of [...out.raw, ...out.clipped]) t.dispose();
    throw error;
  } finally {
    for (const t of state.owned) t.dispose();
    state.owned.clear();
  }
}
