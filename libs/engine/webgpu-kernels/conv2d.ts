/**
 * `Conv2D` and `FusedConv2D` (bias + activation) as one implicit GEMM:
 *
 *   y[m, co] = Σ_k A[m, k] · W[k, co],  m = (n, oh, ow),  k = (kh, kw, ci)
 *   A[m, k]  = x[n, oh·sH − padT + kh, ow·sW − padL + kw, ci]   (0 outside the image)
 *
 * W is the filter [KH, KW, Cin, Cout] read as the [K, Cout] matrix it already is; A is read from x
 * as the tile loader needs it (no im2col buffer). Bias and activation are applied in the store.
 * Vectorised: A along ci when Cin % 4 == 0 (four channels of one pixel), W along co when
 * Cout % 4 == 0. The first layer's 1- or 3-channel input takes scalar loads.
 *
 * Left to the shipped kernel: NCHW, dilation > 1, non-float32, FusedConv2D with PReLU weights
 * (a fifth storage buffer, over compatibility mode's four), an activation not listed below or a
 * bias not per output channel, and grids over the device's workgroups per dimension (N·OH·OW over
 * 65,535 tiles).
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import type { GemmTiles } from './config.js';
import { GEOMETRY_UNIFORMS, geometryValues, INPUT_TAP, operandAt, shippedFunc, unsupported, type Conv2DInfo, type KernelArgs } from './conv-common.js';
import { createGemmProgram, gemmFits, gemmUniforms, type GemmSpec } from './gemm-program.js';

const ACTIVATIONS: Record<string, string> = {
  linear: 'v',
  relu: 'max(v, 0.0)',
  relu6: 'clamp(v, 0.0, 6.0)',
  leakyrelu: 'select(uniforms.alpha * v, v, v >= 0.0)',
  sigmoid: '1.0 / (1.0 + exp(-v))',
};

const DECOMPOSE_ROW = `
      let ow = row % uniforms.outW;
      let t = row / uniforms.outW;
      let oh = t % uniforms.outH;
      let n = t / uniforms.outH;
      let ci = k % uniforms.inC;
      let t2 = k / uniforms.inC;
      let kw = t2 % uniforms.kW;
      let kh = t2 / uniforms.kW;
${INPUT_TAP}`;

export function conv2dSpec(c: Conv2DInfo, tiles: GemmTiles, epilogue: { bias: boolean; activation: string }): GemmSpec {
  const vecA = c.inChannels % 4 === 0;
  const vecB = c.outChannels % 4 === 0;
  const activation = ACTIVATIONS[epilogue.activation];
  return {
    name: `conv2d_${epilogue.bias ? 'bias' : 'nobias'}_${epilogue.activation}`,
    variableNames: epilogue.bias ? ['x', 'W', 'bias'] : ['x', 'W'],
    outputShape: c.outShape,
    tiles,
    a: operandAt('A', 'k', vecA, 'x', DECOMPOSE_ROW, true),
    b: operandAt('B', 'outer', vecB, 'W', ' let at = k * uniforms.N + col;', false),
    store: `fn storeC(row : i32, col : i32, split : i32, value : f32) {
      var v = value;
      ${epilogue.bias ? 'v = v + bias[col];' : ''}
      result[row * uniforms.N + col] = ${activation};
    }`,
    uniforms: `${GEOMETRY_UNIFORMS} alpha : f32,`,
    m: c.batchSize * c.outHeight * c.outWidth,
    n: c.outChannels,
    k: c.filterHeight * c.filterWidth * c.inChannels,
    splits: 1,
    kPerSplit: 0,
  };
}

function run(args: KernelArgs, c: Conv2DInfo, spec: GemmSpec, bias: TensorInfo | undefined, alpha: number): TensorInfo {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const uniforms = [...gemmUniforms(spec), ...geometryValues(c).map((v) => ({ type: 'int32', data: [v] })), { type: 'float32', data: [alpha] }];
  return args.backend.runWebGPUProgram(createGemmProgram(spec), bias ? [x, filter, bias] : [x, filter], 'float32', uniforms);
}

function info(args: KernelArgs): Conv2DInfo {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as { strides: number | [number, number]; pad: never; dataFormat: 'NHWC' | 'NCHW'; dilations: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
  const format = tf.backend_util.convertConv2DDataFormat(a.dataFormat);
  return tf.backend_util.computeConv2DInfo(x.shape as never, filter.shape as never, a.strides, a.dilations, a.pad, a.dimRoundingMode, false, format);
}

export function createConv2d(tiles: GemmTiles, shipped: KernelConfig | undefined): KernelFunc {
  const fallback = shippedFunc('Conv2D', shipped);
  return ((args: KernelArgs) => {
    const c = info(args);
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    if (unsupported(c, [x.dtype, filter.dtype])) return fallback(args as never);
    const spec = conv2dSpec(c, tiles, { bias: false, activation: 'linear' });
    if (!gemmFits(spec, args.backend.device.limits.maxComputeWorkgroupsPerDimension)) return fallback(args as never);
    return run(args, c, spec, undefined, 0);
  }) as unknown as KernelFunc;
}

export function createFusedConv2d(tiles: GemmTiles, shipped: KernelConfig | undefined): KernelFunc {
  const fallback = shippedFunc('FusedConv2D', shipped);
  return ((args: KernelArgs) => {
    const c = info(args);
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const activation = (args.attrs.activation as string | undefined) ?? 'linear';
    const dtypes = [x, filter, bias].filter((t): t is TensorInfo => t !== undefined).map((t) => t.dtype);
    // Our store adds a bias per output channel only: a broadcast bias of another shape goes to the shipped kernel.
    const perChannelBias = !bias || (bias.shape.length <= 1 && (bias.shape[0] ?? 1) === c.outChannels);
    if (unsupported(c, dtypes) || preluActivationWeights || !(activation in ACTIVATIONS) || !perChannelBias) return fallback(args as never);
    const spec = conv2dSpec(c, tiles, { bias: bias !== undefined, activation });
    if (!gemmFits(spec, args.backend.device.limits.maxComputeWorkgroupsPerDimension)) return fallback(args as never);
    return run(args, c, spec, bias, (args.attrs.leakyreluAlpha as number | undefined) ?? 0.2);
  }) as unknown as KernelFunc;
}
