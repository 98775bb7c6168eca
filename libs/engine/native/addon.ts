/**
 * Loads the native engine's addon (`native/`, C++ over oneDNN, built by `npm ci` where oneDNN's
 * headers exist, or by `npm run build:native`). Loading never throws: a missing or broken addon is
 * reported as the one-line reason `harden info` shows, with the command that fixes it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The addon's functions (native/src/addon.cc). Tensors are Float32Arrays read and written in place. */
export interface NativeAddon {
  /** geo: [n, h, w, c, o, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr]; activation 0 linear, 1 relu. */
  conv2dForward(geo: Int32Array, x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array, activation: number): void;
  conv2dBackwardData(geo: Int32Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackwardFilter(geo: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array, dbias: Float32Array | null): void;
  /** c[i] = op(a[i]) · op(b[i]) over max(batchA, batchB) matrices; a batch of 1 broadcasts. */
  matMul(a: Float32Array, b: Float32Array, c: Float32Array, batchA: number, batchB: number, m: number, n: number, k: number, transA: boolean, transB: boolean): void;
  biasActivation(y: Float32Array, rows: number, cols: number, bias: Float32Array | null, activation: number): void;
  /** geo: [n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr]. */
  poolForward(max: boolean, geo: Int32Array, x: Float32Array, y: Float32Array): void;
  poolBackward(max: boolean, geo: Int32Array, x: Float32Array | null, dy: Float32Array, dx: Float32Array): void;
  batchNormForward(m: number, c: number, eps: number, x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array): void;
  batchNormBackward(m: number, c: number, eps: number, x: Float32Array, dy: Float32Array, mean: Float32Array, variance: Float32Array, gamma: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;
  info(): { version: string; isa: string; threads: number };
  setThreads(n: number): void;
  getThreads(): number;
  /** Primitives cached by the calling thread. */
  cachedPrimitives(): number;
  clearCache(): void;
}

export type NativeLoad = { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string };

/** The command that builds the addon, for messages. */
export const NATIVE_ENABLE_HINT = 'apt-get install libdnnl-dev && npm run build:native';

const ADDON = new URL('../../../../native/build/Release/harden_dnnl.node', import.meta.url);

let loaded: NativeLoad | undefined;

/**
 * Loads the addon with OpenMP's idle threads sleeping instead of spinning (`OMP_WAIT_POLICY=passive`,
 * read once when libgomp loads with the addon), unless the caller set a policy. Between two oneDNN
 * calls the JavaScript thread runs the wasm kernels for a while; spinning OpenMP threads took that
 * core from it, and from the other worker and processes: on the shared 2-core machine a small-cnn
 * D2R step ran 6 img/s with spinning threads against 47 with sleeping ones (load average 6). The
 * variable is removed again so that child processes do not inherit it.
 */
function withPassiveOpenMp<T>(load: () => T): T {
  if (process.env.OMP_WAIT_POLICY !== undefined) return load();
  process.env.OMP_WAIT_POLICY = 'passive';
  try {
    return load();
  } finally {
    delete process.env.OMP_WAIT_POLICY;
  }
}

/** The addon, loaded once per thread (each worker thread loads its own instance). */
export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  const path = process.env.HARDEN_NATIVE_ADDON ?? fileURLToPath(ADDON);
  if (!existsSync(path)) {
    const headers = existsSync('/usr/include/dnnl.hpp');
    loaded = {
      ok: false,
      reason: headers
        ? `the oneDNN addon is not built; run \`npm run build:native\``
        : `oneDNN is not installed; run \`${NATIVE_ENABLE_HINT}\``,
    };
    return loaded;
  }
  try {
    const addon = withPassiveOpenMp(() => createRequire(import.meta.url)(path) as NativeAddon);
    addon.info();
    loaded = { ok: true, addon, path };
  } catch (error) {
    const first = String((error as Error).message ?? error).split('\n')[0];
    loaded = { ok: false, reason: `the oneDNN addon does not load (${first}); rebuild it with \`${NATIVE_ENABLE_HINT}\`` };
  }
  return loaded;
}
