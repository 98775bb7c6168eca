/**
 * `Conv2DBackpropFilter` as an implicit GEMM whose long axis is the reduction:
 *
 *   dW[m, co] = Σ_k A[m, k] · dy[k, co],  m = (kh, kw, ci),  k = (n, oh, ow)
 *   A[m, k]   = x[n, oh·sH − padT + kh, ow·sW − padL + kw, ci]   (0 outside the image)
 *
 * M·Cout (the filter) is small and K = N·OH·OW large, so a grid over the filter alone leaves most of
 * a GPU idle (the shipped kernel runs one thread per filter element, looping over all of K). Here K
 * is split (split-K): workgroup z reduces its own range of K into partial sums [splits, M·Cout],
 * and a second pass adds the splits. The split count is chosen from the tile grid so that the first
 * pass has about `targetWorkgroups` workgroups (config.ts), and is capped by the storage-buffer
 * binding size. With one split the GEMM writes dW directly.
 *
 * Vectorised: A along ci when Cin % 4 == 0, dy along co when Cout % 4 == 0.
 * Left to the shipped kernel: NCHW, non-float32, grids over the device's workgroups per dimension.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import type { GemmTiles, SplitK } from './config.js';
import { GEOMETRY_UNIFORMS, geometryValues, INPUT_TAP, operandAt, shippedFunc, unsupported, type Conv2DInfo, type KernelArgs } from './conv-common.js';
import { createGemmProgram, fitTiles, gemmFits, gemmUniforms, ints, layoutAvoiding, tileM, tileN, type GemmSpec } from './gemm-program.js';

const DECOMPOSE = `
      let ci = row % uniforms.inC;
      let t = row / uniforms.inC;
      let kw = t % uniforms.kW;
      let kh = t / uniforms.kW;
      let ow = k % uniforms.outW;
      let t2 = k / uniforms.outW;
      let oh = t2 % uniforms.outH;
      let n = t2 / uniforms.outH;
${INPUT_TAP}`;

/** How many K splits, and K positions per split (a multiple of tileK). */
export function chooseSplits(m: number, n: number, k: number, tiles: GemmTiles, split: SplitK, maxBindingBytes: number): { splits: number; kPerSplit: number } {
  const fitted = fitTiles(tiles, m, n);
  const grid = Math.ceil(m / tileM(fitted)) * Math.ceil(n / tileN(fitted));
  const byMemory = Math.floor(maxBindingBytes / (4 * m * n));
  const wanted = Math.min(split.maxSplits, Math.floor(k / split.minPerSplit), Math.ceil(split.targetWorkgroups / grid), byMemory);
  const splits0 = Math.max(1, wanted);
  const kPerSplit = Math.ceil(Math.ceil(k / splits0) / tiles.tileK) * tiles.tileK;
  return { splits: Math.ceil(k / kPerSplit), kPerSplit };
}

export function conv2dBackpropFilterSpec(c: Conv2DInfo, tiles: GemmTiles, splits: number, kPerSplit: number): GemmSpec {
  const vecA = c.inChannels % 4 === 0;
  const vecB = c.outChannels % 4 === 0;
  const m = c.filterHeight * c.filterWidth * c.inChannels;
  return {
    name: `conv2d_backprop_filter_${splits > 1 ? 'split' : 'direct'}`,
    variableNames: ['x', 'dy'],
    outputShape: splits > 1 ? [splits, m * c.outChannels] : [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels],
    tiles,
    a: operandAt('A', 'outer', vecA, 'x', DECOMPOSE, true),
    b: operandAt('B', 'outer', vecB, 'dy', ' let at = k * uniforms.N + col;', false),
    store: `fn storeC(row : i32, col : i32, split : i32, value : f32) { result[(split * uniforms.M + row) * uniforms.N + col] = value; }`,
    uniforms: GEOMETRY_UNIFORMS,
    m,
    n: c.outChannels,
    k: c.batchSize * c.outHeight * c.outWidth,
    splits,
    kPerSplit,
  };
}

const REDUCE_THREADS = 256;

/** Adds the splits' partial sums [splits, size] into the filter gradient. */
function reduceSplitsProgram(filterShape: number[], size: number): WebGPUProgram {
  const groups = Math.ceil(size / REDUCE_THREADS);
  const gx = Math.min(groups, 32768);
  return {
    variableNames: ['partials'],
    outputShape: filterShape,
    shaderKey: 'harden_reduce_splits',
    dispatchLayout: layoutAvoiding(filterShape.length),
    dispatch: [gx, Math.ceil(groups / gx), 1],
    workgroupSize: [REDUCE_THREADS, 1, 1],
    uniforms: 'total : i32, splits : i32,',
    getUserCode: () => `
    fn main() {
      let i = (i32(workgroupId.y) * i32(numWorkgroups.x) + i32(workgroupId.x)) * ${REDUCE_THREADS} + i32(localIndex);
      if (i >= uniforms.total) { return; }
      var sum = 0.0;
      for (var s = 0; s < uniforms.splits; s = s + 1) { sum = sum + partials[s * uniforms.total + i]; }
      result[i] = sum;
    }`,
  };
}

export function createConv2dBackpropFilter(tiles: GemmTiles, split: SplitK, shipped: KernelConfig | undefined): KernelFunc {
  const fallback = shippedFunc('Conv2DBackpropFilter', shipped);
  return ((args: KernelArgs) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const a = args.attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
    const format = tf.backend_util.convertConv2DDataFormat(a.dataFormat);
    const c = tf.backend_util.computeConv2DInfo(x.shape as never, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, format);
    if (unsupported(c, [x.dtype, dy.dtype])) return fallback(args as never);
    const m = c.filterHeight * c.filterWidth * c.inChannels;
    const k = c.batchSize * c.outHeight * c.outWidth;
    const maxBinding = args.backend.device.limits.maxStorageBufferBindingSize;
    const { splits, kPerSplit } = chooseSplits(m, c.outChannels, k, tiles, split, maxBinding);
    const spec = conv2dBackpropFilterSpec(c, tiles, splits, kPerSplit);
    if (!gemmFits(spec, args.backend.device.limits.maxComputeWorkgroupsPerDimension)) return fallback(args as never);
    const uniforms = [...gemmUniforms(spec), ...ints(...geometryValues(c))];
    const out = args.backend.runWebGPUProgram(createGemmProgram(spec), [x, dy], 'float32', uniforms);
    if (splits === 1) return out;
    const size = m * c.outChannels;
    const reduced = args.backend.runWebGPUProgram(reduceSplitsProgram(a.filterShape, size), [out], 'float32', ints(size, splits));
    args.backend.disposeData(out.dataId);
    return reduced;
  }) as unknown as KernelFunc;
}
