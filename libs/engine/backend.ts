/**
 * Backend selection: `auto | wasm | native | webgpu | cpu | tensorflow`, from a flag or `HARDEN_BACKEND`.
 *
 * - `wasm`: the default without a GPU or oneDNN. The project's own gradient kernels are registered
 *   on it (see `wasm-kernels/`), since the shipped backend cannot train convolutions.
 * - `native`: the wasm backend with oneDNN kernels (the addon in `native/`) registered over its
 *   convolutions, matmuls, pools and the BatchNorm op (see `native/index.ts`); tensors stay on the
 *   wasm heap. Available where the addon was built (`npm ci` builds it when oneDNN's headers exist).
 *   oneDNN threads: `HARDEN_NATIVE_THREADS`, else all cores in the main thread and cores ÷ workers in
 *   each worker of a pool.
 * - `webgpu`: Dawn (the `webgpu` npm package) + tfjs-backend-webgpu. On a GPU it uses Vulkan; with
 *   `HARDEN_WEBGPU_SOFTWARE=1` it uses Dawn's OpenGL ES backend on Mesa llvmpipe (compatibility
 *   mode), which lets CPU-only machines test this path. `auto` never picks the software adapter.
 * - `tensorflow`: only when `@tensorflow/tfjs-node(-gpu)` is importable; never a dependency.
 * - `cpu`: pure JS reference, for gradient checks.
 */
import { installFrugalGradients } from './frugal-gradients.js';
import { tf } from './tf.js';
import { EngineError } from './errors.js';
import { availableParallelism } from 'node:os';
import { loadNative, registerNativeKernels, setNativeThreads, unregisterNativeKernels } from './native/index.js';
import { registerWasmKernels } from './wasm-kernels/index.js';
import { probeWebgpu, registerWebgpuBackend, type WebgpuMode } from './webgpu.js';

export const BACKEND_NAMES = ['wasm', 'native', 'webgpu', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** Adapter or device name (e.g. "NVIDIA H100", "llvmpipe", "wasm-simd"); empty when unavailable. */
  device: string;
  /** Why the backend is unavailable, when it is not. */
  reason?: string;
}

export interface EngineInfo {
  backend: BackendName;
  device: string;
}

/** Parses a backend flag (or `HARDEN_BACKEND` when the flag is absent). @default 'auto' */
export function resolveBackendChoice(flag?: string, env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const raw = (flag ?? env.HARDEN_BACKEND ?? 'auto').trim().toLowerCase();
  if (raw === 'auto' || (BACKEND_NAMES as readonly string[]).includes(raw)) return raw as BackendChoice;
  throw new EngineError(
    'invalid-backend',
    `unknown backend "${raw}" (from ${flag !== undefined ? '--backend' : 'HARDEN_BACKEND'}); expected one of auto, ${BACKEND_NAMES.join(', ')}`,
  );
}

function webgpuMode(env: NodeJS.ProcessEnv = process.env): WebgpuMode {
  return env.HARDEN_WEBGPU_SOFTWARE === '1' ? 'software' : 'hardware';
}

let current: EngineInfo | undefined;

/** The backend the engine runs on, once `initEngine` has run. */
export function currentEngine(): EngineInfo | undefined {
  return current;
}

async function tryTensorflow(): Promise<string | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      return pkg;
    } catch {
      // not installed: the optional backend is simply unavailable
    }
  }
  return undefined;
}

/** oneDNN threads: `HARDEN_NATIVE_THREADS`, else the caller's count, else every core. */
function nativeThreadCount(requested: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number.parseInt(env.HARDEN_NATIVE_THREADS ?? '', 10);
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv;
  return requested !== undefined && requested > 0 ? requested : availableParallelism();
}

/** "oneDNN 2.6.3 avx2, 2 threads" for this thread's engine. */
function nativeDevice(): string {
  const load = loadNative();
  if (!load.ok) return '';
  const { version, isa, threads } = load.addon.info();
  return `oneDNN ${version} ${isa}, ${threads} thread${threads === 1 ? '' : 's'}`;
}

