/**
 * The native engine: oneDNN kernels (the addon in `native/`) registered over the wasm backend's for
 * the operations that dominate a training or attack step. Tensors stay on the wasm heap; the
 * kernels read and write them in place, and everything else (element-wise ops, reductions,
 * softmax, the optimiser) keeps running on wasm.
 *
 * | kernel | what runs natively |
 * |---|---|
 * | `Conv2D`, `FusedConv2D` | oneDNN convolution, NHWC/HWIO, bias and ReLU fused |
 * | `Conv2DBackpropInput`, `Conv2DBackpropFilter` | oneDNN convolution backward data / weights |
 * | `BatchMatMul`, `_FusedMatMul` | oneDNN sgemm with the transpose flags, bias and ReLU |
 * | `MaxPool`, `AvgPool`, `MaxPoolGrad`, `AvgPoolGrad` | oneDNN pooling |
 * | `HardenBatchNorm`, `HardenBatchNormGrad` | oneDNN batch normalisation (the project's BatchNorm op) |
 *
 * Each kernel falls back to the kernel it replaced for what oneDNN cannot express here (NCHW, other
 * activations, odd broadcasts). `tf.getBackend()` stays 'wasm'; the engine reports `native`.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { loadNative, type NativeAddon } from './addon.js';
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, createBatchNorm, createBatchNormGrad } from './batch-norm.js';
import { createConv2D, createConv2DBackpropFilter, createConv2DBackpropInput, createFusedConv2D } from './conv.js';
import { createBatchMatMul, createFusedMatMul } from './mat-mul.js';
import { createPool, createPoolGrad } from './pool.js';

export { loadNative, NATIVE_ENABLE_HINT, type NativeAddon, type NativeLoad } from './addon.js';
export { BATCH_NORM_KERNEL, BATCH_NORM_GRAD_KERNEL } from './batch-norm.js';

const BACKEND = 'wasm';

const noPrevious = (name: string): KernelFunc => () => {
  throw new Error(`the wasm backend has no ${name} kernel to fall back to`);
};

const NATIVE_KERNELS: ReadonlyArray<{ kernelName: string; create(addon: NativeAddon, previous: KernelFunc): KernelFunc }> = [
  { kernelName: 'Conv2D', create: createConv2D },
  { kernelName: 'FusedConv2D', create: createFusedConv2D },
  { kernelName: 'Conv2DBackpropInput', create: createConv2DBackpropInput },
  { kernelName: 'Conv2DBackpropFilter', create: createConv2DBackpropFilter },
  { kernelName: 'BatchMatMul', create: createBatchMatMul },
  { kernelName: '_FusedMatMul', create: createFusedMatMul },
  { kernelName: 'MaxPool', create: (a, p) => createPool(a, true, p) },
  { kernelName: 'AvgPool', create: (a, p) => createPool(a, false, p) },
  { kernelName: 'MaxPoolGrad', create: (a, p) => createPoolGrad(a, true, p) },
  { kernelName: 'AvgPoolGrad', create: (a, p) => createPoolGrad(a, false, p) },
  { kernelName: BATCH_NORM_KERNEL, create: (a) => createBatchNorm(a) },
  { kernelName: BATCH_NORM_GRAD_KERNEL, create: (a) => createBatchNormGrad(a) },
];

/** The kernels the native engine provides, by tfjs kernel name. */
export const NATIVE_KERNEL_NAMES: readonly string[] = NATIVE_KERNELS.map((k) => k.kernelName);

/** What each kernel replaced (undefined: the wasm backend had none), while ours are registered. */
const replaced = new Map<string, KernelConfig | undefined>();

/** Whether the native kernels are registered over wasm's now. */
export function nativeKernelsActive(): boolean {
  return replaced.size > 0;
}

/**
 * Registers the native kernels on backend 'wasm' (after the wasm backend and the project's wasm
 * kernels are registered). Throws when the addon is unavailable. Idempotent.
 */
export function registerNativeKernels(): void {
  if (nativeKernelsActive()) return;
  const load = loadNative();
  if (!load.ok) throw new Error(load.reason);
  for (const { kernelName, create } of NATIVE_KERNELS) {
    const existing = tf.getKernel(kernelName, BACKEND);
    replaced.set(kernelName, existing);
    if (existing) tf.unregisterKernel(kernelName, BACKEND);
    const kernelFunc = create(load.addon, existing?.kernelFunc ?? noPrevious(kernelName));
    // Keep the replaced kernel's setup: the backend runs it again if it is re-created.
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc, setupFunc: existing?.setupFunc, disposeFunc: existing?.disposeFunc });
  }
}

/** Puts back the kernels `registerNativeKernels` replaced (the wasm engine again). */
export function unregisterNativeKernels(): void {
  for (const [kernelName, previous] of replaced) {
    tf.unregisterKernel(kernelName, BACKEND);
    if (previous) tf.registerKernel(previous);
  }
  replaced.clear();
}

/** oneDNN threads of this thread's engine. */
export function nativeThreads(): number {
  const load = loadNative();
  return load.ok ? load.addon.getThreads() : 0;
}

/** Sets oneDNN's thread count for the calling thread (each worker thread sets its own). */
export function setNativeThreads(n: number): void {
  const load = loadNative();
  if (load.ok) load.addon.setThreads(n);
}
