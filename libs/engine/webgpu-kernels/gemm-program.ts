/**
 * One tiled GEMM shader, C[M, N] = A[M, K] · B[K, N], that the convolution kernels instantiate as
 * implicit GEMMs: A and B are never materialised, each kernel supplies WGSL that reads an element
 * (or four adjacent ones) of A and B straight from its tensors, and one that stores an element of C.
 *
 * A workgroup of threadsN × threadsM threads owns a tileM × tileN block of C. Per step it stages a
 * tileK-deep slab of A and B in workgroup memory (k-major, so the inner loop reads one row of each),
 * then every thread accumulates its rowsPerThread × colsPerThread outputs in registers: each value
 * read from workgroup memory feeds several multiply-adds. Threads own rows ty + i·threadsM and
 * columns tx + j·threadsN, so adjacent threads store adjacent columns (coalesced writes).
 *
 * Vectorised loads: an operand whose memory-contiguous dimension (its "fast" one: K or M/N) has an
 * extent divisible by 4 is bound as `array<vec4<f32>>` and staged four elements per load; tile
 * origins are multiples of 4 (config.ts checks), so four adjacent elements are all in range or all
 * out. Otherwise loads are scalar.
 *
 * Split-K: workgroup z takes K range [z·kPerSplit, (z + 1)·kPerSplit), kPerSplit a multiple of tileK,
 * so no slab straddles two splits; `storeC` gets the split index to place partial sums.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { GemmTiles } from './config.js';

/** How a kernel reads one GEMM operand. */
export interface OperandReader {
  /** The contiguous dimension in memory: K, or the operand's other one (M for A, N for B). */
  fast: 'k' | 'outer';
  /** Bound as vec4 (the fast dimension's extent is a multiple of 4). */
  vec4: boolean;
  /**
   * WGSL defining `fn loadA(row: i32, k: i32) -> f32` (or `loadB(k: i32, col: i32)`), or with vec4,
   * `loadA4` / `loadB4` returning the four elements that follow along the fast dimension. Called
   * only in range (row < M, col < N, k < K).
   */
  wgsl: string;
}

export interface GemmSpec {
  /** Part of the pipeline cache key: what the kernel's WGSL depends on besides tiles and readers. */
  name: string;
  variableNames: string[];
  outputShape: number[];
  tiles: GemmTiles;
  a: OperandReader;
  b: OperandReader;
  /** WGSL defining `fn storeC(row: i32, col: i32, split: i32, value: f32)`. */
  store: string;
  /** Extra WGSL uniforms (after M, N, K, kPerSplit), e.g. `inH : i32, inW : i32,`. */
  uniforms: string;
  /** M, N, K of the product. */
  m: number;
  n: number;
  k: number;
  /** Number of K splits (grid z); 1 for none. */
  splits: number;
  /** K positions per split, a multiple of tileK (ignored when splits is 1). */
  kPerSplit: number;
}

export const tileM = (t: GemmTiles): number => t.threadsM * t.rowsPerThread;
export const tileN = (t: GemmTiles): number => t.threadsN * t.colsPerThread;

/**
 * WGSL staging one operand's slab into workgroup memory `tile` laid out [tileK][outerExtent].
 * `outerBase` is the tile's first row (A) or column (B); `outerLimit` is M or N.
 */
