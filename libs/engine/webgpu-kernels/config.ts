/**
 * Tile parameters of the project's WGSL kernels, validated once against the device's limits.
 *
 * The defaults are reasoned, not measured: no GPU has been lent to this project while they were
 * written, and Mesa llvmpipe (where the tests run) says nothing about a GPU's speed. They are to be
 * chosen by measurement on a real GPU with `harden bench kernels --backend webgpu` (see
 * libs/engine/README.md). They stay within WebGPU's default limits (256 invocations per workgroup,
 * 16 KiB of workgroup storage), which compatibility mode on OpenGL ES also grants.
 */
import { EngineError } from '../errors.js';

/** A tiled implicit GEMM: C[M, N] = A[M, K] · B[K, N], one workgroup per tileM × tileN block of C. */
export interface GemmTiles {
  /** Threads along M (workgroup size y). @default 16 */
  threadsM: number;
  /** Threads along N (workgroup size x). @default 16 */
  threadsN: number;
  /** Outputs per thread along M; tileM = threadsM · rowsPerThread. @default 4 */
  rowsPerThread: number;
  /** Outputs per thread along N; tileN = threadsN · colsPerThread. @default 4 */
  colsPerThread: number;
  /** Depth of the K slab staged in workgroup memory per step (a multiple of 4). @default 16 */
  tileK: number;
}

/** Split-K of the filter gradient, whose reduction runs over batch × output positions. */
export interface SplitK {
  /** Splits are added until the grid has about this many workgroups. @default 512 */
  targetWorkgroups: number;
  /** Each split covers at least this many of the N·OH·OW positions. @default 256 */
  minPerSplit: number;
  /** At most this many splits (partial sums kept: splits × KH·KW·Cin·Cout floats). @default 64 */
  maxSplits: number;
}

/** BatchNorm's statistics passes: a workgroup reduces `channels` channels over `rowsPerChunk` rows. */
export interface BatchNormTiles {
  /** Channels per workgroup (workgroup size x; adjacent threads read adjacent channels). @default 32 */
  channels: number;
  /** Threads along the rows (workgroup size y). @default 8 */
  rows: number;
  /** Rows of the [M, C] view each workgroup reduces; M / rowsPerChunk partial sums are combined. @default 512 */
  rowsPerChunk: number;
}

export interface WebgpuKernelOptions {
  /** Convolution forward (`Conv2D`, `FusedConv2D`). */
  conv2d?: Partial<GemmTiles>;
  /** `Conv2DBackpropInput`. */
  conv2dBackpropInput?: Partial<GemmTiles>;
  /** `Conv2DBackpropFilter`. */
  conv2dBackpropFilter?: Partial<GemmTiles>;
  /** Split-K of `Conv2DBackpropFilter`. */
  splitK?: Partial<SplitK>;
  batchNorm?: Partial<BatchNormTiles>;
}

export interface WebgpuKernelConfig {
  conv2d: GemmTiles;
  conv2dBackpropInput: GemmTiles;
  conv2dBackpropFilter: GemmTiles;
  splitK: SplitK;
  batchNorm: BatchNormTiles;
}

export const DEFAULT_GEMM_TILES: Readonly<GemmTiles> = { threadsM: 16, threadsN: 16, rowsPerThread: 4, colsPerThread: 4, tileK: 16 };
export const DEFAULT_SPLIT_K: Readonly<SplitK> = { targetWorkgroups: 512, minPerSplit: 256, maxSplits: 64 };
export const DEFAULT_BATCH_NORM_TILES: Readonly<BatchNormTiles> = { channels: 32, rows: 8, rowsPerChunk: 512 };

/** The limits the kernels are checked against (a GPUDevice's `limits` has them all). */
export interface KernelLimits {
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxStorageBuffersPerShaderStage: number;
}

function invalid(message: string): never {
  throw new EngineError('invalid-argument', `webgpu kernel config: ${message}`);
}

function positiveInteger(where: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) invalid(`${where} must be a positive integer, got ${value}`);
}

function gemm(where: string, given: Partial<GemmTiles> | undefined, limits: KernelLimits): GemmTiles {
  const t = { ...DEFAULT_GEMM_TILES, ...given };
  for (const [k, v] of Object.entries(t)) positiveInteger(`${where}.${k}`, v);
  if (t.tileK % 4 !== 0) invalid(`${where}.tileK must be a multiple of 4 (vectorised loads), got ${t.tileK}`);
  const tileM = t.threadsM * t.rowsPerThread;
  const tileN = t.threadsN * t.colsPerThread;
  if (tileM % 4 !== 0 || tileN % 4 !== 0) invalid(`${where}: tiles must be multiples of 4, got ${tileM}×${tileN}`);
  const threads = t.threadsM * t.threadsN;
  if (threads > limits.maxComputeInvocationsPerWorkgroup) invalid(`${where}: ${threads} threads exceed the device's ${limits.maxComputeInvocationsPerWorkgroup} per workgroup`);
  if (t.threadsN > limits.maxComputeWorkgroupSizeX || t.threadsM > limits.maxComputeWorkgroupSizeY) invalid(`${where}: workgroup ${t.threadsN}×${t.threadsM} exceeds the device's limits`);
  const bytes = 4 * t.tileK * (tileM + tileN);
  if (bytes > limits.maxComputeWorkgroupStorageSize) invalid(`${where}: ${bytes} bytes of workgroup storage exceed the device's ${limits.maxComputeWorkgroupStorageSize}`);
  return t;
}

/** Fills in defaults and checks every parameter against the device; throws `invalid-argument`. */
export function compileKernelConfig(options: WebgpuKernelOptions, limits: KernelLimits): WebgpuKernelConfig {
  // Our programs bind up to three inputs and one output.
  if (limits.maxStorageBuffersPerShaderStage < 4) invalid(`the device allows ${limits.maxStorageBuffersPerShaderStage} storage buffers per stage; the kernels need 4`);
  const splitK = { ...DEFAULT_SPLIT_K, ...options.splitK };
  for (const [k, v] of Object.entries(splitK)) positiveInteger(`splitK.${k}`, v);
  const batchNorm = { ...DEFAULT_BATCH_NORM_TILES, ...options.batchNorm };
  for (const [k, v] of Object.entries(batchNorm)) positiveInteger(`batchNorm.${k}`, v);
  const bnThreads = batchNorm.channels * batchNorm.rows;
  if (bnThreads > limits.maxComputeInvocationsPerWorkgroup) invalid(`batchNorm: ${bnThreads} threads exceed the device's ${limits.maxComputeInvocationsPerWorkgroup} per workgroup`);
  if (8 * bnThreads > limits.maxComputeWorkgroupStorageSize) invalid(`batchNorm: ${8 * bnThreads} bytes of workgroup storage exceed the device's limit`);
  return {
    conv2d: gemm('conv2d', options.conv2d, limits),
    conv2dBackpropInput: gemm('conv2dBackpropInput', options.conv2dBackpropInput, limits),
    conv2dBackpropFilter: gemm('conv2dBackpropFilter', options.conv2dBackpropFilter, limits),
    splitK,
    batchNorm,
  };
}
