/**
 * A scope for composing wasm kernels at the TensorInfo level.
 *
 * Every intermediate a kernel returns is recorded and released with `backend.disposeData` when the
 * scope ends, except the one result the composed kernel returns (also on error, so a failed call
 * leaks nothing). Reshapes share the input's memory and only add a reference, so they are released
 * the same way.
 *
 * Measured costs on the tfjs 4.22 wasm backend (one thread, float32), which the kernels are built
 * around:
 * - `Conv2D` / `DepthwiseConv2dNative` run XNNPACK (≈16–19 GFLOP/s); each call with a new filter
 *   tensor repacks it (≈13–18 ns per filter element).
 * - `Transpose` runs specialised loops for rank ≤ 4 and a generic per-element path for rank ≥ 5
 *   (≈100× slower): `transpose` below merges dimensions that stay adjacent so the wasm kernel sees
 *   the lowest rank. A permutation that keeps the innermost dimension in place costs ≈1 ns per
 *   element, one that moves it 4–17 ns.
 * - `PadV2` ≈1.5 ns per element; `Concat` along axis 0 is a memcpy; `Slice` copies its whole input
 *   first (JavaScript), so it is used for crops only.
 * - `StridedSlice` with strides, `GatherV2`, `BatchToSpaceND` and `BatchMatMul` with transpose flags
 *   cost 100–250 ns per element: never used.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';

type KernelInputs = Record<string, TensorInfo> | TensorInfo[];

export interface KernelScope {
  readonly backend: BackendWasm;
  /** Runs a registered wasm kernel; its output is released when the scope ends. */
  run(kernelName: string, inputs: KernelInputs, attrs?: NamedAttrMap): TensorInfo;
  reshape(x: TensorInfo, shape: number[]): TensorInfo;
  /** Transpose with dimensions of size 1 dropped and adjacent dimensions merged (see header). */
  transpose(x: TensorInfo, perm: number[]): TensorInfo;
  /** Zero padding; `paddings[i] = [before, after]`, both ≥ 0. */
  pad(x: TensorInfo, paddings: Array<[number, number]>): TensorInfo;
  /** Contiguous crop, `size[i] = -1` keeps the rest of that axis. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo;
  concat(xs: TensorInfo[], axis: number): TensorInfo;
  /** A float32 tensor holding a copy of `values`. */
  fromValues(shape: number[], values: Float32Array): TensorInfo;
  zeros(shape: number[]): TensorInfo;
  /** The float32 values of a (small) tensor, copied out of the wasm heap. */
  read(x: TensorInfo): Float32Array;
}

/**
 * Runs `body` in a scope and returns its result; every other tensor created through the scope is
 * released. `body` may return one of its inputs' reshapes: it keeps its own reference.
 */
export function withKernelScope(backendIn: unknown, body: (scope: KernelScope) => TensorInfo): TensorInfo {
  const backend = backendIn as BackendWasm;
  const temps: TensorInfo[] = [];
  const track = (t: TensorInfo): TensorInfo => {
    temps.push(t);
    return t;
  };
  const run = (kernelName: string, inputs: KernelInputs, attrs: NamedAttrMap = {}): TensorInfo => {
    const out = kernelFunc(kernelName)({ inputs: inputs as never, backend, attrs });
    if (Array.isArray(out)) throw new Error(`wasm kernel ${kernelName} returned several outputs`);
    return track(out);
  };
  const reshape = (x: TensorInfo, shape: number[]): TensorInfo => run('Reshape', { x }, { shape });
  const scope: KernelScope = {
    backend,
    run,
    reshape,
    transpose(x, perm) {
      const { shape, perm: p } = simplifyTranspose(x.shape, perm);
      const outShape = perm.map((d) => x.shape[d]);
      if (p.every((d, i) => d === i)) return reshape(x, outShape);
      const t = run('Transpose', { x: reshape(x, shape) }, { perm: p });
      return reshape(t, outShape);
    },
    pad(x, paddings) {
      if (paddings.every(([a, b]) => a === 0 && b === 0)) return reshape(x, x.shape);
      if (paddings.some(([a, b]) => a < 0 || b < 0)) throw new Error(`negative padding ${JSON.stringify(paddings)}`);
      return run('PadV2', { x }, { paddings, constantValue: 0 });
    },
    slice(x, begin, size) {
      const full = size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
      if (full.every((s, i) => s === x.shape[i])) return reshape(x, x.shape);
      // Merge the trailing axes that are taken whole so that each copied run is as long as possible.
      let k = x.shape.length;
      while (k > 1 && full[k - 1] === x.shape[k - 1] && begin[k - 1] === 0) k--;
      const inner = x.shape.slice(k).reduce((a, b) => a * b, 1);
      const xr = reshape(x, [...x.shape.slice(0, k - 1), x.shape[k - 1] * inner]);
      const out = run('Slice', { x: xr }, { begin: [...begin.slice(0, k - 1), begin[k - 1] * inner], size: [...full.slice(0, k - 1), full[k - 1] * inner] });
      return reshape(out, full);
    },
    concat(xs, axis) {
      if (xs.length === 1) return reshape(xs[0], xs[0].shape);
      return run('Concat', xs, { axis });
    },
    fromValues(shape, values) {
      return track(backend.makeOutput(shape, 'float32', undefined, values));
    },
    zeros(shape) {
      return track(backend.makeOutput(shape, 'float32', undefined, new Float32Array(sizeOf(shape))));
    },
    read(x) {
      return backend.readSync(x.dataId) as Float32Array;
    },
  };
  let result: TensorInfo | undefined;
  try {
    result = body(scope);
    // The result must outlive the scope: take a reference of our own when it is one of the temps.
    const own = temps.indexOf(result);
    if (own >= 0) {
      temps.splice(own, 1);
    } else {
      result = reshape(result, result.shape);
      temps.pop();
    }
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
  return result as TensorInfo;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Drops size-1 axes and merges runs of axes that stay adjacent and in order under `perm`, which the
 * wasm Transpose does not do itself (its rank ≥ 5 path is ≈100× slower).
 */
export function simplifyTranspose(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const keep = perm.filter((d) => shape[d] !== 1);
  // Groups of input axes that appear consecutively (d, d+1, …) in the output order.
  const groups: number[][] = [];
  for (const d of keep) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === d) last.push(d);
    else groups.push([d]);
  }
  // Input order of the groups gives the new input shape; their output order gives the permutation.
  const byInput = [...groups].sort((a, b) => a[0] - b[0]);
  const newShape = byInput.map((g) => g.reduce((acc, d) => acc * shape[d], 1));
  const newPerm = groups.map((g) => byInput.indexOf(g));
  if (newShape.length === 0) return { shape: [1], perm: [0] };
  return { shape: newShape, perm: newPerm };
}

const kernels = new Map<string, tf.KernelFunc>();

/** The wasm backend's kernel function for `name`, captured the first time it is asked for. */
export function kernelFunc(name: string): tf.KernelFunc {
  let f = kernels.get(name);
  if (!f) {
    const config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`wasm backend has no ${name} kernel`);
    f = config.kernelFunc;
    kernels.set(name, f);
  }
  return f;
}
