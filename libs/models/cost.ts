/**
 * Model size and compute: parameter counts (PyTorch's convention: trainable weights only) and forward
 * multiply-adds per image from the layer shapes, for benchmarks to report GFLOP/s.
 */
import type { tfl } from '../engine/index.js';

export interface ParamCount {
  /** Trainable weights: what PyTorch's `sum(p.numel() for p in model.parameters())` counts. */
  trainable: number;
  /** Non-trainable weights: BatchNorm moving mean and variance (PyTorch buffers). */
  nonTrainable: number;
  /** Both; equals tfjs's `model.countParams()`. */
  total: number;
}

/** Parameter counts of a model. */
export function countParams(model: tfl.LayersModel): ParamCount {
  const size = (ws: tfl.LayerVariable[]) => ws.reduce((n, w) => n + product(w.shape), 0);
  const trainable = size(model.trainableWeights);
  const nonTrainable = size(model.nonTrainableWeights);
  return { trainable, nonTrainable, total: trainable + nonTrainable };
}

export interface LayerMacs {
  name: string;
  className: string;
  /** Multiply-adds of this layer's forward pass for one image. */
  macs: number;
}

/**
 * Forward multiply-adds per image of each layer that does any: Conv2D (out_h·out_w·k_h·k_w·in·out),
 * DepthwiseConv2D (out_h·out_w·k_h·k_w·in·multiplier) and Dense (in·units per position). Bias adds,
 * BatchNorm, activations, pooling and residual adds are not counted (they are O(activations), a few
 * percent of the convolutions), matching the usual MAC counts quoted for these networks.
 */
export function macsByLayer(model: tfl.LayersModel): LayerMacs[] {
  const out: LayerMacs[] = [];
  for (const layer of model.layers) {
    const className = layer.getClassName();
    const kernel = layer.weights.find((w) => /(^|\/)(kernel|depthwise_kernel)$/.test(w.originalName))?.shape;
    if (!kernel) continue;
    const outShape = layer.outputShape as (number | null)[];
    const positions = product(outShape.slice(1, -1));
    let macs = 0;
    if (className === 'Conv2D' || className === 'DepthwiseConv2D' || className === 'Dense') {
      macs = positions * product(kernel);
    }
    if (macs > 0) out.push({ name: layer.name, className, macs });
  }
  return out;
}

/**
 * Forward multiply-adds per image (see `macsByLayer`). FLOPs = 2 × MACs; a training step costs about
 * 3× the forward pass (forward, input gradients, weight gradients), an input-gradient step about 2×.
 */
export function forwardMacs(model: tfl.LayersModel): number {
  return macsByLayer(model).reduce((n, l) => n + l.macs, 0);
}

/** Product of the dimensions; unknown (`null`) ones count as 1. */
function product(dims: readonly (number | null)[]): number {
  return dims.reduce<number>((a, b) => a * (b ?? 1), 1);
}
