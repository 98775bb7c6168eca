/**
 * ResNet-18 (He et al. 2015, arXiv:1512.03385), CIFAR variant (kuangliu/pytorch-cifar `resnet.py`,
 * the D2R guidance model): conv3×3 64 stride 1 → BN → ReLU (no max-pool) → 4 stages of 2 basic
 * blocks (64, 128, 256, 512; strides 1, 2, 2, 2) → global average pool → linear.
 * 11,173,962 trainable parameters for 3 channels / 10 classes.
 *
 * Block: out = relu(bn1(conv1(x))); out = bn2(conv2(out)); out = relu(out + shortcut(x)), where the
 * shortcut is 1×1 conv + BN when the shape changes, else identity. Convs have no bias.
 * Init: PyTorch's defaults (the reference sets none): convs and linear U(±1/√fan_in).
 */
import type { tfl } from '../engine/index.js';
import type { ArchDefinition } from './arch.js';
import type { LayerBuilder } from './layer-builder.js';

type Sym = tfl.SymbolicTensor;
const TORCH = { kind: 'torch-default' } as const;

function basicBlock(b: LayerBuilder, x: Sym, name: string, inPlanes: number, planes: number, stride: number): Sym {
  let out = b.conv(x, { name: `${name}_conv1`, filters: planes, kernelSize: 3, strides: stride, padding: 'same', init: TORCH });
  out = b.relu(b.batchNorm(out, `${name}_bn1`), `${name}_relu1`);
  out = b.conv(out, { name: `${name}_conv2`, filters: planes, kernelSize: 3, padding: 'same', init: TORCH });
  out = b.batchNorm(out, `${name}_bn2`);
  const shortcut =
    stride !== 1 || inPlanes !== planes
      ? b.batchNorm(
          b.conv(x, { name: `${name}_shortcut_0`, filters: planes, kernelSize: 1, strides: stride, padding: 'valid', init: TORCH }),
          `${name}_shortcut_1`,
        )
      : x;
  return b.relu(b.add(out, shortcut, `${name}_add`), `${name}_relu2`);
}

export const resnet18: ArchDefinition<Record<string, never>> = {
  summary: 'ResNet-18 (CIFAR): 3×3 stem, no max-pool, basic blocks [2,2,2,2], 64-512 channels, global pool',
  defaults: {},
  validate: () => undefined,
  build(b, input, numClasses) {
    let x = b.conv(input, { name: 'conv1', filters: 64, kernelSize: 3, padding: 'same', init: TORCH });
    x = b.relu(b.batchNorm(x, 'bn1'), 'relu');
    let inPlanes = 64;
    for (const [stage, planes, stride] of [[1, 64, 1], [2, 128, 2], [3, 256, 2], [4, 512, 2]] as const) {
      for (let i = 0; i < 2; i++) {
        x = basicBlock(b, x, `layer${stage}_${i}`, inPlanes, planes, i === 0 ? stride : 1);
        inPlanes = planes;
      }
    }
    x = b.globalAvgPool(x, 'avgpool');
    return b.dense(x, { name: 'linear', units: numClasses, init: TORCH, bias: TORCH });
  },
};