export interface EngineOptions {
  /** oneDNN threads for the native backend (a worker pool gives each worker cores ÷ workers). */
  nativeThreads?: number;
}

async function activate(name: BackendName, options: EngineOptions = {}): Promise<EngineInfo> {
  switch (name) {
    case 'cpu': {
      await import('@tensorflow/tfjs-backend-cpu');
      await setBackend('cpu');
      return { backend: 'cpu', device: 'javascript' };
    }
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      await setBackend('wasm');
      unregisterNativeKernels();
      registerWasmKernels();
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      return { backend: 'wasm', device: simd ? 'wasm-simd' : 'wasm' };
    }
    case 'native': {
      const load = loadNative();
      if (!load.ok) throw new EngineError('backend-unavailable', `backend "native" is unavailable: ${load.reason}`);
      await import('@tensorflow/tfjs-backend-wasm');
      await setBackend('wasm');
      registerWasmKernels();
      registerNativeKernels();
      setNativeThreads(nativeThreadCount(options.nativeThreads));
      return { backend: 'native', device: nativeDevice() };
    }
    case 'webgpu': {
      const device = await registerWebgpuBackend(webgpuMode());
      await setBackend('webgpu');
      return { backend: 'webgpu', device };
    }
    case 'tensorflow': {
      const pkg = await tryTensorflow();
      if (!pkg) {
        throw new EngineError(
          'backend-unavailable',
          'backend "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu installed; use --backend wasm instead',
        );
      }
      await setBackend('tensorflow');
      return { backend: 'tensorflow', device: pkg };
    }
  }
}

async function setBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new EngineError('backend-unavailable', `backend "${name}" failed to initialise`);
  }
}

/**
 * Starts the engine on the chosen backend. `auto`: a real GPU adapter → webgpu, else native when
 * its addon loads, else wasm. Calling it again with the same choice is a no-op; with another
 * choice it switches.
 */
export async function initEngine(choice: BackendChoice = resolveBackendChoice(), options: EngineOptions = {}): Promise<EngineInfo> {
  // Gradients that free memory as they go (frugal-gradients.ts); HARDEN_STOCK_GRADIENTS=1 keeps tfjs's own.
  if (process.env.HARDEN_STOCK_GRADIENTS !== '1') installFrugalGradients();
  if (current && (choice === current.backend || choice === 'auto')) return current;
  let name: BackendName;
  if (choice === 'auto') {
    const gpu = await probeWebgpu('hardware');
    name = gpu.available ? 'webgpu' : loadNative().ok ? 'native' : 'wasm';
  } else {
    name = choice;
  }
  current = await activate(name, options);
  return current;
}

/** Reports every backend: whether it can start here and on which device. Starts none of them. */
export async function probeBackends(): Promise<BackendStatus[]> {
  const wasmSimd = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  const gpu = await probeWebgpu(webgpuMode());
  const tfNode = await tryTensorflow();
  const native = loadNative();
  return [
    { name: 'wasm', available: true, device: wasmSimd ? 'wasm-simd' : 'wasm' },
    native.ok
      ? { name: 'native', available: true, device: nativeDevice() }
      : { name: 'native', available: false, device: '', reason: native.reason },
    gpu.available
      ? { name: 'webgpu', available: true, device: gpu.device }
      : { name: 'webgpu', available: false, device: '', reason: gpu.reason },
    { name: 'cpu', available: true, device: 'javascript' },
    tfNode
      ? { name: 'tensorflow', available: true, device: tfNode }
      : { name: 'tensorflow', available: false, device: '', reason: '@tensorflow/tfjs-node(-gpu) is not installed' },
  ];
}

/** The smallest module using a v128 instruction: validates only where wasm SIMD is supported. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
