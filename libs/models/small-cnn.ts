/**
 * SmallCNN from TRADES (Zhang et al. 2019, arXiv:1901.08573), `models/small_cnn.py`, the MNIST model:
 * conv3×3 32 → relu → conv3×3 32 → relu → maxpool 2 → conv3×3 64 → relu → conv3×3 64 → relu →
 * maxpool 2 → flatten → fc 200 → relu → dropout 0.5 → fc 200 → relu → fc numClasses.
 * 'valid' padding throughout, convs with bias, no BatchNorm. 312,202 parameters for 28×28×1 / 10.
 *
 * Init as the reference: convs Kaiming-normal (fan-in, gain √2) with zero bias; fc1/fc2 PyTorch's
 * default uniform; fc3 weight and bias zero (so an untrained model outputs all-zero logits).
 */
import { checkRate, type ArchDefinition } from './arch.js';

export interface SmallCnnOptions {
  /** Dropout rate between fc1 and fc2 (active only in training mode). @default 0.5 */
  dropout?: number;
  /** Zero-initialise the last layer, as the TRADES code does. @default true */
  zeroInitHead?: boolean;
}

type Resolved = { dropout: number; zeroInitHead: boolean };

export const smallCnn: ArchDefinition<Resolved> = {
  summary: 'TRADES SmallCNN (MNIST): 4 valid 3×3 convs, 2 max-pools, fc 200-200-classes, dropout 0.5',
  defaults: { dropout: 0.5, zeroInitHead: true },
  validate(o, [h, w]) {
    // Each stage: two valid 3×3 convs (−4) then a 2×2 pool (÷2, floored); both stages must leave ≥ 1 pixel.
    const after = (n: number) => Math.floor((Math.floor((n - 4) / 2) - 4) / 2);
    if (after(h) < 1 || after(w) < 1) {
      return `small-cnn needs inputs of at least 16×16 (4 valid 3×3 convs and 2 pools), got ${h}×${w}`;
    }
    return checkRate('dropout', o.dropout) ?? (typeof o.zeroInitHead === 'boolean' ? undefined : 'zeroInitHead must be a boolean');
  },
  build(b, input, numClasses, o) {
    const conv = (x: typeof input, name: string, filters: number) =>
      b.relu(
        b.conv(x, { name: `features_${name}`, filters, kernelSize: 3, padding: 'valid', init: { kind: 'kaiming-normal', mode: 'fan-in' }, bias: { kind: 'zeros' } }),
        `features_relu${name.slice(-1)}`,
      );
    let x = conv(input, 'conv1', 32);
    x = conv(x, 'conv2', 32);
    x = b.maxPool(x, 'features_maxpool1');
    x = conv(x, 'conv3', 64);
    x = conv(x, 'conv4', 64);
    x = b.maxPool(x, 'features_maxpool2');
    x = b.flatten(x, 'flatten');
    const torch = { kind: 'torch-default' } as const;
    x = b.relu(b.dense(x, { name: 'classifier_fc1', units: 200, init: torch, bias: torch }), 'classifier_relu1');
    if (o.dropout > 0) x = b.dropout(x, o.dropout, 'classifier_drop');
    x = b.relu(b.dense(x, { name: 'classifier_fc2', units: 200, init: torch, bias: torch }), 'classifier_relu2');
    const head = o.zeroInitHead ? ({ kind: 'zeros' } as const) : torch;
    return b.dense(x, { name: 'classifier_fc3', units: numClasses, init: head, bias: head });
  },
};
