/**
 * The project's gradient kernels for the tfjs wasm backend.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 has no `Conv2DBackpropFilter`, no depthwise gradient
 * kernels, and a `Conv2DBackpropInput` ≈13× slower than a forward convolution. The kernels here
 * are composed at the TensorInfo level from wasm kernels that run fast (XNNPACK `Conv2D` and
 * `DepthwiseConv2dNative`, `PadV2`, `Concat`, rank ≤ 4 `Transpose`, `Reshape`, `Sum`); each file's
 * header gives the math and why that construction was chosen. They are checked against the cpu
 * backend's gradients in `wasm-kernels.spec.ts`.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { CONV2D_BACKPROP_FILTER, conv2dBackpropFilter } from './conv2d-backprop-filter.js';
import { CONV2D_BACKPROP_INPUT, conv2dBackpropInput } from './conv2d-backprop-input.js';
import { DEPTHWISE_BACKPROP_FILTER, depthwiseConv2dBackpropFilter } from './depthwise-conv2d-backprop-filter.js';
import { DEPTHWISE_BACKPROP_INPUT, depthwiseConv2dBackpropInput } from './depthwise-conv2d-backprop-input.js';

const BACKEND = 'wasm';

const OWN_KERNELS: ReadonlyArray<{ kernelName: string; kernelFunc: KernelFunc }> = [
  { kernelName: CONV2D_BACKPROP_INPUT, kernelFunc: conv2dBackpropInput as unknown as KernelFunc },
  { kernelName: CONV2D_BACKPROP_FILTER, kernelFunc: conv2dBackpropFilter as unknown as KernelFunc },
  { kernelName: DEPTHWISE_BACKPROP_INPUT, kernelFunc: depthwiseConv2dBackpropInput as unknown as KernelFunc },
  { kernelName: DEPTHWISE_BACKPROP_FILTER, kernelFunc: depthwiseConv2dBackpropFilter as unknown as KernelFunc },
];

/** The wasm backend's own kernels that ours replaced, by name (for benchmarks). */
const replaced = new Map<string, KernelConfig>();

/**
 * Registers the kernels for backend 'wasm', replacing any the backend ships. Idempotent: a second
 * call finds ours in place and does nothing.
 */
export function registerWasmKernels(): void {
  for (const { kernelName, kernelFunc } of OWN_KERNELS) {
    const existing = tf.getKernel(kernelName, BACKEND);
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) {
      if (!replaced.has(kernelName)) replaced.set(kernelName, existing);
      tf.unregisterKernel(kernelName, BACKEND);
    }
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
  }
}

/** The wasm backend's shipped kernel that `registerWasmKernels` replaced, if it had one. */
export function shippedWasmKernel(kernelName: string): KernelConfig | undefined {
  return replaced.get(kernelName);
}

export const WASM_GRADIENT_KERNELS: readonly string[] = OWN_KERNELS.map((k) => k.kernelName);
