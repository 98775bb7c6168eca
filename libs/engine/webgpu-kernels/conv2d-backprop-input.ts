/**
 * `Conv2DBackpropInput` as one implicit GEMM over the input's pixels:
 *
 *   dx[m, ci] = Σ_k A[m, k] · B[k, ci],  m = (n, ih, iw),  k = (kh, kw, co)
 *   A[m, k]   = dy[n, oh, ow, co] where ih = oh·sH − padT + kh (and alike for w), 0 where no
 *               integer oh (ow) in range exists
 *   B[k, ci]  = W[kh, kw, ci, co]
 *
 * Both operands are contiguous along co, so both take vec4 loads when Cout % 4 == 0. With stride
 * s > 1, (s² − 1)/s² of A's entries are structural zeros that are still staged (a phase split
 * per stride offset would skip them; left for when a GPU can show whether it pays).
 *
 * Left to the shipped kernel: NCHW, non-float32, grids over the device's workgroups per dimension.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import type { GemmTiles } from './config.js';
import { GEOMETRY_UNIFORMS, geometryValues, shippedFunc, unsupported, type Conv2DInfo, type KernelArgs } from './conv-common.js';
import { createGemmProgram, gemmFits, gemmUniforms, type GemmSpec } from './gemm-program.js';

const DECOMPOSE = `
      let iw = row % uniforms.inW;
      let t = row / uniforms.inW;
      let ih = t % uniforms.inH;
      let n = t / uniforms.inH;
      let co = k % uniforms.outC;
      let t2 = k / uniforms.outC;
      let kw = t2 % uniforms.kW;
      let kh = t2 / uniforms.kW;
      let hn = ih + uniforms.padT - kh;
      let wn = iw + uniforms.padL - kw;
      let oh = hn / uniforms.strideH;
      let ow = wn / uniforms.strideW;
      let inside = hn >= 0 && wn >= 0 && oh * uniforms.strideH == hn && ow * uniforms.strideW == wn && oh < uniforms.outH && ow < uniforms.outW;
      let at = ((n * uniforms.outH + oh) * uniforms.outW + ow) * uniforms.outC + co;`;

export function conv2dBackpropInputSpec(c: Conv2DInfo, tiles: GemmTiles): GemmSpec {
  const vec = c.outChannels % 4 === 0;
  const filterAt = 'let at = ((k / uniforms.outC) * uniforms.inC + col) * uniforms.outC + k % uniforms.outC;';
  return {
    name: 'conv2d_backprop_input',
    variableNames: ['dy', 'W'],
    outputShape: c.inShape,
    tiles,
    a: {
      fast: 'k',
      vec4: vec,
      wgsl: vec
        ? `fn loadA4(row : i32, k : i32) -> vec4<f32> {${DECOMPOSE}
      if (!inside) { return vec4<f32>(0.0); }
      return dy[at / 4];
    }`
        : `fn loadA(row : i32, k : i32) -> f32 {${DECOMPOSE}
      if (!inside) { return 0.0; }
      return dy[at];
    }`,
    },
    b: {
      fast: 'k',
      vec4: vec,
      wgsl: vec
        ? `fn loadB4(k : i32, col : i32) -> vec4<f32> { ${filterAt} return W[at / 4]; }`
        : `fn loadB(k : i32, col : i32) -> f32 { ${filterAt} return W[at]; }`,
    },
    store: `fn storeC(row : i32, col : i32, split : i32, value : f32) { result[row * uniforms.N + col] = value; }`,
    uniforms: GEOMETRY_UNIFORMS,
    m: c.batchSize * c.inHeight * c.inWidth,
    n: c.inChannels,
    k: c.filterHeight * c.filterWidth * c.outChannels,
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
    const spec = conv2dBackpropInputSpec(c, tiles);
    if (!gemmFits(spec, args.backend.device.limits.maxComputeWorkgroupsPerDimension)) return fallback(args as never);
    const uniforms = [...gemmUniforms(spec), ...geometryValues(c).map((v) => ({ type: 'int32', data: [v] }))];
    return args.backend.runWebGPUProgram(createGemmProgram(spec), [dy, filter], 'float32', uniforms);
  }) as unknown as KernelFunc;
}
