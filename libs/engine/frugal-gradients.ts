/**
 * Reverse-mode gradients that free memory as they go.
 *
 * tfjs-core's `Engine.gradients` records the forward pass on a tape, then walks it backwards,
 * keeping every intermediate gradient and every tensor an op saved for its backward pass until the
 * whole walk is done. So the peak of a backward pass is the forward's saved activations plus one
 * gradient per taped op output. On PreActResNet-18 that was 39 MiB per image at batch 16, far
 * past the 11 MiB per image the forward pass keeps, and a D2R step at batch 128 could not fit
 * wasm's 4 GiB.
 *
 * This version walks the same filtered tape in the same order with the same gradient functions, so
 * it computes the same gradients, but it frees as it goes:
 * - a tensor's gradient is complete once the op that produced it has been processed (every
 *   consumer comes later on the tape, so earlier in the walk); it is then disposed, unless the
 *   tensor is one of the `xs` asked for or the caller's own `dy`;
 * - an op's saved tensors are disposed once its gradient has run, when no outer tape (higher-order
 *   gradients) may still need them, which is exactly when tfjs disposes them at the end.
 * The peak becomes the saved activations plus the gradients in flight at one point of the network.
 *
 * Installed on the engine instance by `initEngine` (libs/engine/backend.ts); it relies on the
 * engine's documented internal shape (state.activeTape, gradientDepth, scopedRun, startTape/endTape),
 * which `frugal-gradients.spec.ts` checks against tfjs's own implementation: same gradients, same
 * tensor counts afterwards, lower peak.
 */
import { tf } from './tf.js';

interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string | (() => T), f?: () => T): T;
  gradients: GradientsFn;
}

type GradientsFn = (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => { value: tf.Tensor; grads: tf.Tensor[] };

/** The taped ops on a path from one of `xs` to `y`, inputs not on such a path dropped; tape order. */
function pathNodes(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodeToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  return tape
    .filter((node) => nodeFromX.has(node.id) && nodeToY.has(node.id))
    .map((node) => ({ ...node, inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id))) }));
}

function aliases(t: tf.Tensor, grad: ReadonlyMap<number, tf.Tensor>, dys: ReadonlyArray<tf.Tensor | null>, node: TapeNode): boolean {
  if (dys.includes(t) || (node.saved ?? []).includes(t) || Object.values(node.inputs).includes(t)) return true;
  for (const g of grad.values()) if (g === t) return true;
  return false;
}

function frugalGradients(engine: EngineInternals): GradientsFn {
  return function gradients(f, xs, dy, allowNoGradients = false) {
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = engine.state.activeTape ?? [];
    const nodes = pathNodes(tape, xs, y);
    if (!allowNoGradients && nodes.length === 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    // Saved tensors may go early only when no outer tape records this computation.
    const outermost = engine.state.gradientDepth === 0;
    const keep = new Set<number>(xs.map((x) => x.id));
    return engine.tidy('backward', () => {
      const grad = new Map<number, tf.Tensor>();
      grad.set(y.id, dy ?? tf.ones(y.shape));
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i];
        if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
        const inputGradients = node.gradient(dys);
        for (const [name, x] of Object.entries(node.inputs)) {
          const thunk = inputGradients[name];
          if (!thunk) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
          let dx = engine.tidy(() => thunk());
          // A gradient function may hand back a tensor that lives on elsewhere (dy itself, a saved
          // or input tensor, another input's gradient); ours must be its own, since it is freed early.
          if (aliases(dx, grad, dys, node)) dx = dx.clone();
          if (dx.dtype !== 'float32') throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
          }
          const before = grad.get(x.id);
          if (before === undefined) grad.set(x.id, dx);
          else {
            grad.set(x.id, tf.add(before, dx));
            before.dispose();
            dx.dispose();
          }
        }
        // Every consumer of this node's outputs came later on the tape: their gradients are final.
        for (const o of node.outputs) {
          const g = grad.get(o.id);
          if (g === undefined || keep.has(o.id)) continue;
          grad.delete(o.id);
          if (g !== dy) g.dispose();
        }
        if (outermost) for (const t of node.saved ?? []) t.dispose();
      }
      const grads = xs.map((x) => grad.get(x.id) as tf.Tensor);
      if (outermost) {
        for (const node of tape) for (const t of node.saved ?? []) t.dispose();
        engine.state.activeTape = null;
      }
      return { value: y, grads };
    });
  };
}

let installed = false;

/** Replaces the engine's `gradients` with the frugal one (idempotent). */
export function installFrugalGradients(): void {
  if (installed) return;
  const engine = tf.engine() as unknown as EngineInternals;
  for (const method of ['scopedRun', 'startTape', 'endTape', 'tidy', 'gradients'] as const) {
    if (typeof engine[method] !== 'function') throw new Error(`tfjs engine has no ${method}(): frugal gradients do not fit this tfjs version`);
  }
  if (typeof engine.state?.gradientDepth !== 'number') {
    throw new Error('tfjs engine state has no gradientDepth: frugal gradients do not fit this tfjs version');
  }
  engine.gradients = frugalGradients(engine);
  installed = true;
}

/** tfjs's own `gradients`, kept for the comparison test. */
export const stockGradients: GradientsFn = (tf.engine() as unknown as EngineInternals).gradients.bind(tf.engine());
