/**
 * PreActResNet-18 (He et al. 2016, "Identity Mappings in Deep Residual Networks", arXiv:1603.05027),
 * CIFAR variant as in the robust-training code bases (Rice et al.'s `preactresnet.py`, used by D2R):
 * conv3×3 64 → 4 stages of 2 pre-activation blocks (64, 128, 256, 512 channels; strides 1, 2, 2, 2) →
 * BN → ReLU → global average pool → linear. 11,172,170 trainable parameters for 3 channels / 10.
 *
 * Block: out = relu(bn1(x)); shortcut = 1×1 conv(out) when the shape changes, else x;
 * out = conv2(relu(bn2(conv1(out)))) + shortcut. Note the projection shortcut takes the
 * pre-activated input, as in the reference. Convs have no bias.
 *
 * Init: PyTorch's defaults (the reference sets none): convs and linear U(±1/√fan_in).
 * The reference's `avg_pool2d(out, 4)` is a global pool for 32×32 inputs; global here, for any size.
 */
import type { tfl } from '../engine/index.js';
import type { ArchDefinition } from './arch.js';
import type { LayerBuilder } from './layer-builder.js';

type Sym = tfl.SymbolicTensor;
const TORCH = { kind: 'torch-default' } as const;

function preActBlock(b: LayerBuilder, x: Sym, name: string, inPlanes: number, planes: number, stride: number): Sym {
  const out = b.relu(b.batchNorm(x, `${name}_bn1`), `${name}_relu1`);
  const shortcut =
    stride !== 1 || inPlanes !== planes
      ? b.conv(out, { name: `${name}_shortcut_0`, filters: planes, kernelSize: 1, strides: stride, padding: 'valid', init: TORCH })
      : x;
  let y = b.conv(out, { name: `${name}_conv1`, filters: planes, kernelSize: 3, strides: stride, padding: 'same', init: TORCH });
  y = b.relu(b.batchNorm(y, `${name}_bn2`), `${name}_relu2`);
  y = b.conv(y, { name: `${name}_conv2`, filters: planes, kernelSize: 3, padding: 'same', init: TORCH });
  return b.add(y, shortcut, `${name}_add`);
}

export const preactResnet18: ArchDefinition<Record<string, never>> = {
  summary: 'PreActResNet-18: pre-activation basic blocks [2,2,2,2], 64-512 channels, final BN-ReLU, global pool',
  defaults: {},
  validate: () => undefined,
  build(b, input, numClasses) {
    let x = b.conv(input, { name: 'conv1', filters: 64, kernelSize: 3, padding: 'same', init: TORCH });
    let inPlanes = 64;
    for (const [stage, planes, stride] of [[1, 64, 1], [2, 128, 2], [3, 256, 2], [4, 512, 2]] as const) {
      for (let i = 0; i < 2; i++) {
        x = preActBlock(b, x, `layer${stage}_${i}`, inPlanes, planes, i === 0 ? stride : 1);
        inPlanes = planes;
      }
    }
    x = b.relu(b.batchNorm(x, 'bn'), 'relu');
    x = b.globalAvgPool(x, 'avgpool');
    return b.dense(x, { name: 'linear', units: numClasses, init: TORCH, bias: TORCH });
  },
};
