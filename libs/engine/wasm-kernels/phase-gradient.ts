/**
 * The input gradient of a strided convolution as s_h·s_w stride-1 convolutions ("phases", also
 * called the sub-pixel decomposition), shared by the conv2d and depthwise input-gradient kernels.
 *
 * Phase (ρh, ρw) holds the input-gradient pixels (i″·s_h + ρh, j″·s_w + ρw); only the filter taps
 * congruent to that phase reach it (see `axisPhases`), so each phase is a dense stride-1
 * convolution of dy with a small flipped sub-filter, and no multiplication by an inserted zero is
 * ever done (zero-insertion would multiply s_h·s_w times as many terms).
 *
 * Interleaving the phases back, for dx [N, H, W, C] from phases [N, qh, qw, C]:
 *   P = concat(phases in (ρh, ρw) order, axis 0)      as [sh, sw, N·qh·qw, C]   (a memcpy)
 *   P′ = transpose(P, [0, 2, 1, 3])                     → [sh, N·qh·qw, sw, C] = [sh, N·qh, qw·sw·C]
 *   dx = transpose(P′, [1, 0, 2])                       → [N·qh, sh, qw·sw·C]  = [N, qh·sh, qw·sw, C]
 * then a crop to H × W when H or W is not a multiple of the stride. Both transposes keep a run of
 * ≥ C contiguous floats in place (≈1 ns per element), where a channel-axis concat followed by one
 * transpose measured 2× slower and `DepthToSpace`/`BatchToSpaceND` 20–100× slower on wasm.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { assertDyShape, axisPhases, type AxisPhase, type ConvGeometry } from './conv-geometry.js';
import type { KernelScope } from './kernel-scope.js';

/** Runs one phase: a stride-1 convolution of `dy` (already cropped) with the given explicit padding. */
export type PhaseConv = (
  rows: AxisPhase,
  cols: AxisPhase,
  dy: TensorInfo,
  padding: [[number, number], [number, number]],
) => TensorInfo;

/**
 * dx [N, H, W, C] (NHWC) from dy [N, outH, outW, ·], calling `phaseConv` once per phase that any
 * filter tap reaches; phases no tap reaches are zero.
 */
export function phaseInputGradient(
  scope: KernelScope,
  geo: ConvGeometry,
  dy: TensorInfo,
  channels: number,
  phaseConv: PhaseConv,
): TensorInfo {
  assertDyShape(geo, dy.shape);
  const rows = axisPhases(geo.inH, geo.outH, geo.kh, geo.sh, geo.dh, geo.top);
  const cols = axisPhases(geo.inW, geo.outW, geo.kw, geo.sw, geo.dw, geo.left);
  const n = geo.batch;
  const parts: TensorInfo[] = [];
  for (const ph of rows.phases) {
    for (const pw of cols.phases) {
      const cropTop = Math.max(0, -ph.padBefore);
      const cropBottom = Math.max(0, -ph.padAfter);
      const cropLeft = Math.max(0, -pw.padBefore);
      const cropRight = Math.max(0, -pw.padAfter);
      const h = geo.outH - cropTop - cropBottom;
      const w = geo.outW - cropLeft - cropRight;
      if (ph.taps === 0 || pw.taps === 0 || h <= 0 || w <= 0) {
        parts.push(scope.zeros([n, rows.q, cols.q, channels]));
        continue;
      }
      const cropped =
        cropTop || cropBottom || cropLeft || cropRight
          ? scope.slice(dy, [0, cropTop, cropLeft, 0], [n, h, w, -1])
          : dy;
      const padding: [[number, number], [number, number]] = [
        [Math.max(0, ph.padBefore), Math.max(0, ph.padAfter)],
        [Math.max(0, pw.padBefore), Math.max(0, pw.padAfter)],
      ];
      parts.push(phaseConv(ph, pw, cropped, padding));
    }
  }
  const sh = rows.phases.length;
  const sw = cols.phases.length;
  let full: TensorInfo;
  if (parts.length === 1) {
    full = parts[0];
  } else {
    const pixels = n * rows.q * cols.q;
    const stacked = scope.reshape(scope.concat(parts, 0), [sh, sw, pixels, channels]);
    const widthDone = scope.transpose(stacked, [0, 2, 1, 3]);
    const rowsFirst = scope.reshape(widthDone, [sh, n * rows.q, cols.q * sw * channels]);
    full = scope.reshape(scope.transpose(rowsFirst, [1, 0, 2]), [n, rows.q * sh, cols.q * sw, channels]);
  }
  return scope.slice(full, [0, 0, 0, 0], [n, geo.inH, geo.inW, channels]);
}
