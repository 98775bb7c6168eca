/**
 * Convolution geometry shared by the gradient kernels.
 *
 * Padding and output sizes come from `tf.backend_util.computeConv2DInfo`, exactly as the forward
 * kernels compute them, so 'same' gets TensorFlow's asymmetric split (the odd pixel goes after),
 * and numeric, explicit and `dimRoundingMode` padding behave as in tfjs.
 *
 * Notation (one spatial axis, all sizes in pixels): input size `size`, output size `out`, filter
 * taps `k`, stride `s`, dilation `d`, padding before `before`. The forward convolution is
 *   y[a] = Σ_p x[a·s + p·d − before] · f[p]        (0 ≤ a < out, 0 ≤ p < k)
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  /** Output channels of the forward op (inC × multiplier for depthwise). */
  outC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  top: number;
  left: number;
  /** NCHW inputs are transposed to NHWC, computed there, and transposed back. */
  channelsFirst: boolean;
}

/**
 * Reads the attributes of a tfjs conv gradient kernel. `inShape` is in the kernel's data format;
 * `filterShape` is [kh, kw, inC, outC] (conv) or [kh, kw, inC, multiplier] (depthwise).
 */
export function convGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: NamedAttrMap,
  depthwise: boolean,
): ConvGeometry {
  const dataFormat = (attrs.dataFormat as string | undefined) ?? 'NHWC';
  const channelsFirst = dataFormat === 'NCHW';
  const dilations = (attrs.dilations as number | [number, number] | undefined) ?? 1;
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    dilations,
    attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
    channelsFirst ? 'channelsFirst' : 'channelsLast',
  );
  if (info.outHeight <= 0 || info.outWidth <= 0) {
    throw new Error(`convolution output would be empty: input ${inShape}, filter ${filterShape}`);
  }
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
    channelsFirst,
  };
}

/** Throws unless dy (NHWC) has the forward convolution's output shape. */
export function assertDyShape(geo: ConvGeometry, dyShape: readonly number[]): void {
  const expected = [geo.batch, geo.outH, geo.outW, geo.outC];
  if (dyShape.length !== 4 || dyShape.some((d, i) => d !== expected[i])) {
    throw new Error(`dy has shape [${dyShape}] (NHWC), expected [${expected}] for this convolution`);
  }
}

/**
 * One output phase of the input gradient along one axis.
 *
 * The input gradient is dx[i] = Σ_p dy[(i + before − p·d)/s] · f[p], over the p for which the
 * division is exact and the index lies in [0, out). Split i by its phase ρ = i mod s, i = i″·s + ρ:
 * with δ = ρ + before, the taps that reach phase ρ are p = r + s·m (r = δ mod s, m = 0…taps−1), and
 *   dx[i″·s + ρ] = Σ_m dy[i″ + ⌊δ/s⌋ − m] · f[r + s·m].
 * Flipping m (m′ = taps−1−m) makes this a stride-1 correlation of dy, padded by `padBefore` and
 * `padAfter` (negative: crop), with the sub-filter g[m′] = f[r + s·(taps−1−m′)]; it yields `q` rows
 * i″ = 0…q−1 (rows past the input size are cropped after the phases are interleaved). With s = 1
 * there is one phase and the taps keep their dilation d.
 */
export interface AxisPhase {
  /** Number of filter taps reaching this phase (0: the phase's gradient is zero). */
  taps: number;
  /** Filter index of tap m = 0. */
  first: number;
  padBefore: number;
  padAfter: number;
}

export interface AxisPhases {
  /** Rows (or columns) each phase produces: ⌈size / s⌉. */
  q: number;
  phases: AxisPhase[];
}

export function axisPhases(size: number, out: number, k: number, s: number, d: number, before: number): AxisPhases {
  if (s === 1) {
    // dx[i] = Σ_m′ dy[i − ((k−1)·d − before) + m′·d] · f[k−1−m′]
    const padBefore = (k - 1) * d - before;
    return { q: size, phases: [{ taps: k, first: 0, padBefore, padAfter: size + before - out }] };
  }
  if (d !== 1) throw new Error(`stride ${s} with dilation ${d}: tfjs requires one of them to be 1`);
  const q = Math.ceil(size / s);
  const phases: AxisPhase[] = [];
  for (let rho = 0; rho < s; rho++) {
    const delta = rho + before;
    const first = delta % s;
    const base = Math.floor(delta / s);
    const taps = first < k ? Math.ceil((k - first) / s) : 0;
    phases.push({ taps, first, padBefore: taps - 1 - base, padAfter: q + base - out });
  }
  return { q, phases };
}

/** Filter index of sub-filter tap m′ (see `AxisPhase`): first + s·(taps−1−m′); with s = 1, k−1−m′. */
export function phaseTap(phase: AxisPhase, s: number, mPrime: number): number {
  return phase.first + s * (phase.taps - 1 - mPrime);
}
