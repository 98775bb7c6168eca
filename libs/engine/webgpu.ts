/**
 * WebGPU through Dawn's Node binding (the `webgpu` npm package, prebuilt binary inside it).
 *
 * `hardware`: Dawn's default backend (Vulkan on Linux), a real GPU adapter only.
 * `software`: Dawn's OpenGL ES backend on Mesa llvmpipe in compatibility mode, headless through
 * `EGL_PLATFORM=surfaceless`. Slow, but it runs tfjs-backend-webgpu's real WGSL kernels on a
 * CPU-only machine, which is how the test suite keeps this path from rotting.
 *
 * tfjs-backend-webgpu registers itself at import time with a plain `requestAdapter()`, which finds
 * no adapter on OpenGL ES; we replace that registration with our own device, then register the
 * project's WGSL kernels over the shipped ones (webgpu-kernels/; `HARDEN_WEBGPU_KERNELS=shipped`
 * keeps the shipped ones).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { tf } from './tf.js';
import { EngineError } from './errors.js';
import { registerWebgpuKernels, restoreShippedWebgpuKernels, webgpuKernelsWanted } from './webgpu-kernels/index.js';

export type WebgpuMode = 'hardware' | 'software';

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

interface AdapterFound {
  gpu: GPU;
  adapter: GPUAdapter;
  device: string;
}

/** Adapters Dawn may offer that are CPU renderers, not GPUs. */
const SOFTWARE_ADAPTERS = /llvmpipe|lavapipe|swiftshader|softpipe/i;

let dawn: DawnModule | undefined;

/**
 * The software adapter needs Mesa's headless EGL platform (`EGL_PLATFORM=surfaceless`). EGL reads it
 * from the process's C environment, which only the main thread's `process.env` writes reach: a worker
 * thread's `process.env` is its own copy. So the main thread sets it, before any worker starts
 * (jobs and attack pools run the engine in worker threads); `HARDEN_WEBGPU_SOFTWARE` is read from the
 * environment the process started with, and again whenever an adapter is looked for.
 */
export function prepareWebgpuEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  if (isMainThread && env.HARDEN_WEBGPU_SOFTWARE === '1') env.EGL_PLATFORM ??= 'surfaceless';
}

prepareWebgpuEnvironment();

/**
 * Dawn reaches GPUs on Linux through the Vulkan loader; without it Dawn only prints a warning and
 * finds nothing, so look for the loader first and say what is missing.
 */
function vulkanLoaderPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/lib/x86_64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

async function loadDawn(): Promise<DawnModule> {
  if (!dawn) {
    const mod = (await import('webgpu')) as unknown as DawnModule;
    dawn = mod;
    Object.assign(globalThis, mod.globals);
  }
  return dawn;
}

function describe(info: GPUAdapterInfo): string {
  const parts = [info.description, info.device, info.vendor, info.architecture]
    .map((s) => (s ?? '').trim())
    .filter((s, i, all) => s && all.indexOf(s) === i);
  return parts.length ? parts.join(' / ') : 'unknown adapter';
}

async function findAdapter(mode: WebgpuMode): Promise<AdapterFound | { reason: string }> {
  let mod: DawnModule;
  try {
    mod = await loadDawn();
  } catch (cause) {
    return { reason: `the webgpu package could not load: ${(cause as Error).message}` };
  }
  if (mode === 'software') {
    if (isMainThread) process.env.EGL_PLATFORM ??= 'surfaceless';
    const gpu = mod.create(['backend=opengles']);
    const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (!adapter) {
      return { reason: 'no OpenGL ES adapter (install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)' };
    }
    return { gpu, adapter, device: `${describe(adapter.info)} (OpenGL ES, software)` };
  }
  if (!vulkanLoaderPresent()) return { reason: 'no Vulkan loader (libvulkan.so.1) on this machine' };
  const gpu = mod.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { reason: 'no GPU adapter found through Vulkan' };
  const device = describe(adapter.info);
  if (SOFTWARE_ADAPTERS.test(device)) return { reason: `only a software adapter (${device}) was found` };
  return { gpu, adapter, device };
}

/** Whether a webgpu adapter of this mode exists here, and its name. Creates no device. */
export async function probeWebgpu(mode: WebgpuMode): Promise<{ available: boolean; device: string; reason?: string }> {
  const found = await findAdapter(mode);
  if ('reason' in found) return { available: false, device: '', reason: found.reason };
  return { available: true, device: found.device };
}

/**
 * Registers the `webgpu` tfjs backend on a device we create (replacing the package's own
 * registration) and returns the adapter's name.
 */
export async function registerWebgpuBackend(mode: WebgpuMode): Promise<string> {
  const ownKernels = webgpuKernelsWanted(); // a bad HARDEN_WEBGPU_KERNELS fails before anything changes
  const found = await findAdapter(mode);
  if ('reason' in found) throw new EngineError('backend-unavailable', `backend "webgpu" is unavailable: ${found.reason}`);
  const { gpu, adapter } = found;
  // The backend package looks for navigator.gpu when it is imported and in WebGPUBackend's
  // constructor. Node 20 has no `navigator`; Node ≥ 21 has one without `gpu`, so add it there.
  const scope = globalThis as { navigator?: { gpu?: GPU } };
  if (scope.navigator === undefined) scope.navigator = { gpu };
  else if (scope.navigator.gpu === undefined) Object.defineProperty(scope.navigator, 'gpu', { value: gpu, configurable: true });
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info), 3);
  // Our WGSL kernels over the shipped ones (libs/engine/webgpu-kernels), tiles checked against this
  // device's limits; HARDEN_WEBGPU_KERNELS=shipped keeps the shipped ones for A/B measurement.
  if (ownKernels) registerWebgpuKernels(device.limits);
  else restoreShippedWebgpuKernels();
  return found.device;
}
