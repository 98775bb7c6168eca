/**
 * The benchmark reference CNN (ARCHITECTURE.md, "Compute engine"): conv3×3 32 (stride 1) → conv3×3 64
 * stride 2 → conv3×3 128 stride 2 (all 'same', with bias, ReLU) → global average pool → linear.
 * 94,538 parameters for 3 channels / 10 classes. No PyTorch reference exists: init is
 * Kaiming-normal (fan-in) for convs with zero bias, PyTorch's default uniform for the linear layer.
 */
import type { ArchDefinition } from './arch.js';

const KAIMING_IN = { kind: 'kaiming-normal', mode: 'fan-in' } as const;
const ZEROS = { kind: 'zeros' } as const;

export const refCnn: ArchDefinition<Record<string, never>> = {
  summary: 'benchmark reference CNN: conv 32, conv 64 s2, conv 128 s2, global pool, linear',
  defaults: {},
  validate: () => undefined,
  build(b, input, numClasses) {
    let x = input;
    for (const [i, filters, strides] of [[1, 32, 1], [2, 64, 2], [3, 128, 2]] as const) {
      x = b.conv(x, { name: `conv${i}`, filters, kernelSize: 3, strides, padding: 'same', init: KAIMING_IN, bias: ZEROS });
      x = b.relu(x, `relu${i}`);
    }
    x = b.globalAvgPool(x, 'avgpool');
    return b.dense(x, { name: 'linear', units: numClasses, init: { kind: 'torch-default' }, bias: { kind: 'torch-default' } });
  },
};
