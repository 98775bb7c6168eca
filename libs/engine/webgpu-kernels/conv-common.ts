/**
 * What the three convolution kernels share: the geometry they pass as uniforms, WGSL that splits a
 * flat index into coordinates, and the test for what they support (NHWC, float32, dilation 1; the
 * rest goes to the shipped kernel).
 */
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { OperandReader } from './gemm-program.js';
import type { backend_util, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

export type Conv2DInfo = backend_util.Conv2DInfo;

export interface KernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WebGPUBackend;
  attrs: NamedAttrMap;
}

/** WGSL uniform declarations for the geometry, in the order `geometryValues` gives them. */
export const GEOMETRY_UNIFORMS =
  'inH : i32, inW : i32, inC : i32, outH : i32, outW : i32, outC : i32, kH : i32, kW : i32, strideH : i32, strideW : i32, padT : i32, padL : i32,';

/**
 * WGSL from (n, oh, ow, kh, kw, ci) to the input element a filter tap reads: `ih`, `iw`, whether it
 * lies inside the image (else it is padding), and its flat NHWC index `at`.
 */
export const INPUT_TAP = `      let ih = oh * uniforms.strideH - uniforms.padT + kh;
      let iw = ow * uniforms.strideW - uniforms.padL + kw;
      let inside = ih >= 0 && ih < uniforms.inH && iw >= 0 && iw < uniforms.inW;
      let at = ((n * uniforms.inH + ih) * uniforms.inW + iw) * uniforms.inC + ci;`;

export function geometryValues(c: Conv2DInfo): number[] {
  return [
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
  ];
}

/** Why our kernels cannot run this convolution (the shipped one does), or undefined if they can. */
export function unsupported(c: Conv2DInfo, dtypes: string[]): string | undefined {
  if (c.dataFormat !== 'channelsLast') return 'NCHW';
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1) return 'dilation > 1';
  if (dtypes.some((d) => d !== 'float32')) return 'not float32';
  if (c.batchSize * c.outHeight * c.outWidth * c.outChannels === 0) return 'empty';
  return undefined;
}

const fallbacks = new Map<string, number>();

/** How many calls each of our kernels handed to the shipped one (tests and benchmarks read it). */
export function webgpuFallbackCounts(): ReadonlyMap<string, number> {
  return fallbacks;
}

/** The shipped kernel's function, for the cases ours leaves to it; each call is counted. */
export function shippedFunc(name: string, shipped: KernelConfig | undefined): KernelFunc {
  if (!shipped) throw new Error(`the webgpu backend ships no ${name} kernel to fall back to`);
  const run = shipped.kernelFunc;
  return ((args: never) => {
    fallbacks.set(name, (fallbacks.get(name) ?? 0) + 1);
    return run(args);
  }) as KernelFunc;
}

/**
 * A GEMM operand read from `tensor` at the flat index `at` that the WGSL statements `locate` compute
 * from (row, k) for A or (k, col) for B; when `locate` also sets `inside`, positions outside the
 * image read 0 (padding). Four adjacent elements at once when `vec4`.
 */
export function operandAt(side: 'A' | 'B', fast: OperandReader['fast'], vec4: boolean, tensor: string, locate: string, padded: boolean): OperandReader {
  const args = side === 'A' ? 'row : i32, k : i32' : 'k : i32, col : i32';
  const type = vec4 ? 'vec4<f32>' : 'f32';
  const outside = padded ? `\n      if (!inside) { return ${vec4 ? 'vec4<f32>(0.0)' : '0.0'}; }` : '';
  return { fast, vec4, wgsl: `fn load${side}${vec4 ? '4' : ''}(${args}) -> ${type} {${locate}${outside}\n      return ${tensor}[${vec4 ? 'at / 4' : 'at'}];\n    }` };
}
