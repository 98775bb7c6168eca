/**
 * A tfjs layers model of ours → an ONNX file (opset 13) that ONNX Runtime, PyTorch's tooling and
 * every other ONNX consumer run: NCHW input `[batch, C, H, W]` (batch symbolic), float32 throughout.
 *
 * A model imported from ONNX goes back with its own input and output names, its normalisation (the
 * constants are part of the model) and, when the file ended in one, its Softmax: it drops into the
 * caller's pipeline unchanged; one that came in NHWC (a Keras export) goes back NHWC, with the same
 * Transpose to NCHW first. A model of ours (built by `buildModel`) is written with input `input`
 * and output `logits`, inputs in [0, 1], no normalisation.
 *
 * Inside, every 4-D value is written in NCHW: weights are transposed once, here, and a stock
 * `Flatten` (which orders features (h, w, c)) gets a Transpose before it so that the Gemm after it
 * sees the features in the order it was trained with. TF's `same` padding is written as explicit
 * pads (computed from the layer's input size), which ONNX pooling treats as TF does.
 *
 * Layers without an ONNX counterpart here are refused (`ModelError` `unsupported`, naming the layer
 * and its class) before anything is written.
 */
import { tf, type tfl } from '../../engine/index.js';
import { ModelError } from '../errors.js';
import { ONNX_META_KEY, permute, type OnnxMeta } from './onnx-import.js';
import { DataType, encodeOnnx, type AttributeOut, type NodeOut, type TensorOut } from './onnx-proto.js';

/** The opset the exporter writes (ONNX Runtime ≥ 1.8, PyTorch's default since 1.12 is 14+; 13 is read everywhere). */
export const EXPORT_OPSET = 13;
const IR_VERSION = 7;

export interface OnnxExportOptions {
  /** Graph input name. @default the imported model's, else `input` */
  inputName?: string;
  /** Graph output name. @default the imported model's, else `logits` */
  outputName?: string;
  /** Append a Softmax (output probabilities). @default true when the imported file had one, else false */
  outputSoftmax?: boolean;
  /** `producer_version` written into the file. @default '' */
  producerVersion?: string;
}

/** How a layer's output is written: `nchw` for 4-D values (tfjs holds them NHWC), `plain` otherwise. */
interface Val {
  name: string;
  layout: 'nchw' | 'plain';
  /** tfjs shape without the batch ([h, w, c] or [f]). */
  shape: number[];
}

/** Layer classes the exporter writes, for messages and docs. */
export const EXPORTABLE_LAYERS = [
  'InputLayer', 'Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'Dense', 'Activation', 'ReLU', 'LeakyReLU',
  'Add', 'Multiply', 'Concatenate', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'Flatten',
  'Dropout', 'ZeroPadding2D', 'HardenOnnxArith', 'HardenOnnxClip', 'HardenOnnxFlatten', 'HardenOnnxPad',
  'HardenOnnxGlobalAveragePool',
] as const;

/** What an imported model remembers of its ONNX file (`undefined` for models of ours). */
export function getOnnxMeta(model: tfl.LayersModel): OnnxMeta | undefined {
  const meta = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const m = meta?.[ONNX_META_KEY] as Partial<OnnxMeta> | undefined;
  return m && typeof m.inputName === 'string' && typeof m.outputName === 'string' ? (structuredClone(m) as OnnxMeta) : undefined;
}

/**
 * Writes `model` as an ONNX file (bytes). Throws `ModelError` `unsupported` for a layer it does not
 * write, or a model that is not one image input to one output.
 */
export function modelToOnnx(model: tfl.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const meta = getOnnxMeta(model);
  const inputName = options.inputName ?? meta?.inputName ?? 'input';
  const outputName = options.outputName ?? meta?.outputName ?? 'logits';
  const softmax = options.outputSoftmax ?? meta?.outputSoftmax ?? false;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ModelError('unsupported', `only models with one input and one output are exported to ONNX; ${model.name} has ${model.inputs.length} and ${model.outputs.length}`);
  }
  const unknown = model.layers.filter((l) => !(EXPORTABLE_LAYERS as readonly string[]).includes(l.getClassName()));
  if (unknown.length > 0) {
    const list = unknown.slice(0, 5).map((l) => `"${l.name}" (${l.getClassName()})`).join(', ');
    throw new ModelError('unsupported', `cannot export layer${unknown.length > 1 ? 's' : ''} ${list} to ONNX; the exporter writes ${EXPORTABLE_LAYERS.join(', ')}`);
  }
  return tf.tidy(() => new Exporter(model, inputName, meta?.inputLayout ?? 'nchw').run(outputName, softmax, options.producerVersion ?? ''));
}