function stageLoop(which: 'A' | 'B', r: OperandReader, outerExtent: number, tk: number, threads: number): string {
  const tile = `tile${which}`;
  const load = (outer: string, k: string) => (which === 'A' ? `${outer}, ${k}` : `${k}, ${outer}`);
  const limit = which === 'A' ? 'uniforms.M' : 'uniforms.N';
  const base = which === 'A' ? 'rowBase' : 'colBase';
  const v = r.vec4 ? 4 : 1;
  const fastExtent = r.fast === 'k' ? tk : outerExtent;
  const slowExtent = r.fast === 'k' ? outerExtent : tk;
  const perFast = fastExtent / v;
  const total = perFast * slowExtent;
  const [kExpr, outerExpr] = r.fast === 'k' ? ['f', 's'] : ['s', 'f'];
  const body = r.vec4
    ? `
        var v = vec4<f32>(0.0);
        if (outer < ${limit} && k < uniforms.K) { v = load${which}4(${load('outer', 'k')}); }
        ${[0, 1, 2, 3]
          .map((c) => (r.fast === 'k' ? `${tile}[(kk + ${c}) * ${outerExtent} + oo] = v[${c}];` : `${tile}[kk * ${outerExtent} + oo + ${c}] = v[${c}];`))
          .join('\n        ')}`
    : `
        var v = 0.0;
        if (outer < ${limit} && k < uniforms.K) { v = load${which}(${load('outer', 'k')}); }
        ${tile}[kk * ${outerExtent} + oo] = v;`;
  return `
      for (var e = li; e < ${total}; e = e + ${threads}) {
        let f = (e % ${perFast}) * ${v};
        let s = e / ${perFast};
        let kk = ${kExpr};
        let oo = ${outerExpr};
        let k = k0 + kk;
        let outer = ${base} + oo;${body}
      }`;
}

const roundUp4 = (v: number): number => Math.max(4, Math.ceil(v / 4) * 4);

/**
 * The configured tiles narrowed for a product with few columns (or rows), such as the input
 * gradient of a 3-channel first layer (N = 3) or the filter gradient of a 1×1 convolution over few
 * channels (M = Cin): while a tile is at least twice as wide as the (4-rounded) extent, threads move
 * from that axis to the other with fewer outputs each there (tile area and thread count kept),
 * then outputs per thread shrink on that axis. Keeps every constraint config.ts checks (multiples
 * of 4, threads, workgroup storage never grows). A rule of thumb, not measured on a GPU.
 */
export function fitTiles(tiles: GemmTiles, m: number, n: number): GemmTiles {
  const t = { ...tiles };
  const narrow = (along: 'N' | 'M'): boolean => {
    const [threads, per, otherThreads, otherPer] =
      along === 'N' ? (['threadsN', 'colsPerThread', 'threadsM', 'rowsPerThread'] as const) : (['threadsM', 'rowsPerThread', 'threadsN', 'colsPerThread'] as const);
    // 128: compatibility mode's default limit on a workgroup's y size (core WebGPU's is 256).
    if (t[threads] % 2 === 0 && t[otherPer] % 2 === 0 && t[otherThreads] * 2 <= 128 && ((t[threads] / 2) * t[per]) % 4 === 0) {
      t[threads] /= 2;
      t[otherThreads] *= 2;
      t[otherPer] /= 2;
      return true;
    }
    if (t[per] % 2 === 0 && (t[threads] * (t[per] / 2)) % 4 === 0) {
      t[per] /= 2;
      return true;
    }
    return false;
  };
  while (tileN(t) >= 2 * roundUp4(n)) if (!narrow('N')) break;
  while (tileM(t) >= 2 * roundUp4(m)) if (!narrow('M')) break;
  return t;
}

