/**
 * The training-mode BatchNorm op of libs/models/batch-norm-layer.ts on webgpu, with the contract of
 * the native engine's kernels (libs/engine/native/batch-norm.ts), over every axis but the last
 * (x viewed as [M, C]):
 *
 *   `HardenBatchNorm`     (x, gamma, beta; epsilon) → y, mean, variance (biased, over M)
 *   `HardenBatchNormGrad` (x, dy, mean, variance, gamma; epsilon) → dx, dgamma, dbeta
 *
 *   x̂ = (x − μ)/σ, y = γ·x̂ + β, σ = √(var + ε);  dβ = Σ dy, dγ = Σ dy·x̂,
 *   dx = γ/σ · (dy − dβ/M − x̂·dγ/M)
 *
 * Each direction reads the full-size tensors twice, the least possible without holding a whole
 * channel in one workgroup: one reduction pass (per channel, in parallel over chunks of
 * `rowsPerChunk` rows; each workgroup takes `channels` adjacent channels so its reads coalesce)
 * writes partial sums [chunks, 3, C]; a per-channel pass combines them into coefficients; one
 * element-wise pass writes y (dx). The mean and variance (dgamma and dbeta) are copied out of the
 * coefficients. The stock composition takes about a dozen full-size passes each way.
 *
 * The forward sums are shifted by each channel's first value, Σ(x − x₀) and Σ(x − x₀)², so the
 * variance E[(x − x₀)²] − (E[x − x₀])² does not cancel catastrophically when |mean| ≫ σ. The
 * backward sums Σ dy·(x − μ) against the given mean.
 *
 * Every program binds at most three inputs and one output (compatibility mode's four storage
 * buffers per stage): the backward reduction copies μ into its partial sums so the combining pass
 * needs no fourth input.
 */
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BatchNormTiles } from './config.js';
import { layoutAvoiding } from './gemm-program.js';

export { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL } from '../native/batch-norm.js';

type Args = { inputs: Record<string, TensorInfo>; backend: WebGPUBackend; attrs: NamedAttrMap };

const UNIFORMS = 'M : i32, C : i32, rowsPerChunk : i32, chunks : i32, eps : f32,';
const ELEMENTWISE_THREADS = 256;
const CHANNEL_THREADS = 64;

interface Dims {
  m: number;
  c: number;
  chunks: number;
  rowsPerChunk: number;
}

function uniforms(d: Dims, eps: number): Array<{ type: string; data: number[] }> {
  return [
    ...[d.m, d.c, d.rowsPerChunk, d.chunks].map((v) => ({ type: 'int32', data: [v] })),
    { type: 'float32', data: [eps] },
  ];
}

/**
 * Per channel c and chunk of rows, Σ first and Σ second over the chunk, and a third value per
 * channel, into partial sums [chunks, 3, C].
 */
function reduceProgram(kind: 'stats' | 'grad', d: Dims, t: BatchNormTiles): WebGPUProgram {
  const cw = t.channels;
  const rw = t.rows;
  const inputs = kind === 'stats' ? ['x'] : ['x', 'dy', 'mean'];
  const setup = kind === 'stats' ? 'third = x[c];' : 'third = mean[c];';
  const accumulate =
    kind === 'stats'
      ? 'let e = x[r * uniforms.C + c] - third; first = first + e; second = fma(e, e, second);'
      : 'let g = dy[r * uniforms.C + c]; first = first + g; second = fma(g, x[r * uniforms.C + c] - third, second);';
  return {
    variableNames: inputs,
    outputShape: [d.chunks, 3, d.c],
    shaderKey: `harden_bn_reduce_${kind}_${cw}_${rw}`,
    dispatchLayout: layoutAvoiding(3),
    dispatch: [Math.ceil(d.c / cw), d.chunks, 1],
    workgroupSize: [cw, rw, 1],
    uniforms: UNIFORMS,
    getUserCode: () => `
    var<workgroup> partial : array<f32, ${2 * cw * rw}>;
    fn main() {
      let cx = i32(localId.x);
      let ry = i32(localId.y);
      let c = i32(workgroupId.x) * ${cw} + cx;
      let chunk = i32(workgroupId.y);
      var first = 0.0;
      var second = 0.0;
      var third = 0.0;
      if (c < uniforms.C) {
        ${setup}
        let end = min((chunk + 1) * uniforms.rowsPerChunk, uniforms.M);
        for (var r = chunk * uniforms.rowsPerChunk + ry; r < end; r = r + ${rw}) { ${accumulate} }
      }
      partial[ry * ${cw} + cx] = first;
      partial[(${rw} + ry) * ${cw} + cx] = second;
      workgroupBarrier();
      if (ry == 0 && c < uniforms.C) {
        var a = 0.0;
        var b = 0.0;
        for (var j = 0; j < ${rw}; j = j + 1) {
          a = a + partial[j * ${cw} + cx];
          b = b + partial[(${rw} + j) * ${cw} + cx];
        }
        let base = chunk * 3 * uniforms.C + c;
        result[base] = a;
        result[base + uniforms.C] = b;
        result[base + 2 * uniforms.C] = third;
      }
    }`,
  };
}