class Exporter {
  private readonly nodes: NodeOut[] = [];
  private readonly initializers: TensorOut[] = [];
  private readonly values = new Map<string, Val>();
  private readonly used = new Set<string>();
  private inputDims: (number | string)[] = [];
  private layer: tfl.layers.Layer | undefined;

  constructor(
    private readonly model: tfl.LayersModel,
    private readonly inputName: string,
    /** `nhwc`: the file's input stays NHWC (as an imported Keras model's was), transposed first thing. */
    private readonly inputLayout: 'nchw' | 'nhwc',
  ) {}

  run(outputName: string, softmax: boolean, producerVersion: string): Uint8Array {
    for (const layer of this.model.layers) {
      this.layer = layer;
      if (layer.inboundNodes.length !== 1) throw this.refuse('a layer used more than once (shared weights) is not exported');
      this.values.set(layer.name, this.convert(layer));
    }
    const last = this.values.get(this.model.outputs[0].sourceLayer.name)!;
    if (last.layout !== 'plain' || last.shape.length !== 1) {
      throw new ModelError('unsupported', `the model's output must be [batch, classes] to be exported; it is [batch, ${last.shape.join(', ')}]`);
    }
    this.layer = undefined;
    this.nodes.push({ name: softmax ? 'softmax' : 'output', opType: softmax ? 'Softmax' : 'Identity', inputs: [last.name], outputs: [outputName], ...(softmax ? { attributes: [{ name: 'axis', i: 1 }] } : {}) });
    return encodeOnnx({
      irVersion: IR_VERSION,
      opset: EXPORT_OPSET,
      producerName: 'harden',
      producerVersion,
      graphName: this.model.name,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: [{ name: this.inputName, dims: this.inputDims }],
      outputs: [{ name: outputName, dims: ['batch', last.shape[0]] }],
      docString: `Exported by harden: ${this.inputLayout.toUpperCase()} float32 input, pixel values as the model was trained on (harden trains on [0, 1]).`,
    });
  }

  private refuse(why: string): ModelError {
    const l = this.layer;
    return new ModelError('unsupported', `cannot export layer "${l?.name}" (${l?.getClassName()}) to ONNX: ${why}`);
  }