export function createGemmProgram(spec: GemmSpec): WebGPUProgram {
  const t = fitTiles(spec.tiles, spec.m, spec.n);
  const tm = tileM(t);
  const tn = tileN(t);
  const threads = t.threadsM * t.threadsN;
  const rm = t.rowsPerThread;
  const rn = t.colsPerThread;
  const accumulate: string[] = [];
  for (let i = 0; i < rm; i++) accumulate.push(`let a${i} = tileA[kk * ${tm} + ty + ${i * t.threadsM}];`);
  for (let j = 0; j < rn; j++) {
    accumulate.push(`let b${j} = tileB[kk * ${tn} + tx + ${j * t.threadsN}];`);
    for (let i = 0; i < rm; i++) accumulate.push(`acc[${i * rn + j}] = fma(a${i}, b${j}, acc[${i * rn + j}]);`);
  }
  const stores: string[] = [];
  for (let i = 0; i < rm; i++) {
    for (let j = 0; j < rn; j++) {
      stores.push(`{ let row = rowBase + ty + ${i * t.threadsM}; let col = colBase + tx + ${j * t.threadsN};
        if (row < uniforms.M && col < uniforms.N) { storeC(row, col, split, acc[${i * rn + j}]); } }`);
    }
  }
  const userCode = `
    var<workgroup> tileA : array<f32, ${t.tileK * tm}>;
    var<workgroup> tileB : array<f32, ${t.tileK * tn}>;
    ${spec.a.wgsl}
    ${spec.b.wgsl}
    ${spec.store}
    fn main() {
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let li = i32(localIndex);
      let rowBase = i32(workgroupId.y) * ${tm};
      let colBase = i32(workgroupId.x) * ${tn};
      let split = i32(workgroupId.z);
      let kBegin = split * uniforms.kPerSplit;
      var acc : array<f32, ${rm * rn}>;
      // The trip count comes from uniforms only (workgroupBarrier needs uniform control flow); the
      // last split's steps past K stage zeros.
      for (var step = 0; step < uniforms.kPerSplit / ${t.tileK}; step = step + 1) {
        let k0 = kBegin + step * ${t.tileK};
        ${stageLoop('A', spec.a, tm, t.tileK, threads)}
        ${stageLoop('B', spec.b, tn, t.tileK, threads)}
        workgroupBarrier();
        for (var kk = 0; kk < ${t.tileK}; kk = kk + 1) {
          ${accumulate.join('\n          ')}
        }
        workgroupBarrier();
      }
      ${stores.join('\n      ')}
    }`;
  const key = [spec.name, t.threadsM, t.threadsN, rm, rn, t.tileK, spec.a.fast, spec.a.vec4, spec.b.fast, spec.b.vec4].join('_');
  const variableComponents = spec.variableNames.map((_, i) => (i === 0 ? (spec.a.vec4 ? 4 : 1) : i === 1 ? (spec.b.vec4 ? 4 : 1) : 1));
  return {
    variableNames: spec.variableNames,
    variableComponents,
    outputShape: spec.outputShape,
    shaderKey: `harden_gemm_${key}`,
    // Three dispatch axes (column tiles, row tiles, splits); never equal to the output's rank, so
    // tfjs generates no getOutputCoords for it (we index the output ourselves).
    dispatchLayout: layoutAvoiding(spec.outputShape.length),
    dispatch: [Math.ceil(spec.n / tn), Math.ceil(spec.m / tm), spec.splits],
    workgroupSize: [t.threadsN, t.threadsM, 1],
    uniforms: `M : i32, N : i32, K : i32, kPerSplit : i32, ${spec.uniforms}`,
    getUserCode: () => userCode,
  };
}

/** Whether the product's grid fits the device's workgroups per dimension (else: the shipped kernel). */
export function gemmFits(spec: GemmSpec, maxWorkgroupsPerDimension: number): boolean {
  const t = fitTiles(spec.tiles, spec.m, spec.n);
  return Math.max(Math.ceil(spec.n / tileN(t)), Math.ceil(spec.m / tileM(t)), spec.splits) <= maxWorkgroupsPerDimension;
}

/** The uniform values for M, N, K, kPerSplit, in the order `createGemmProgram` declares them. */
export function gemmUniforms(spec: GemmSpec): Array<{ type: string; data: number[] }> {
  const kPerSplit = spec.splits > 1 ? spec.kPerSplit : Math.ceil(spec.k / spec.tiles.tileK) * spec.tiles.tileK;
  return [spec.m, spec.n, spec.k, kPerSplit].map((v) => ({ type: 'int32', data: [v] }));
}

/** int32 uniforms, one per value, in order. */
export const ints = (...values: number[]): Array<{ type: string; data: number[] }> => values.map((v) => ({ type: 'int32', data: [v] }));

/**
 * A dispatch layout that is not flat (so tfjs calls `main()` with no index) and whose rank differs
 * from the output's (so tfjs generates no `getOutputCoords` from it): our kernels index by hand.
 */
export function layoutAvoiding(outputRank: number): { x: number[]; y: number[]; z?: number[] } {
  return outputRank === 3 ? { x: [0], y: [1] } : { x: [0], y: [1], z: [2] };
}
