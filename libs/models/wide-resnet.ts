/**
 * Wide ResNet (Zagoruyko & Komodakis 2016, arXiv:1605.07146) as in the TRADES / D2R code
 * (`models/wideresnet.py`): conv3×3 16 → 3 groups of (depth−4)/6 pre-activation wide blocks with
 * 16k, 32k, 64k channels (strides 1, 2, 2) → BN → ReLU → global average pool → linear.
 * WRN-34-10: 46,160,474 trainable parameters for 10 classes. The reference also builds an unused
 * `sub_block1` (its parameters appear in `model.parameters()` but never in `forward`); it is left out.
 *
 * Block: when in ≠ out channels, x = relu(bn1(x)) and the shortcut is a 1×1 conv of that; otherwise
 * the shortcut is x itself and the branch starts from relu(bn1(x)). Branch:
 * conv3×3 (stride) → BN → ReLU → [dropout] → conv3×3. Convs have no bias.
 * Init as the reference: convs N(0, 2/(k·k·out)) (Kaiming-normal, fan-out); linear weight PyTorch's
 * default uniform, linear bias zero.
 */
import type { tfl } from '../engine/index.js';
import { checkInt, checkRate, type ArchDefinition } from './arch.js';
import type { LayerBuilder } from './layer-builder.js';

type Sym = tfl.SymbolicTensor;
const KAIMING_OUT = { kind: 'kaiming-normal', mode: 'fan-out' } as const;

export interface WideResnetOptions {
  /** Total depth; (depth − 4) must be a multiple of 6 (blocks per group = (depth − 4) / 6). @default 34 */
  depth?: number;
  /** Width multiplier k: groups have 16k, 32k, 64k channels. @default 10 */
  widenFactor?: number;
  /** Dropout rate inside each block (training mode only); the robust-training references use 0. @default 0 */
  dropout?: number;
}

type Resolved = { depth: number; widenFactor: number; dropout: number };

function wideBlock(b: LayerBuilder, x: Sym, name: string, inPlanes: number, outPlanes: number, stride: number, dropout: number): Sym {
  const pre = b.relu(b.batchNorm(x, `${name}_bn1`), `${name}_relu1`);
  const projected = inPlanes !== outPlanes || stride !== 1;
  const shortcut = projected
    ? b.conv(pre, { name: `${name}_convShortcut`, filters: outPlanes, kernelSize: 1, strides: stride, padding: 'valid', init: KAIMING_OUT })
    : x;
  let out = b.conv(pre, { name: `${name}_conv1`, filters: outPlanes, kernelSize: 3, strides: stride, padding: 'same', init: KAIMING_OUT });
  out = b.relu(b.batchNorm(out, `${name}_bn2`), `${name}_relu2`);
  if (dropout > 0) out = b.dropout(out, dropout, `${name}_dropout`);
  out = b.conv(out, { name: `${name}_conv2`, filters: outPlanes, kernelSize: 3, padding: 'same', init: KAIMING_OUT });
  return b.add(shortcut, out, `${name}_add`);
}

export const wideResnet: ArchDefinition<Resolved> = {
  summary: 'Wide ResNet-depth-k (pre-activation wide blocks, 16/16k/32k/64k channels); default WRN-34-10',
  defaults: { depth: 34, widenFactor: 10, dropout: 0 },
  validate(o) {
    return (
      checkInt('depth', o.depth, 10, 1000) ??
      ((o.depth - 4) % 6 === 0 ? undefined : `depth − 4 must be a multiple of 6 (e.g. 16, 28, 34), got ${o.depth}`) ??
      checkInt('widenFactor', o.widenFactor, 1, 64) ??
      checkRate('dropout', o.dropout)
    );
  },
  build(b, input, numClasses, o) {
    const n = (o.depth - 4) / 6;
    const k = o.widenFactor;
    let x = b.conv(input, { name: 'conv1', filters: 16, kernelSize: 3, padding: 'same', init: KAIMING_OUT });
    let inPlanes = 16;
    for (const [group, planes, stride] of [[1, 16 * k, 1], [2, 32 * k, 2], [3, 64 * k, 2]] as const) {
      for (let i = 0; i < n; i++) {
        x = wideBlock(b, x, `block${group}_layer_${i}`, inPlanes, planes, i === 0 ? stride : 1, o.dropout);
        inPlanes = planes;
      }
    }
    x = b.relu(b.batchNorm(x, 'bn1'), 'relu');
    x = b.globalAvgPool(x, 'avgpool');
    return b.dense(x, { name: 'fc', units: numClasses, init: { kind: 'torch-default' }, bias: { kind: 'zeros' } });
  },
};