/** One thread per channel: combines the partial sums into per-channel coefficients [rows, C]. */
function combineProgram(kind: 'stats' | 'grad', d: Dims): WebGPUProgram {
  const inputs = kind === 'stats' ? ['partials', 'gamma', 'beta'] : ['partials', 'variance', 'gamma'];
  const rows = kind === 'stats' ? 4 : 6;
  const body =
    kind === 'stats'
      ? `
      let ms = a / f32(uniforms.M);
      let variance = max(b / f32(uniforms.M) - ms * ms, 0.0);
      result[c] = third + ms;
      result[uniforms.C + c] = variance;
      result[2 * uniforms.C + c] = gamma[c] * inverseSqrt(variance + uniforms.eps);
      result[3 * uniforms.C + c] = beta[c];`
      : `
      let invStd = inverseSqrt(variance[c] + uniforms.eps);
      let dGamma = b * invStd;
      result[c] = a;
      result[uniforms.C + c] = dGamma;
      result[2 * uniforms.C + c] = third;
      result[3 * uniforms.C + c] = gamma[c] * invStd;
      result[4 * uniforms.C + c] = a / f32(uniforms.M);
      result[5 * uniforms.C + c] = invStd * dGamma / f32(uniforms.M);`;
  return {
    variableNames: inputs,
    outputShape: [rows, d.c],
    shaderKey: `harden_bn_combine_${kind}`,
    dispatchLayout: layoutAvoiding(2),
    dispatch: [Math.ceil(d.c / CHANNEL_THREADS), 1, 1],
    workgroupSize: [CHANNEL_THREADS, 1, 1],
    uniforms: UNIFORMS,
    getUserCode: () => `
    fn main() {
      let c = i32(globalId.x);
      if (c >= uniforms.C) { return; }
      var a = 0.0;
      var b = 0.0;
      for (var chunk = 0; chunk < uniforms.chunks; chunk = chunk + 1) {
        a = a + partials[chunk * 3 * uniforms.C + c];
        b = b + partials[(chunk * 3 + 1) * uniforms.C + c];
      }
      let third = partials[2 * uniforms.C + c];${body}
    }`,
  };
}

/** One thread per element i of an [M, C] tensor, c = i mod C. */
function elementwiseProgram(name: string, variableNames: string[], outputShape: number[], expression: string): WebGPUProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  const groups = Math.ceil(size / ELEMENTWISE_THREADS);
  const gx = Math.min(groups, 32768);
  return {
    variableNames,
    outputShape,
    shaderKey: `harden_bn_${name}`,
    dispatchLayout: layoutAvoiding(outputShape.length),
    dispatch: [gx, Math.ceil(groups / gx), 1],
    workgroupSize: [ELEMENTWISE_THREADS, 1, 1],
    uniforms: UNIFORMS,
    getUserCode: () => `
    fn main() {
      let i = (i32(workgroupId.y) * i32(numWorkgroups.x) + i32(workgroupId.x)) * ${ELEMENTWISE_THREADS} + i32(localIndex);
      if (i >= uniforms.M * uniforms.C) { return; }
      let c = i % uniforms.C;
      result[i] = ${expression};
    }`,
  };
}

/** Row `row` of a [rows, C] coefficient tensor, as a [C] tensor. */
function rowOf(backend: WebGPUBackend, coef: TensorInfo, row: number, d: Dims): TensorInfo {
  const program = elementwiseProgram(`row${row}`, ['coef'], [d.c], `coef[${row} * uniforms.C + c]`);
  return backend.runWebGPUProgram(program, [coef], 'float32', uniforms({ ...d, m: 1 }, 0));
}

function dims(x: TensorInfo, t: BatchNormTiles): Dims {
  const c = x.shape[x.shape.length - 1];
  const m = x.shape.reduce((a, b) => a * b, 1) / c;
  const rowsPerChunk = Math.max(t.rowsPerChunk, Math.ceil(m / 65535));
  return { m, c, rowsPerChunk, chunks: Math.ceil(m / rowsPerChunk) };
}

export function createWebgpuBatchNorm(t: BatchNormTiles): KernelFunc {
  return ((args: Args) => {
    const { x, gamma, beta } = args.inputs;
    const { backend } = args;
    const eps = args.attrs.epsilon as number;
    const d = dims(x, t);
    const u = uniforms(d, eps);
    const partials = backend.runWebGPUProgram(reduceProgram('stats', d, t), [x], 'float32', u);
    const coef = backend.runWebGPUProgram(combineProgram('stats', d), [partials, gamma, beta], 'float32', u);
    backend.disposeData(partials.dataId);
    const y = backend.runWebGPUProgram(
      elementwiseProgram('apply', ['x', 'coef'], x.shape, '(x[i] - coef[c]) * coef[2 * uniforms.C + c] + coef[3 * uniforms.C + c]'),
      [x, coef],
      'float32',
      u,
    );
    const mean = rowOf(backend, coef, 0, d);
    const variance = rowOf(backend, coef, 1, d);
    backend.disposeData(coef.dataId);
    return [y, mean, variance];
  }) as unknown as KernelFunc;
}

export function createWebgpuBatchNormGrad(t: BatchNormTiles): KernelFunc {
  return ((args: Args) => {
    const { x, dy, mean, variance, gamma } = args.inputs;
    const { backend } = args;
    const eps = args.attrs.epsilon as number;
    const d = dims(x, t);
    const u = uniforms(d, eps);
    const partials = backend.runWebGPUProgram(reduceProgram('grad', d, t), [x, dy, mean], 'float32', u);
    const coef = backend.runWebGPUProgram(combineProgram('grad', d), [partials, variance, gamma], 'float32', u);
    backend.disposeData(partials.dataId);
    const dx = backend.runWebGPUProgram(
      elementwiseProgram(
        'grad_apply',
        ['x', 'dy', 'coef'],
        x.shape,
        'coef[3 * uniforms.C + c] * (dy[i] - coef[4 * uniforms.C + c] - (x[i] - coef[2 * uniforms.C + c]) * coef[5 * uniforms.C + c])',
      ),
      [x, dy, coef],
      'float32',
      u,
    );
    const dgamma = rowOf(backend, coef, 1, d);
    const dbeta = rowOf(backend, coef, 0, d);
    backend.disposeData(coef.dataId);
    return [dx, dgamma, dbeta];
  }) as unknown as KernelFunc;
}
