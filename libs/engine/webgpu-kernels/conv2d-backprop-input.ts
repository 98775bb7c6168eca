/**
 * `Conv2DBackpropInput` as implicit GEMMs over the input's pixels, one per stride phase:
 *
 *   dx[n, ih, iw, ci] = Σ_{kh, kw, co} dy[n, oh, ow, co] · W[kh, kw, ci, co],
 *                       ih = oh·sH − padT + kh (and alike for w)
 *
 * A pixel ih receives from the filter rows kh ≡ ih + padT (mod sH) only. So the pixels are split
 * by phase (rh, rw) = ((ih + padT) mod sH, (iw + padL) mod sW), and each phase is one GEMM:
 *
 *   rows m = (n, i, j): ih = h0 + i·sH, iw = w0 + j·sW   (h0: the first pixel of phase rh)
 *   k = (jh, jw, co):   kh = rh + jh·sH, kw = rw + jw·sW, oh = (ih + padT − kh)/sH exactly
 *   A[m, k] = dy[n, oh, ow, co] (0 where oh, ow fall outside dy),  B[k, ci] = W[kh, kw, ci, co]
 *
 * With stride s that is s² dispatches of about 1/s² of the work each, instead of one GEMM whose
 * K runs over all KH·KW taps and stages (s² − 1)/s² structural zeros; stride 1 is one phase, the
 * plain GEMM. The phases write disjoint pixels of the same output; a phase with no filter tap
 * (a 1×1 filter, stride 2, odd phases) writes zeros. Both operands are contiguous along co, so both
 * take vec4 loads when Cout % 4 == 0.
 *
 * Left to the shipped kernel: NCHW, non-float32, grids over the device's workgroups per dimension.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import type { GemmTiles } from './config.js';
import { GEOMETRY_UNIFORMS, geometryValues, operandAt, shippedFunc, unsupported, type Conv2DInfo, type KernelArgs } from './conv-common.js';
import { createGemmProgram, gemmFits, gemmUniforms, ints, type GemmSpec } from './gemm-program.js';

/** One stride phase: its first pixel, pixel counts and filter taps per axis. */
export interface Phase {
  rh: number;
  rw: number;
  h0: number;
  w0: number;
  countH: number;
  countW: number;
  tapsH: number;
  tapsW: number;
}

const PHASE_UNIFORMS = 'rh : i32, rw : i32, h0 : i32, w0 : i32, countH : i32, countW : i32, tapsH : i32, tapsW : i32,';

/** The stride phases that own at least one pixel. */
export function phases(c: Conv2DInfo): Phase[] {
  const axis = (r: number, pad: number, size: number, stride: number, k: number) => {
    const first = (((r - pad) % stride) + stride) % stride;
    return { first, count: first < size ? Math.ceil((size - first) / stride) : 0, taps: r < k ? Math.ceil((k - r) / stride) : 0 };
  };
  const out: Phase[] = [];
  for (let rh = 0; rh < c.strideHeight; rh++) {
    const h = axis(rh, c.padInfo.top, c.inHeight, c.strideHeight, c.filterHeight);
    for (let rw = 0; rw < c.strideWidth; rw++) {
      const w = axis(rw, c.padInfo.left, c.inWidth, c.strideWidth, c.filterWidth);
      if (h.count > 0 && w.count > 0) out.push({ rh, rw, h0: h.first, w0: w.first, countH: h.count, countW: w.count, tapsH: h.taps, tapsW: w.taps });
    }
  }
  return out;
}

const PIXEL = `
      let j = row % uniforms.countW;
      let t = row / uniforms.countW;
      let i = t % uniforms.countH;
      let n = t / uniforms.countH;
      let ih = uniforms.h0 + i * uniforms.strideH;
      let iw = uniforms.w0 + j * uniforms.strideW;`;

const TAP = `
      let co = k % uniforms.outC;
      let t2 = k / uniforms.outC;
      let kh = uniforms.rh + (t2 / uniforms.tapsW) * uniforms.strideH;
      let kw = uniforms.rw + (t2 % uniforms.tapsW) * uniforms.strideW;`;

const GATHER = `${PIXEL}${TAP}
      let oh = (ih + uniforms.padT - kh) / uniforms.strideH;
      let ow = (iw + uniforms.padL - kw) / uniforms.strideW;
      let inside = ih + uniforms.padT - kh >= 0 && iw + uniforms.padL - kw >= 0 && oh < uniforms.outH && ow < uniforms.outW;
      let at = ((n * uniforms.outH + oh) * uniforms.outW + ow) * uniforms.outC + co;`;

export function conv2dBackpropInputSpec(c: Conv2DInfo, tiles: GemmTiles, p: Phase): GemmSpec {
  const vec = c.outChannels % 4 === 0;
  const filterAt = `${TAP}
      let at = ((kh * uniforms.kW + kw) * uniforms.inC + col) * uniforms.outC + co;`;
  return {
    name: 'conv2d_backprop_input_phase',
    variableNames: ['dy', 'W'],
    outputShape: c.inShape,
    tiles,
    a: operandAt('A', 'k', vec, 'dy', GATHER, true),
    b: operandAt('B', 'k', vec, 'W', filterAt, false),
    store: `fn storeC(row : i32, col : i32, split : i32, value : f32) {${PIXEL}
      result[((n * uniforms.inH + ih) * uniforms.inW + iw) * uniforms.N + col] = value;
    }`,
    uniforms: `${GEOMETRY_UNIFORMS} ${PHASE_UNIFORMS}`,
    m: c.batchSize * p.countH * p.countW,
    n: c.inChannels,
    k: p.tapsH * p.tapsW * c.outChannels,
    splits: 1,
    kPerSplit: 0,
  };
}

export function createConv2dBackpropInput(tiles: GemmTiles, shipped: KernelConfig | undefined): KernelFunc {
  const fallback = shippedFunc('Conv2DBackpropInput', shipped);
  return ((args: KernelArgs) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = args.attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; inputShape: [number, number, number, number] };
    const format = tf.backend_util.convertConv2DDataFormat(a.dataFormat);
    const c = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as never, a.strides, 1, a.pad, a.dimRoundingMode, false, format);
    if (unsupported(c, [dy.dtype, filter.dtype])) return fallback(args as never);
    const maxGrid = args.backend.device.limits.maxComputeWorkgroupsPerDimension;
    const specs = phases(c).map((p) => ({ p, spec: conv2dBackpropInputSpec(c, tiles, p) }));
    if (specs.some(({ spec }) => !gemmFits(spec, maxGrid))) return fallback(args as never);
    let out: TensorInfo | undefined;
    for (const { p, spec } of specs) {
      const uniforms = [...gemmUniforms(spec), ...ints(...geometryValues(c), p.rh, p.rw, p.h0, p.w0, p.countH, p.countW, p.tapsH, p.tapsW)];
      out = args.backend.runWebGPUProgram(createGemmProgram(spec), [dy, filter], 'float32', uniforms, out);
    }
    if (!out) throw new Error(`Conv2DBackpropInput: no pixels in input shape [${a.inputShape}]`);
    return out;
  }) as unknown as KernelFunc;
}