  private fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name) || name === this.inputName; i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  private node(opType: string, inputs: string[], attributes: AttributeOut[] = [], suffix = ''): string {
    const out = this.fresh(`${this.layer!.name}${suffix}`);
    this.nodes.push({ name: out, opType, inputs, outputs: [out], attributes });
    return out;
  }

  private init(suffix: string, dims: number[], values: ArrayLike<number>, dataType: TensorOut['dataType'] = DataType.FLOAT): string {
    const name = this.fresh(`${this.layer!.name}.${suffix}`);
    this.initializers.push({ name, dims, dataType, values });
    return name;
  }

  private inputs(layer: tfl.layers.Layer): Val[] {
    return layer.inboundNodes[0].inboundLayers.map((l) => this.values.get(l.name)!);
  }

  private weights(layer: tfl.layers.Layer): { shape: number[]; values: Float32Array }[] {
    return layer.getWeights().map((w) => ({ shape: w.shape, values: w.dataSync() as Float32Array }));
  }

  private outShape(layer: tfl.layers.Layer): number[] {
    const s = layer.outputShape as (number | null)[];
    return s.slice(1).map((d) => {
      if (d === null) throw this.refuse('its output shape is not fixed');
      return d;
    });
  }

  /** Explicit pads [top, left, bottom, right] for TF's `same`/`valid` on an h×w input. */
  private pads(padding: string, [h, w]: number[], k: number[], s: number[], d: number[] = [1, 1]): number[] {
    if (padding === 'valid') return [0, 0, 0, 0];
    if (padding !== 'same') throw this.refuse(`padding "${padding}"`);
    const one = (n: number, i: number) => {
      const out = Math.ceil(n / s[i]);
      const total = Math.max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - n, 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    const [[t, b], [l, r]] = [one(h, 0), one(w, 1)];
    return [t, l, b, r];
  }

  private activation(name: string, x: string): string {
    switch (name) {
      case 'linear':
        return x;
      case 'relu':
        return this.node('Relu', [x], [], '_relu');
      case 'sigmoid':
        return this.node('Sigmoid', [x], [], '_sigmoid');
      case 'tanh':
        return this.node('Tanh', [x], [], '_tanh');
      case 'relu6':
        return this.node('Clip', [x, this.init('min', [], [0]), this.init('max', [], [6])], [], '_relu6');
      case 'elu':
        return this.node('Elu', [x], [], '_elu');
      default:
        throw this.refuse(`activation "${name}"`);
    }
  }

  private convert(layer: tfl.layers.Layer): Val {
    const cls = layer.getClassName();
    const config = layer.getConfig() as Record<string, unknown>;
    const shape = cls === 'InputLayer' ? [] : this.outShape(layer);
    const ins = cls === 'InputLayer' ? [] : this.inputs(layer);
    const x = ins[0];
    const out = (name: string, layout: Val['layout'] = shape.length === 3 ? 'nchw' : 'plain'): Val => ({ name, layout, shape });
    switch (cls) {
      case 'InputLayer': {
        const s = (config.batchInputShape as (number | null)[]).slice(1);
        if (s.length !== 3 || s.some((d) => d === null)) throw this.refuse('the input must be an image [height, width, channels] of fixed size');
        const [h, w, c] = s as number[];
        if (this.inputLayout === 'nhwc') {
          this.inputDims = ['batch', h, w, c];
          return { name: this.node('Transpose', [this.inputName], [{ name: 'perm', ints: [0, 3, 1, 2] }], '_nchw'), layout: 'nchw', shape: [h, w, c] };
        }
        this.inputDims = ['batch', c, h, w];
        return { name: this.inputName, layout: 'nchw', shape: [h, w, c] };
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const [kernel, bias] = this.weights(layer);
        const [kh, kw, cin, m] = kernel.shape;
        const strides = config.strides as number[];
        const dilations = config.dilationRate as number[] | number;
        const d = typeof dilations === 'number' ? [dilations, dilations] : dilations;
        if (config.dataFormat !== 'channelsLast') throw this.refuse('only channels-last convolutions are exported');
        const depthwise = cls === 'DepthwiseConv2D';
        const wValues = depthwise ? permute(kernel.values, [kh, kw, cin, m], [2, 3, 0, 1]) : permute(kernel.values, [kh, kw, cin, m], [3, 2, 0, 1]);
        const wDims = depthwise ? [cin * m, 1, kh, kw] : [m, cin, kh, kw];
        const inputs = [x.name, this.init('weight', wDims, wValues)];
        if (bias) inputs.push(this.init('bias', bias.shape, bias.values));
        const attributes: AttributeOut[] = [
          { name: 'kernel_shape', ints: [kh, kw] },
          { name: 'strides', ints: strides },
          { name: 'dilations', ints: d },
          { name: 'pads', ints: this.pads(config.padding as string, x.shape, [kh, kw], strides, d) },
          { name: 'group', i: depthwise ? cin : 1 },
        ];
        return out(this.activation(config.activation as string, this.node('Conv', inputs, attributes)));
      }
      case 'BatchNormalization': {
        const axis = config.axis as number;
        if (axis !== -1 && axis !== x.shape.length) throw this.refuse('only BatchNorm over the channels (last axis) is exported');
        if (config.center === false || config.scale === false) throw this.refuse('BatchNorm without scale or center');
        const [gamma, beta, mean, variance] = this.weights(layer);
        const c = gamma.shape[0];
        const inputs = [x.name, this.init('weight', [c], gamma.values), this.init('bias', [c], beta.values), this.init('running_mean', [c], mean.values), this.init('running_var', [c], variance.values)];
        return out(this.node('BatchNormalization', inputs, [{ name: 'epsilon', f: config.epsilon as number }, { name: 'momentum', f: config.momentum as number }]));
      }
      case 'Dense': {
        if (x.shape.length !== 1) throw this.refuse('only Dense layers on [batch, features] are exported');
        const [kernel, bias] = this.weights(layer);
        const [k, n] = kernel.shape;
        // PyTorch's layout: B = W [out, in], transB = 1.
        const inputs = [x.name, this.init('weight', [n, k], permute(kernel.values, [k, n], [1, 0]))];
        if (bias) inputs.push(this.init('bias', [n], bias.values));
        return out(this.activation(config.activation as string, this.node('Gemm', inputs, [{ name: 'transB', i: 1 }])));
      }
      case 'Activation':
        return out(this.activation(config.activation as string, x.name), x.layout);
      case 'ReLU': {
        const max = config.maxValue as number | null | undefined;
        if (max === null || max === undefined) return out(this.node('Relu', [x.name]), x.layout);
        return out(this.node('Clip', [x.name, this.init('min', [], [0]), this.init('max', [], [max])]), x.layout);
      }
      case 'LeakyReLU':
        return out(this.node('LeakyRelu', [x.name], [{ name: 'alpha', f: config.alpha as number }]), x.layout);
      case 'Add':
      case 'Multiply': {
        const op = cls === 'Add' ? 'Add' : 'Mul';
        let acc = ins[0].name;
        for (const [i, other] of ins.slice(1).entries()) acc = this.node(op, [acc, other.name], [], i === ins.length - 2 ? '' : `_${i}`);
        return out(acc, x.layout);
      }
      case 'Concatenate': {
        const rank = x.shape.length + 1;
        const axis = ((config.axis as number) + rank) % rank;
        const onnxAxis = x.layout === 'nchw' ? [0, 2, 3, 1][axis] : axis;
        return out(this.node('Concat', ins.map((v) => v.name), [{ name: 'axis', i: onnxAxis }]), x.layout);
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const k = config.poolSize as number[];
        const s = (config.strides as number[] | null) ?? k;
        const attributes: AttributeOut[] = [
          { name: 'kernel_shape', ints: k },
          { name: 'strides', ints: s },
          { name: 'pads', ints: this.pads(config.padding as string, x.shape, k, s) },
        ];
        // TF leaves padded cells out of the average, as ONNX's count_include_pad = 0 (its default).
        return out(this.node(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x.name], attributes));
      }
      case 'GlobalAveragePooling2D':
        return out(this.node('Flatten', [this.node('GlobalAveragePool', [x.name], [], '_pool')], [{ name: 'axis', i: 1 }]), 'plain');
      case 'HardenOnnxGlobalAveragePool':
        return out(this.node('GlobalAveragePool', [x.name]));
      case 'Flatten': {
        // tfjs flattens NHWC as (h, w, c): transpose the NCHW value back first (not needed for 1×1).
        const [h, w] = x.shape;
        const src = x.layout === 'nchw' && h * w > 1 ? this.node('Transpose', [x.name], [{ name: 'perm', ints: [0, 2, 3, 1] }], '_nhwc') : x.name;
        return out(this.node('Flatten', [src], [{ name: 'axis', i: 1 }]), 'plain');
      }
      case 'HardenOnnxFlatten':
        return out(this.node('Flatten', [x.name], [{ name: 'axis', i: 1 }]), 'plain');
      case 'Dropout':
        return x;
      case 'HardenOnnxClip': {
        const bound = (v: unknown, which: string) => (typeof v === 'number' ? this.init(which, [], [v]) : '');
        return out(this.node('Clip', [x.name, bound(config.min, 'min'), bound(config.max, 'max')]), x.layout);
      }
      case 'HardenOnnxPad':
      case 'ZeroPadding2D': {
        let t: number, b: number, l: number, r: number;
        if (cls === 'ZeroPadding2D') [[t, b], [l, r]] = config.padding as [[number, number], [number, number]];
        else [t, b, l, r] = config.pads as number[];
        const value = cls === 'ZeroPadding2D' ? 0 : (config.value as number);
        const pads = this.init('pads', [8], [0, 0, t, l, 0, 0, b, r], DataType.INT64);
        return out(this.node('Pad', [x.name, pads, this.init('value', [], [value])], [{ name: 'mode', s: 'constant' }]));
      }
      case 'HardenOnnxArith': {
        const op = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' }[config.op as string];
        if (!op) throw this.refuse(`op "${String(config.op)}"`);
        if (ins.length === 2) return out(this.node(op, [ins[0].name, ins[1].name]), x.layout);
        const [c] = this.weights(layer);
        let dims = c.shape;
        let values: ArrayLike<number> = c.values;
        if (dims.length === 4) {
          // [1, h, w, c] → [1, c, h, w]
          const [, h, w, ch] = dims;
          values = permute(c.values, [h, w, ch], [2, 0, 1]);
          dims = [1, ch, h, w];
        }
        const constant = this.init('constant', dims, values);
        return out(this.node(op, config.constantFirst ? [constant, x.name] : [x.name, constant]), x.layout);
      }
      default:
        throw this.refuse('no ONNX counterpart');
    }
  }
}
