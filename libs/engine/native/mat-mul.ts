/**
 * `BatchMatMul` and `_FusedMatMul` (bias, linear or ReLU) on oneDNN's sgemm.
 *
 * The transpose flags go to the GEMM as they are: tfjs computes a dense layer's gradients as
 * matmuls with transposeA / transposeB, which the wasm kernel runs ≈12× slower than without (it
 * transposes element by element first). Batch dimensions must be equal or one side's must be all 1
 * (broadcast); other broadcasts, and other activations or bias shapes, run the previous kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { allFloat32, heapView, sizeOf } from './heap.js';

interface Plan {
  batchA: number;
  batchB: number;
  m: number;
  n: number;
  k: number;
  outShape: number[];
}

export function planMatMul(aShape: readonly number[], bShape: readonly number[], transA: boolean, transB: boolean): Plan | undefined {
  const ra = aShape.length;
  const rb = bShape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transA ? aShape[ra - 1] : aShape[ra - 2];
  const k = transA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = transB ? bShape[rb - 1] : bShape[rb - 2];
  const n = transB ? bShape[rb - 2] : bShape[rb - 1];
  if (k !== kb) return undefined;
  const outerA = aShape.slice(0, -2);
  const outerB = bShape.slice(0, -2);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  let outer: readonly number[];
  if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
  else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
  else if (outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i])) outer = outerA;
  else return undefined;
  return { batchA, batchB, m, n, k, outShape: [...outer, m, n] };
}

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

type Args = { inputs: Record<string, TensorInfo | undefined>; backend: unknown; attrs: NamedAttrMap };

function run(addon: NativeAddon, args: Args, plan: Plan, bias: TensorInfo | undefined, activation: number): TensorInfo {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(plan.outShape, 'float32');
  const c = heapView(backend, out);
  addon.matMul(heapView(backend, a), heapView(backend, b), c, plan.batchA, plan.batchB, plan.m, plan.n, plan.k, Boolean(args.attrs.transposeA), Boolean(args.attrs.transposeB));
  if (bias || activation !== 0) addon.biasActivation(c, sizeOf(plan.outShape) / plan.n, plan.n, bias ? heapView(backend, bias) : null, activation);
  return out;
}

export function createBatchMatMul(addon: NativeAddon, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const plan = allFloat32(a, b) ? planMatMul(a.shape, b.shape, Boolean(args.attrs.transposeA), Boolean(args.attrs.transposeB)) : undefined;
    if (!plan || plan.k === 0) return previous(args as never);
    return run(addon, args, plan, undefined, 0);
  }) as unknown as KernelFunc;
}

export function createFusedMatMul(addon: NativeAddon, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const activation = ACTIVATIONS[(args.attrs.activation as string | undefined) ?? 'linear'];
    const plan =
      a && b && activation !== undefined && !preluActivationWeights && allFloat32(a, b, bias)
        ? planMatMul(a.shape, b.shape, Boolean(args.attrs.transposeA), Boolean(args.attrs.transposeB))
        : undefined;
    // A bias broadcasts along the last axis only: one value, or one per output column.
    const biasOk = !bias || sizeOf(bias.shape) === 1 || (plan !== undefined && sizeOf(bias.shape) === plan.n && bias.shape[bias.shape.length - 1] === plan.n);
    if (!plan || plan.k === 0 || !biasOk) return previous(args as never);
    return run(addon, args, plan, bias, activation);
  }) as unknown as KernelFunc;
}
