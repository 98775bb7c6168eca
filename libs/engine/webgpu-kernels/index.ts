/**
 * The project's WGSL kernels for the tfjs `webgpu` backend (tfjs-backend-webgpu 4.22), for what
 * dominates a training step:
 *
 * - `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput`, `Conv2DBackpropFilter`: tiled implicit GEMMs
 *   (gemm-program.ts): workgroup-shared tiles, several outputs per thread, vec4 loads where channel
 *   counts allow; the filter gradient split over N·OH·OW (split-K) with a second pass adding the
 *   splits, where the shipped kernel loops over all of N·OH·OW in one thread per filter element.
 * - `HardenBatchNorm`, `HardenBatchNormGrad`: the taped BatchNorm layer's op in one reduction and
 *   one element-wise pass each way (batch-norm.ts), which the layer picks up on any backend that
 *   registers them (libs/models/batch-norm-layer.ts).
 *
 * Not replaced: `BatchMatMul` / `_FusedMatMul`. The shipped ones already pick among tiled,
 * vec4, shared-memory programs (packed, split-K, small-output, reduce) by shape, so the dense
 * layers are not where the shipped backend loses; replace them only if a GPU measurement says so.
 *
 * Left to the shipped kernels (each file's header says which): NCHW, dilation > 1, non-float32,
 * FusedConv2D with PReLU weights or an unlisted activation. tfjs convolutions have no groups;
 * depthwise ones are separate kernels we do not replace.
 *
 * `HARDEN_WEBGPU_KERNELS=shipped` leaves the shipped kernels in place (A/B measurement).
 * Checked against the cpu backend in `webgpu-kernels.spec.ts` (on llvmpipe without a GPU).
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { EngineError } from '../errors.js';
import { tf } from '../tf.js';
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, createWebgpuBatchNorm, createWebgpuBatchNormGrad } from './batch-norm.js';
import { compileKernelConfig, type KernelLimits, type WebgpuKernelConfig, type WebgpuKernelOptions } from './config.js';
import { createConv2d, createFusedConv2d } from './conv2d.js';
import { createConv2dBackpropFilter } from './conv2d-backprop-filter.js';
import { createConv2dBackpropInput } from './conv2d-backprop-input.js';

export {
  compileKernelConfig,
  DEFAULT_BATCH_NORM_TILES,
  DEFAULT_GEMM_TILES,
  DEFAULT_SPLIT_K,
  type BatchNormTiles,
  type GemmTiles,
  type KernelLimits,
  type SplitK,
  type WebgpuKernelConfig,
  type WebgpuKernelOptions,
} from './config.js';
export { webgpuFallbackCounts } from './conv-common.js';

const BACKEND = 'webgpu';

interface OwnKernel {
  kernelName: string;
  create(config: WebgpuKernelConfig, shipped: KernelConfig | undefined): KernelFunc;
}

const OWN_KERNELS: readonly OwnKernel[] = [
  { kernelName: 'Conv2D', create: (c, s) => createConv2d(c.conv2d, s) },
  { kernelName: 'FusedConv2D', create: (c, s) => createFusedConv2d(c.conv2d, s) },
  { kernelName: 'Conv2DBackpropInput', create: (c, s) => createConv2dBackpropInput(c.conv2dBackpropInput, s) },
  { kernelName: 'Conv2DBackpropFilter', create: (c, s) => createConv2dBackpropFilter(c.conv2dBackpropFilter, c.splitK, s) },
  { kernelName: BATCH_NORM_KERNEL, create: (c) => createWebgpuBatchNorm(c.batchNorm) },
  { kernelName: BATCH_NORM_GRAD_KERNEL, create: (c) => createWebgpuBatchNormGrad(c.batchNorm) },
];

/** The shipped kernels ours replaced, by name (fallbacks, and restored for A/B measurement). */
const replaced = new Map<string, KernelConfig>();
const ours = new WeakSet<KernelFunc>();

/** Whether the environment asks for the shipped kernels only (`HARDEN_WEBGPU_KERNELS=shipped`). */
export function webgpuKernelsWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.HARDEN_WEBGPU_KERNELS;
  if (v === undefined || v === '' || v === 'own') return true;
  if (v === 'shipped') return false;
  throw new EngineError('invalid-argument', `HARDEN_WEBGPU_KERNELS must be "own" or "shipped", got "${v}"`);
}

/**
 * Registers our kernels for backend 'webgpu' with tiles checked against the device's limits,
 * replacing the shipped ones (kept as fallbacks). Call after the backend is registered; calling
 * again replaces ours with newly configured ones. Throws `invalid-argument` on a bad config.
 */
export function registerWebgpuKernels(limits: KernelLimits, options: WebgpuKernelOptions = {}): WebgpuKernelConfig {
  const config = compileKernelConfig(options, limits);
  for (const { kernelName, create } of OWN_KERNELS) {
    const existing = tf.getKernel(kernelName, BACKEND);
    if (existing) {
      if (!ours.has(existing.kernelFunc) && !replaced.has(kernelName)) replaced.set(kernelName, existing);
      tf.unregisterKernel(kernelName, BACKEND);
    }
    const shipped = replaced.get(kernelName);
    const kernelFunc = create(config, shipped);
    ours.add(kernelFunc);
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc, setupFunc: shipped?.setupFunc, disposeFunc: shipped?.disposeFunc });
  }
  return config;
}

/** Puts the shipped kernels back (ours for the BatchNorm op, which has no shipped one, are removed). */
export function restoreShippedWebgpuKernels(): void {
  for (const { kernelName } of OWN_KERNELS) {
    const existing = tf.getKernel(kernelName, BACKEND);
    if (existing && ours.has(existing.kernelFunc)) tf.unregisterKernel(kernelName, BACKEND);
    const shipped = replaced.get(kernelName);
    if (shipped && !tf.getKernel(kernelName, BACKEND)) tf.registerKernel(shipped);
  }
}

/** Whether our kernel is the one registered for `kernelName` on webgpu now. */
export function webgpuKernelActive(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, BACKEND);
  return k !== undefined && ours.has(k.kernelFunc);
}

/** The kernels `registerWebgpuKernels` provides for 'webgpu'. */
export const WEBGPU_KERNELS: readonly string[] = OWN_KERNELS.map((k) => k.kernelName);
