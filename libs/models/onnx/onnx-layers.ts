/**
 * The layers an imported ONNX graph needs beyond tfjs-layers' own: ONNX semantics that no stock
 * layer has, each small, differentiable through plain tf ops, and serialisable (registered under
 * `HardenOnnx…` class names, so a converted model saves as model.json and loads again like any
 * other). Tensors are channels last (NHWC); each layer does what the ONNX operator does to the same
 * data in NCHW.
 *
 * - `HardenOnnxArith`: Add, Sub, Mul, Div with NumPy broadcasting, between two inputs or an input and
 *   a constant (kept as a non-trainable weight `constant`, in NHWC order): the input normalisation
 *   `(x − mean) / std` that exported models carry stays inside the model, so attacks see pixels in [0, 1].
 * - `HardenOnnxClip`: Clip (ReLU6 and friends); `null` bounds are open.
 * - `HardenOnnxFlatten`: Flatten in NCHW order ((c, h, w), what the next Gemm's weights expect).
 * - `HardenOnnxPad`: constant padding of height and width, any amounts per side, any value (MaxPool's
 *   padding uses float32's lowest value, so padded cells never win).
 * - `HardenOnnxGlobalAveragePool`: mean over height and width, keeping them as 1×1 (ONNX's shape).
 */
import { tf, tfl } from '../../engine/index.js';

type Shape = (number | null)[];
type Kwargs = Record<string, unknown>;

const first = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);
const firstShape = (s: Shape | Shape[]): Shape => (Array.isArray(s[0]) || s[0] === undefined ? (s as Shape[])[0] : (s as Shape));

/** NumPy broadcasting of two shapes (`null` = unknown). */
function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    out.push(x === 1 ? y : y === 1 ? x : x === null ? y : x);
  }
  return out;
}

export type ArithOp = 'add' | 'sub' | 'mul' | 'div';

export interface OnnxArithArgs {
  name: string;
  op: ArithOp;
  /** Shape of the constant operand (NHWC broadcast order), or null for two inputs. */
  constantShape: number[] | null;
  /** The constant is the left operand (`c − x`, `c / x`). @default false */
  constantFirst?: boolean;
  trainable?: boolean;
}

export class OnnxArith extends tfl.layers.Layer {
  static className = 'HardenOnnxArith';
  readonly op: ArithOp;
  readonly constantShape: number[] | null;
  readonly constantFirst: boolean;
  private constant: tfl.LayerVariable | null = null;

  constructor(args: OnnxArithArgs) {
    super(args);
    this.op = args.op;
    this.constantShape = args.constantShape ?? null;
    this.constantFirst = args.constantFirst ?? false;
  }

  override build(): void {
    if (this.constantShape) this.constant = this.addWeight('constant', this.constantShape, 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    if (this.constantShape) return broadcastShapes(firstShape(inputShape), this.constantShape);
    const [a, b] = inputShape as Shape[];
    return broadcastShapes(a, b);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      let a: tf.Tensor;
      let b: tf.Tensor;
      if (this.constant) {
        [a, b] = this.constantFirst ? [this.constant.read(), first(inputs)] : [first(inputs), this.constant.read()];
      } else {
        [a, b] = inputs as tf.Tensor[];
      }
      switch (this.op) {
        case 'add':
          return tf.add(a, b);
        case 'sub':
          return tf.sub(a, b);
        case 'mul':
          return tf.mul(a, b);
        case 'div':
          return tf.div(a, b);
      }
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), op: this.op, constantShape: this.constantShape, constantFirst: this.constantFirst };
  }
}

export interface OnnxClipArgs {
  name: string;
  min: number | null;
  max: number | null;
}

export class OnnxClip extends tfl.layers.Layer {
  static className = 'HardenOnnxClip';
  readonly min: number | null;
  readonly max: number | null;

  constructor(args: OnnxClipArgs) {
    super(args);
    this.min = args.min;
    this.max = args.max;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return firstShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      let y = first(inputs);
      if (this.min !== null && this.max !== null) return tf.clipByValue(y, this.min, this.max);
      if (this.min !== null) y = tf.maximum(y, this.min);
      if (this.max !== null) y = tf.minimum(y, this.max);
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), min: this.min, max: this.max };
  }
}

export class OnnxFlatten extends tfl.layers.Layer {
  static className = 'HardenOnnxFlatten';

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = firstShape(inputShape);
    const rest = s.slice(1);
    return [s[0], rest.every((d) => d !== null) ? (rest as number[]).reduce((a, b) => a * b, 1) : null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = first(inputs);
      if (x.rank !== 4) return tf.reshape(x, [x.shape[0], -1]);
      // (h, w, c) → (c, h, w); a 1×1 map needs no transpose.
      const nchw = x.shape[1] === 1 && x.shape[2] === 1 ? x : tf.transpose(x, [0, 3, 1, 2]);
      return tf.reshape(nchw, [x.shape[0], -1]);
    });
  }
}

export interface OnnxPadArgs {
  name: string;
  /** [top, bottom, left, right], each ≥ 0. */
  pads: [number, number, number, number];
  /** @default 0 */
  value?: number;
}

export class OnnxPad extends tfl.layers.Layer {
  static className = 'HardenOnnxPad';
  readonly pads: [number, number, number, number];
  readonly value: number;

  constructor(args: OnnxPadArgs) {
    super(args);
    this.pads = [...args.pads];
    this.value = args.value ?? 0;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [n, h, w, c] = firstShape(inputShape);
    const [t, b, l, r] = this.pads;
    return [n, h === null ? null : h + t + b, w === null ? null : w + l + r, c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    const [t, b, l, r] = this.pads;
    return tf.tidy(() => tf.pad(first(inputs), [[0, 0], [t, b], [l, r], [0, 0]], this.value));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), pads: [...this.pads], value: this.value };
  }
}

export class OnnxGlobalAveragePool extends tfl.layers.Layer {
  static className = 'HardenOnnxGlobalAveragePool';

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [n, , , c] = firstShape(inputShape);
    return [n, 1, 1, c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => tf.mean(first(inputs), [1, 2], true));
  }
}

for (const cls of [OnnxArith, OnnxClip, OnnxFlatten, OnnxPad, OnnxGlobalAveragePool]) tf.serialization.registerClass(cls as never);

/** Class names of the layers above (the exporter's dispatch keys). */
export const ONNX_LAYER_CLASSES = ['HardenOnnxArith', 'HardenOnnxClip', 'HardenOnnxFlatten', 'HardenOnnxPad', 'HardenOnnxGlobalAveragePool'] as const;
