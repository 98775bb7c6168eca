/**
 * The project's gradient kernels for the tfjs wasm backend.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 has no `Conv2DBackpropFilter`, no depthwise gradient
 * kernels, and a `Conv2DBackpropInput` ≈13× slower than a forward convolution. The kernels here
 * are composed at the TensorInfo level from wasm kernels that run fast (XNNPACK `Conv2D` and
 * `DepthwiseConv2dNative`, `AvgPool`, `PadV2`, `Concat`, rank ≤ 4 `Transpose`, `Reshape`); each
 * file's header gives the math and why that construction was chosen. `Sum` and `Mean` are wrapped
 * too: the shipped ones transpose the whole input to reduce over leading axes, which made bias
 * gradients the largest cost of a training step after the convolutions; `Identity` shares memory
 * instead of copying every tensor tfjs saves for a gradient. `MaxPoolGrad` replaces a shipped kernel
 * that routes the gradient of all-negative windows to the wrong pixel. Everything is checked
 * against the cpu backend in `wasm-kernels.spec.ts`.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { CONV2D_BACKPROP_FILTER, conv2dBackpropFilter } from './conv2d-backprop-filter.js';
import { CONV2D_BACKPROP_INPUT, conv2dBackpropInput } from './conv2d-backprop-input.js';
import { DEPTHWISE_BACKPROP_FILTER, depthwiseConv2dBackpropFilter } from './depthwise-conv2d-backprop-filter.js';
import { DEPTHWISE_BACKPROP_INPUT, depthwiseConv2dBackpropInput } from './depthwise-conv2d-backprop-input.js';
import { createIdentity, IDENTITY } from './identity.js';
import { MAX_POOL_GRAD, maxPoolGrad } from './max-pool-grad.js';
import { createMean, MEAN } from './mean.js';
import { createSum, SUM } from './sum.js';

const BACKEND = 'wasm';

interface OwnKernel {
  kernelName: string;
  /** Builds our kernel; wrappers receive the shipped kernel they fall back to. */
  create(shipped: KernelConfig | undefined): KernelFunc;
}

const fromShipped =
  (wrap: (shipped: KernelFunc) => KernelFunc) =>
  (shipped: KernelConfig | undefined): KernelFunc => {
    if (!shipped) throw new Error('the wasm backend has no kernel to fall back to');
    return wrap(shipped.kernelFunc);
  };

const OWN_KERNELS: readonly OwnKernel[] = [
  { kernelName: CONV2D_BACKPROP_INPUT, create: () => conv2dBackpropInput as unknown as KernelFunc },
  { kernelName: CONV2D_BACKPROP_FILTER, create: () => conv2dBackpropFilter as unknown as KernelFunc },
  { kernelName: DEPTHWISE_BACKPROP_INPUT, create: () => depthwiseConv2dBackpropInput as unknown as KernelFunc },
  { kernelName: DEPTHWISE_BACKPROP_FILTER, create: () => depthwiseConv2dBackpropFilter as unknown as KernelFunc },
  { kernelName: MAX_POOL_GRAD, create: () => maxPoolGrad as unknown as KernelFunc },
  { kernelName: SUM, create: fromShipped(createSum) },
  { kernelName: MEAN, create: fromShipped(createMean) },
  { kernelName: IDENTITY, create: fromShipped(createIdentity) },
];

/** The wasm backend's own kernels that ours replaced, by name (fallbacks, and for benchmarks). */
const replaced = new Map<string, KernelConfig>();
const ours = new WeakSet<KernelFunc>();

/**
 * Registers the kernels for backend 'wasm', replacing any the backend ships (call it after the
 * wasm backend is registered). Idempotent: a second call finds ours in place and does nothing.
 */
export function registerWasmKernels(): void {
  for (const { kernelName, create } of OWN_KERNELS) {
    const existing = tf.getKernel(kernelName, BACKEND);
    if (existing && ours.has(existing.kernelFunc)) continue;
    if (existing) {
      if (!replaced.has(kernelName)) replaced.set(kernelName, existing);
      tf.unregisterKernel(kernelName, BACKEND);
    }
    const shipped = replaced.get(kernelName);
    const kernelFunc = create(shipped);
    ours.add(kernelFunc);
    // A wrapper keeps the shipped kernel's setup, which the backend runs again if it is re-created.
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc, setupFunc: shipped?.setupFunc, disposeFunc: shipped?.disposeFunc });
  }
}

/** The wasm backend's shipped kernel that `registerWasmKernels` replaced, if it had one. */
export function shippedWasmKernel(kernelName: string): KernelConfig | undefined {
  return replaced.get(kernelName);
}

/** The kernels `registerWasmKernels` provides for 'wasm'. */
export const WASM_KERNELS: readonly string[] = OWN_KERNELS.map((k) => k.kernelName);
