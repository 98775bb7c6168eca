/**
 * ONNX → a tfjs layers model of ours, as data: `onnxToModelBytes` turns the bytes of an `.onnx` file
 * into model.json text and one weights buffer (`ModelBytes`), without an engine, so a service can
 * check (and convert) a model on its own thread and post it to workers; `modelFromBytes` builds it.
 *
 * What comes out is a trainable functional model from NHWC images in [0, 1] to logits:
 * - Layout: the ONNX graph is NCHW; inside, every 4-D value is the same data in NHWC (kernels
 *   [kh, kw, in, out], Concat's channel axis last). A graph whose input is NHWC and goes straight
 *   into a Transpose to NCHW (as Keras models come out of tf2onnx) takes that input as it is, and
 *   the Transpose goes. Flatten / Reshape-to-2-D keep ONNX's (c, h, w)
 *   feature order (`HardenOnnxFlatten`), so Gemm weights are used as they are.
 * - Conv, Gemm, MatMul and BatchNormalization become the stock Conv2D, DepthwiseConv2D, Dense and
 *   BatchNormalization layers (trainable; BN keeps ONNX's momentum, which is the Keras convention);
 *   PyTorch-style padding that TF's `same` does not reproduce becomes an explicit pad layer.
 * - Constants in Add/Sub/Mul/Div (the `(x − mean) / std` input normalisation) stay in the model as
 *   non-trainable weights: ε is measured on the model's input, in [0, 1] pixel space.
 * - A Softmax on the output is dropped, with a warning (attacks need logits); `onnxMeta.outputSoftmax`
 *   records it and the exporter puts it back.
 * - Shape arithmetic (Shape → Gather → Unsqueeze → Concat feeding a Reshape, as PyTorch writes
 *   `x.view(x.size(0), -1)` with a dynamic batch) is folded to constants here.
 *
 * Anything else is refused before any work, as a `ModelError` `unsupported` naming the operator, the
 * node and the opset. See README.md ("ONNX") for the table.
 */
import { ModelError } from '../errors.js';
import type { ModelBytes } from '../model-format.js';
import type { ArithOp } from './onnx-layers.js';
import { decodeOnnx, type OnnxAttribute, type OnnxModel, type OnnxNode } from './onnx-proto.js';

/** Where `userDefinedMetadata` keeps what the model was imported from (read by the exporter). */
export const ONNX_META_KEY = 'onnx';

/** What an imported model remembers of its ONNX file, to be exported the same way. */
export interface OnnxMeta {
  /** The graph input's name. */
  inputName: string;
  /** The graph input's layout: NCHW, or NHWC followed by a Transpose to NCHW. @default 'nchw' */
  inputLayout?: 'nchw' | 'nhwc';
  /** The graph output's name. */
  outputName: string;
  /** The file ended in a Softmax that the import dropped. */
  outputSoftmax: boolean;
  /** The default-domain opset of the file. */
  opset: number;
  /** `producer_name producer_version` of the file. */
  producer: string;
}

export interface OnnxImport {
  bytes: ModelBytes;
  /** Input shape of the converted model, [height, width, channels]. */
  inputShape: [number, number, number];
  numClasses: number;
  meta: OnnxMeta;
  /** Things the caller should know (a dropped Softmax). */
  warnings: string[];
}

/** float32's lowest finite value: the padding value of MaxPool (padded cells never win). */
const FLOAT32_LOWEST = -3.4028234663852886e38;

/** Opsets of the default domain the importer reads (each operator's semantics there are handled). */
export const ONNX_OPSETS = { min: 11, max: 18 } as const;

/** Operators that become layers. */
const LAYER_OPS = [
  'Conv', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh', 'Add', 'Sub', 'Mul', 'Div',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'ReduceMean', 'Flatten', 'Reshape', 'Gemm', 'MatMul', 'Concat', 'Pad',
  'Dropout', 'Identity', 'Softmax',
] as const;
/** Operators evaluated at import time on constants (shape arithmetic). */
const CONST_OPS = ['Constant', 'ConstantOfShape', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Cast', 'Slice', 'Transpose'] as const;

/** Every operator the importer takes, for messages and docs. */
export const SUPPORTED_ONNX_OPS: readonly string[] = [...LAYER_OPS, ...CONST_OPS].sort();

/** A constant (NaN in a shape vector stands for the batch size, unknown until run time). */
interface Const {
  kind: 'const';
  dims: number[];
  values: Float64Array;
}
/** A value computed by a layer: `shape` is ONNX's per-sample shape ([C, H, W] or [F]). */
interface Sym {
  kind: 'sym';
  layer: string;
  shape: number[];
}
type Value = Const | Sym;

interface LayerJson {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, Record<string, never>][][];
}

const ZEROS = { class_name: 'Zeros', config: {} };

/**
 * Converts an ONNX file to our model format. Throws `ModelError`: `corrupt` (not an ONNX model),
 * `unsupported` (an operator, attribute or opset the importer does not take), `invalid-options`
 * (input not a float image batch, external data).
 */
export function onnxToModelBytes(bytes: Uint8Array): OnnxImport {
  return new Importer(decodeOnnx(bytes)).run();
}

/** Checks that an ONNX file converts (all of `onnxToModelBytes`'s errors), returning its warnings. */
export function checkOnnxModel(bytes: Uint8Array): { warnings: string[]; inputShape: [number, number, number]; numClasses: number } {
  const { warnings, inputShape, numClasses } = onnxToModelBytes(bytes);
  return { warnings, inputShape, numClasses };
}

class Importer {
  private readonly values = new Map<string, Value>();
  private readonly layers: LayerJson[] = [];
  private readonly weightSpecs: { name: string; shape: number[]; dtype: 'float32' }[] = [];
  private readonly weightParts: Float32Array[] = [];
  private readonly names = new Set<string>();
  private readonly warnings: string[] = [];
  private readonly opset: number;
  private node: OnnxNode | undefined;

  constructor(private readonly model: OnnxModel) {
    const opset = model.opsets.get('');
    if (opset === undefined) throw new ModelError('unsupported', 'the ONNX model imports no opset of the default domain (ai.onnx)');
    this.opset = opset;
  }

  run(): OnnxImport {
    const g = this.model.graph;
    const where = (n: OnnxNode) => `node "${n.name || n.outputs[0]}"`;
    // Refuse unknown operators first, all of them at once, before converting anything.
    const unknown = g.nodes.filter((n) => n.domain !== '' || !SUPPORTED_ONNX_OPS.includes(n.opType));
    if (unknown.length > 0) {
      const list = unknown.slice(0, 5).map((n) => `"${n.domain ? `${n.domain}.` : ''}${n.opType}" (${where(n)})`);
      const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : '';
      throw new ModelError('unsupported', `unsupported ONNX operator${unknown.length > 1 ? 's' : ''} ${list.join(', ')}${more} at opset ${this.opset}; the importer takes ${SUPPORTED_ONNX_OPS.join(', ')}`);
    }
    if (this.opset < ONNX_OPSETS.min || this.opset > ONNX_OPSETS.max) {
      throw new ModelError('unsupported', `ONNX opset ${this.opset} is not supported (the importer reads opsets ${ONNX_OPSETS.min}-${ONNX_OPSETS.max}); re-export with opset_version=${ONNX_OPSETS.min}..${ONNX_OPSETS.max}`);
    }
    for (const t of g.initializers) this.values.set(t.name, { kind: 'const', dims: t.dims, values: t.values });
    const inputs = g.inputs.filter((v) => !this.values.has(v.name));
    if (inputs.length !== 1 || g.outputs.length !== 1) {
      throw new ModelError('unsupported', `the ONNX graph has ${inputs.length} inputs and ${g.outputs.length} outputs; an image classifier has one of each`);
    }
    const input = inputs[0];
    const dims = input.dims;
    if (input.elemType !== 1 || !dims || dims.length !== 4 || !dims.slice(1).every((d) => typeof d === 'number' && d > 0)) {
      throw new ModelError('invalid-options', `the ONNX input "${input.name}" must be a float32 image batch [N, C, H, W] (or [N, H, W, C] going straight into a Transpose to NCHW) with the image size fixed; it is ${describeInput(input.elemType, dims)}`);
    }
    // NHWC in, then Transpose(perm 0,3,1,2) as the input's only use: our layout already; the Transpose goes.
    const users = g.nodes.filter((n) => n.inputs.includes(input.name));
    const perm = users[0]?.attributes.get('perm');
    const toNchw = users.length === 1 && users[0]!.opType === 'Transpose' && perm?.kind === 'ints' && perm.value.join() === '0,3,1,2' ? users[0] : undefined;
    const [c, h, w] = (toNchw ? [dims[3], dims[1], dims[2]] : dims.slice(1)) as number[];
    const inputLayer = this.unique(input.name, 'input');
    this.layers.push({ class_name: 'InputLayer', name: inputLayer, config: { batch_input_shape: [null, h, w, c], dtype: 'float32', sparse: false, name: inputLayer }, inbound_nodes: [] });
    this.values.set(toNchw ? toNchw.outputs[0]! : input.name, { kind: 'sym', layer: inputLayer, shape: [c, h, w] });

    let outputName = g.outputs[0].name;
    let outputSoftmax = false;
    for (const node of g.nodes) {
      if (node === toNchw) continue;
      this.node = node;
      if (node.opType === 'Softmax') {
        if (node.outputs[0] !== outputName || g.nodes.some((n) => n.inputs.includes(node.outputs[0]))) {
          throw this.unsupported('a Softmax is taken only as the last operator (it is dropped: attacks need logits)');
        }
        const x = this.sym(0);
        if (x.shape.length !== 1 || !this.axisIsLast(2)) throw this.unsupported('Softmax must be over the classes of a [N, classes] output');
        this.values.set(node.outputs[0], x);
        outputSoftmax = true;
        this.warnings.push(`the final Softmax (${where(node)}) was dropped: the hardened model outputs logits; the exported ONNX file applies the Softmax again`);
        continue;
      }
      this.convert(node);
    }
    this.node = undefined;
    const out = this.values.get(outputName);
    if (!out || out.kind !== 'sym' || out.shape.length !== 1) {
      throw new ModelError('unsupported', `the ONNX output "${outputName}" is not a [N, classes] tensor computed from the input`);
    }
    const meta: OnnxMeta = {
      inputName: input.name,
      ...(toNchw ? { inputLayout: 'nhwc' as const } : {}),
      outputName: g.outputs[0].name,
      outputSoftmax,
      opset: this.opset,
      producer: `${this.model.producerName} ${this.model.producerVersion}`.trim(),
    };
    outputName = out.layer;
    const topology = {
      class_name: 'Model',
      config: { name: this.unique(g.name || 'onnx_model', 'onnx_model'), layers: this.layers, input_layers: [[inputLayer, 0, 0]], output_layers: [[out.layer, 0, 0]] },
      keras_version: 'tfjs-layers',
      backend: 'tensor_flow.js',
    };
    const weightData = new Uint8Array(this.weightParts.reduce((n, p) => n + p.byteLength, 0));
    let offset = 0;
    for (const p of this.weightParts) {
      weightData.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), offset);
      offset += p.byteLength;
    }
    const modelJson = {
      format: 'layers-model',
      generatedBy: 'harden onnx import',
      convertedBy: `harden from ONNX (${meta.producer || 'unknown producer'}, opset ${this.opset})`,
      modelTopology: topology,
      weightsManifest: [{ paths: ['weights.bin'], weights: this.weightSpecs }],
      userDefinedMetadata: { [ONNX_META_KEY]: meta },
    };
    return {
      bytes: { modelJson: JSON.stringify(modelJson), weightData: weightData.buffer },
      inputShape: [h, w, c],
      numClasses: out.shape[0],
      meta,
      warnings: this.warnings,
    };
  }

  // ---- helpers ----

  private unsupported(why: string): ModelError {
    const n = this.node;
    const what = n ? `ONNX operator "${n.opType}" (node "${n.name || n.outputs[0]}", opset ${this.opset})` : 'ONNX model';
    return new ModelError('unsupported', `unsupported ${what}: ${why}`);
  }

  private unique(raw: string, fallback: string): string {
    let base = raw.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
    if (!/^[A-Za-z]/.test(base)) base = base === '' ? fallback : `n_${base}`;
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  private value(i: number): Value | undefined {
    const name = this.node!.inputs[i];
    if (name === undefined || name === '') return undefined;
    const v = this.values.get(name);
    if (!v) throw this.unsupported(`its input "${name}" is not computed before it (the graph is not in topological order)`);
    return v;
  }

  private sym(i: number): Sym {
    const v = this.value(i);
    if (!v || v.kind !== 'sym') throw this.unsupported(`input ${i} must be computed from the image, not a constant`);
    return v;
  }

  private constant(i: number, what: string): Const {
    const v = this.value(i);
    if (!v || v.kind !== 'const') throw this.unsupported(`its ${what} (input ${i}) must be a constant (an initializer)`);
    return v;
  }

  private optionalConst(i: number, what: string): Const | undefined {
    return this.value(i) === undefined ? undefined : this.constant(i, what);
  }

  private attr(name: string): OnnxAttribute | undefined {
    return this.node!.attributes.get(name);
  }

  private int(name: string, fallback: number): number {
    const a = this.attr(name);
    return a && (a.kind === 'int' || a.kind === 'float') ? a.value : fallback;
  }

  private float(name: string, fallback: number): number {
    const a = this.attr(name);
    return a && (a.kind === 'float' || a.kind === 'int') ? a.value : fallback;
  }

  private ints(name: string, fallback: number[]): number[] {
    const a = this.attr(name);
    return a && a.kind === 'ints' ? a.value : fallback;
  }

  private str(name: string, fallback: string): string {
    const a = this.attr(name);
    return a && a.kind === 'string' ? a.value : fallback;
  }

  private axisIsLast(rank: number): boolean {
    const axis = this.int('axis', this.opset >= 13 ? -1 : 1);
    return (axis + rank) % rank === rank - 1;
  }

  private setOut(v: Value, index = 0): void {
    this.values.set(this.node!.outputs[index], v);
  }

  /** Adds a layer fed by `inputs`; weights are [suffix, shape, values] in the layer's weight order. */
  private emit(className: string, config: Record<string, unknown>, inputs: Sym[], shape: number[], weights: [string, number[], Float32Array][] = [], suffix = ''): Sym {
    const n = this.node!;
    const name = this.unique(`${n.name || n.outputs[0]}${suffix}`, n.opType);
    this.layers.push({ class_name: className, name, config: { name, trainable: true, dtype: 'float32', ...config }, inbound_nodes: [inputs.map((x) => [x.layer, 0, 0, {}])] });
    for (const [w, wShape, values] of weights) {
      this.weightSpecs.push({ name: `${name}/${w}`, shape: wShape, dtype: 'float32' });
      this.weightParts.push(values);
    }
    return { kind: 'sym', layer: name, shape };
  }

  // ---- operators ----

  private convert(node: OnnxNode): void {
    const inputs = node.inputs.filter((i) => i !== '').map((i) => this.values.get(i));
    const allConst = inputs.every((v) => v?.kind === 'const');
    if ((CONST_OPS as readonly string[]).includes(node.opType) || (allConst && inputs.length > 0 && FOLDABLE.has(node.opType))) {
      this.setOut(this.fold(node));
      return;
    }
    switch (node.opType) {
      case 'Identity':
        return this.setOut(this.value(0)!);
      case 'Dropout': {
        const x = this.sym(0);
        const ratio = this.optionalConst(1, 'ratio')?.values[0] ?? this.float('ratio', 0.5);
        return this.setOut(ratio > 0 ? this.emit('Dropout', { rate: ratio }, [x], x.shape) : x);
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh': {
        const x = this.sym(0);
        return this.setOut(this.emit('Activation', { activation: node.opType.toLowerCase() }, [x], x.shape));
      }
      case 'LeakyRelu': {
        const x = this.sym(0);
        return this.setOut(this.emit('LeakyReLU', { alpha: this.float('alpha', 0.01) }, [x], x.shape));
      }
      case 'Clip': {
        const x = this.sym(0);
        const min = this.optionalConst(1, 'min')?.values[0] ?? null;
        const max = this.optionalConst(2, 'max')?.values[0] ?? null;
        return this.setOut(this.emit('HardenOnnxClip', { min, max }, [x], x.shape));
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.setOut(this.arith(node.opType.toLowerCase() as ArithOp));
      case 'Conv':
        return this.setOut(this.conv());
      case 'BatchNormalization':
        return this.setOut(this.batchNorm());
      case 'MaxPool':
      case 'AveragePool':
        return this.setOut(this.pool(node.opType === 'MaxPool'));
      case 'GlobalAveragePool': {
        const x = this.sym4(0);
        return this.setOut(this.emit('HardenOnnxGlobalAveragePool', {}, [x], [x.shape[0], 1, 1]));
      }
      case 'ReduceMean': {
        // Over the spatial axes only (a global average pool, as Keras and `x.mean((2, 3))` write it).
        const x = this.sym4(0);
        const axes = (this.opset >= 18 ? Array.from(this.optionalConst(1, 'axes')?.values ?? []) : this.ints('axes', [])).map((a) => (a + 4) % 4).sort();
        if (axes.join() !== '2,3') throw this.unsupported(`only a mean over the spatial axes [2, 3] is supported, got axes [${axes.join(', ')}]`);
        const pooled = this.emit('HardenOnnxGlobalAveragePool', {}, [x], [x.shape[0], 1, 1]);
        return this.setOut(this.int('keepdims', 1) === 1 ? pooled : this.flatten(pooled));
      }
      case 'Flatten': {
        const x = this.sym(0);
        if (this.int('axis', 1) !== 1) throw this.unsupported(`only axis 1 is supported, got ${this.int('axis', 1)}`);
        return this.setOut(this.flatten(x));
      }
      case 'Reshape':
        return this.setOut(this.reshape());
      case 'Gemm':
        return this.setOut(this.gemm());
      case 'MatMul':
        return this.setOut(this.matMul());
      case 'Concat':
        return this.setOut(this.concat());
      case 'Pad':
        return this.setOut(this.pad());
      default:
        throw this.unsupported('not convertible here');
    }
  }

  private sym4(i: number): Sym {
    const x = this.sym(i);
    if (x.shape.length !== 3) throw this.unsupported(`input ${i} must be a 4-D image tensor [N, C, H, W], got rank ${x.shape.length + 1}`);
    return x;
  }

  private flatten(x: Sym): Sym {
    if (x.shape.length === 1) return x;
    return this.emit('HardenOnnxFlatten', {}, [x], [x.shape.reduce((a, b) => a * b, 1)]);
  }

  private reshape(): Sym {
    const x = this.sym(0);
    const target = this.constant(1, 'shape');
    const features = x.shape.reduce((a, b) => a * b, 1);
    const t = Array.from(target.values);
    // [batch, features] in any spelling: [N (or the export's batch, or 0), -1 or features].
    const ok = t.length === 2 && (t[1] === -1 || t[1] === features) && (Number.isNaN(t[0]) || t[0] === 0 || t[0] === -1 ? t[1] === features || t[0] !== -1 : t[0] > 0);
    if (!ok) throw this.unsupported(`only a Reshape to [batch, features] is supported (a flatten), not to [${t.map((d) => (Number.isNaN(d) ? 'N' : d)).join(', ')}]`);
    return this.flatten(x);
  }

  /**
   * Padding of a Conv or pool as [top, left, bottom, right] (ONNX's order), from `pads` or
   * `auto_pad`, and whether TF's `same` gives exactly that.
   */
  private padding(h: number, w: number, k: number[], s: number[], d: number[]): { pads: number[]; same: boolean; out: [number, number] } {
    const auto = this.str('auto_pad', 'NOTSET');
    const sameTf = (n: number, i: number, upper: boolean) => {
      const out = Math.ceil(n / s[i]);
      const total = Math.max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - n, 0);
      const begin = upper ? Math.floor(total / 2) : Math.ceil(total / 2);
      return [begin, total - begin];
    };
    let pads: number[];
    if (auto === 'NOTSET') pads = this.ints('pads', [0, 0, 0, 0]);
    else if (auto === 'VALID') pads = [0, 0, 0, 0];
    else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
      const [hp, wp] = [sameTf(h, 0, auto === 'SAME_UPPER'), sameTf(w, 1, auto === 'SAME_UPPER')];
      pads = [hp[0], wp[0], hp[1], wp[1]];
    } else throw this.unsupported(`auto_pad "${auto}" is not an ONNX value`);
    if (pads.length !== 4 || pads.some((p) => p < 0)) throw this.unsupported(`pads must be 4 non-negative values, got [${pads.join(', ')}]`);
    const [th, tw] = [sameTf(h, 0, true), sameTf(w, 1, true)];
    const same = pads[0] === th[0] && pads[2] === th[1] && pads[1] === tw[0] && pads[3] === tw[1];
    const out: [number, number] = [
      Math.floor((h + pads[0] + pads[2] - ((k[0] - 1) * d[0] + 1)) / s[0]) + 1,
      Math.floor((w + pads[1] + pads[3] - ((k[1] - 1) * d[1] + 1)) / s[1]) + 1,
    ];
    if (out[0] < 1 || out[1] < 1) throw this.unsupported(`its output would be empty (${out.join('×')}) for a ${h}×${w} input`);
    return { pads, same, out };
  }

  /** The input, explicitly padded when TF's `same`/`valid` cannot express `pads`; and the tfjs padding. */
  private padded(x: Sym, g: { pads: number[]; same: boolean }, value: number): { x: Sym; padding: 'same' | 'valid' } {
    if (g.pads.every((p) => p === 0)) return { x, padding: 'valid' };
    if (g.same) return { x, padding: 'same' };
    const [t, l, b, r] = g.pads;
    const [c, h, w] = x.shape;
    return { x: this.emit('HardenOnnxPad', { pads: [t, b, l, r], value }, [x], [c, h + t + b, w + l + r], [], '_pad'), padding: 'valid' };
  }

  private conv(): Sym {
    const x = this.sym4(0);
    const wt = this.constant(1, 'weights');
    const bias = this.optionalConst(2, 'bias');
    if (wt.dims.length !== 4) throw this.unsupported(`only 2-D convolutions are supported (weights of rank ${wt.dims.length})`);
    const [m, cg, kh, kw] = wt.dims;
    const [c, h, w] = x.shape;
    const group = this.int('group', 1);
    const k = this.ints('kernel_shape', [kh, kw]);
    const s = this.ints('strides', [1, 1]);
    const d = this.ints('dilations', [1, 1]);
    if (s.some((v) => v > 1) && d.some((v) => v > 1)) throw this.unsupported('a convolution with both stride > 1 and dilation > 1 is not supported (tfjs computes one or the other)');
    const geom = this.padding(h, w, k, s, d);
    const { x: xin, padding } = this.padded(x, geom, 0);
    const common = { strides: s, padding, data_format: 'channels_last', dilation_rate: d, activation: 'linear', use_bias: bias !== undefined, bias_initializer: ZEROS };
    const weights: [string, number[], Float32Array][] = [];
    const outShape = [m, geom.out[0], geom.out[1]];
    if (group === 1) {
      if (cg !== c) throw this.unsupported(`weights expect ${cg} input channels, the input has ${c}`);
      // ONNX [M, C, kh, kw] → tfjs [kh, kw, C, M]
      weights.push(['kernel', [kh, kw, c, m], permute(wt.values, [m, c, kh, kw], [2, 3, 1, 0])]);
      if (bias) weights.push(['bias', [m], Float32Array.from(bias.values)]);
      return this.emit('Conv2D', { ...common, filters: m, kernel_size: [kh, kw], kernel_initializer: ZEROS }, [xin], outShape, weights);
    }
    if (group === c && cg === 1 && m % c === 0) {
      if (d.some((v) => v > 1)) throw this.unsupported('a dilated depthwise convolution is not supported (tfjs has no gradient for it)');
      const mult = m / c;
      // ONNX [C·mult, 1, kh, kw] (output channel c·mult + j) → tfjs [kh, kw, C, mult]
      weights.push(['depthwise_kernel', [kh, kw, c, mult], permute(wt.values, [c, mult, kh, kw], [2, 3, 0, 1])]);
      if (bias) weights.push(['bias', [m], Float32Array.from(bias.values)]);
      return this.emit('DepthwiseConv2D', { ...common, kernel_size: [kh, kw], depth_multiplier: mult, depthwise_initializer: ZEROS }, [xin], outShape, weights);
    }
    throw this.unsupported(`grouped convolutions are supported with group 1 or group = input channels (depthwise), not group ${group} over ${c} channels`);
  }

  private batchNorm(): Sym {
    const x = this.sym(0);
    if (this.int('training_mode', 0) !== 0) throw this.unsupported('training_mode=1 (export the model in eval mode)');
    const [scale, b, mean, variance] = [1, 2, 3, 4].map((i) => this.constant(i, ['scale', 'bias', 'mean', 'variance'][i - 1]));
    const c = x.shape[0];
    if ([scale, b, mean, variance].some((t) => t.values.length !== c)) throw this.unsupported(`its parameters must have ${c} values (one per channel)`);
    const f = (t: Const) => Float32Array.from(t.values);
    return this.emit(
      'BatchNormalization',
      {
        axis: -1,
        momentum: this.float('momentum', 0.9),
        epsilon: this.float('epsilon', 1e-5),
        center: true,
        scale: true,
        beta_initializer: ZEROS,
        gamma_initializer: ZEROS,
        moving_mean_initializer: ZEROS,
        moving_variance_initializer: ZEROS,
      },
      [x],
      x.shape,
      [
        ['gamma', [c], f(scale)],
        ['beta', [c], f(b)],
        ['moving_mean', [c], f(mean)],
        ['moving_variance', [c], f(variance)],
      ],
    );
  }

  private pool(max: boolean): Sym {
    const x = this.sym4(0);
    const [c, h, w] = x.shape;
    const k = this.ints('kernel_shape', []);
    if (k.length !== 2) throw this.unsupported('kernel_shape must have 2 values');
    const s = this.ints('strides', [1, 1]);
    if (this.ints('dilations', [1, 1]).some((v) => v !== 1)) throw this.unsupported('dilated pooling is not supported');
    if (this.int('ceil_mode', 0) !== 0) throw this.unsupported('ceil_mode=1 is not supported (export with ceil_mode=False)');
    if (max && this.node!.outputs.length > 1 && this.node!.outputs[1] !== '') throw this.unsupported('the Indices output is not supported');
    const geom = this.padding(h, w, k, s, [1, 1]);
    const includePad = this.int('count_include_pad', 0) === 1;
    let x2: Sym = x;
    let padding: 'same' | 'valid' = 'valid';
    if (max || !includePad || geom.pads.every((p) => p === 0)) {
      if (!max && !geom.same && geom.pads.some((p) => p > 0)) {
        throw this.unsupported(`average pooling with pads [${geom.pads.join(', ')}] that exclude the padding from the count (count_include_pad=0) is supported only where TF's "same" padding is the same`);
      }
      ({ x: x2, padding } = this.padded(x, geom, max ? FLOAT32_LOWEST : 0));
    } else {
      // count_include_pad=1: zeros count, as after an explicit zero pad.
      ({ x: x2, padding } = this.padded(x, { pads: geom.pads, same: false }, 0));
    }
    const config = { pool_size: k, strides: s, padding, data_format: 'channels_last' };
    return this.emit(max ? 'MaxPooling2D' : 'AveragePooling2D', config, [x2], [c, geom.out[0], geom.out[1]]);
  }

  private gemm(): Sym {
    const a = this.sym(0);
    if (a.shape.length !== 1) throw this.unsupported('input A must be 2-D [N, features]');
    if (this.int('transA', 0) !== 0) throw this.unsupported('transA=1 is not supported');
    const b = this.constant(1, 'B');
    const cBias = this.optionalConst(2, 'C');
    const [alpha, beta] = [this.float('alpha', 1), this.float('beta', 1)];
    const transB = this.int('transB', 0) === 1;
    if (b.dims.length !== 2) throw this.unsupported('B must be 2-D');
    const [k, n] = transB ? [b.dims[1], b.dims[0]] : b.dims;
    if (k !== a.shape[0]) throw this.unsupported(`B expects ${k} features, the input has ${a.shape[0]}`);
    const kernel = transB ? permute(b.values, [n, k], [1, 0]) : Float32Array.from(b.values);
    if (alpha !== 1) kernel.forEach((v, i) => (kernel[i] = v * alpha));
    const weights: [string, number[], Float32Array][] = [['kernel', [k, n], kernel]];
    if (cBias) {
      if (cBias.values.length !== n && cBias.values.length !== 1) throw this.unsupported(`C must have ${n} values (one per output) or one`);
      weights.push(['bias', [n], Float32Array.from({ length: n }, (_, i) => beta * cBias.values[cBias.values.length === 1 ? 0 : i])]);
    }
    return this.dense(a, n, weights);
  }

  private matMul(): Sym {
    const a = this.sym(0);
    const b = this.constant(1, 'B');
    if (a.shape.length !== 1 || b.dims.length !== 2 || b.dims[0] !== a.shape[0]) {
      throw this.unsupported('only [N, features] × [features, outputs] with constant weights is supported');
    }
    return this.dense(a, b.dims[1], [['kernel', [b.dims[0], b.dims[1]], Float32Array.from(b.values)]]);
  }

  private dense(a: Sym, units: number, weights: [string, number[], Float32Array][]): Sym {
    const config = { units, activation: 'linear', use_bias: weights.length === 2, kernel_initializer: ZEROS, bias_initializer: ZEROS };
    return this.emit('Dense', config, [a], [units], weights);
  }

  private concat(): Sym {
    const xs = this.node!.inputs.map((_, i) => this.sym(i));
    const rank = xs[0].shape.length + 1;
    if (xs.some((x) => x.shape.length + 1 !== rank)) throw this.unsupported('all inputs must have the same rank');
    const axis = (this.int('axis', 1) + rank) % rank;
    if (axis === 0) throw this.unsupported('concatenation along the batch axis is not supported');
    // NCHW axis → NHWC axis (C → 3, H → 1, W → 2); 2-D unchanged.
    const tfAxis = rank === 4 ? [0, 3, 1, 2][axis] : axis;
    const shape = [...xs[0].shape];
    shape[axis - 1] = xs.reduce((n, x) => n + x.shape[axis - 1], 0);
    return this.emit('Concatenate', { axis: tfAxis }, xs, shape);
  }

  private pad(): Sym {
    const x = this.sym4(0);
    const mode = this.str('mode', 'constant');
    if (mode !== 'constant') throw this.unsupported(`mode "${mode}" is not supported (only constant padding)`);
    const pads = Array.from(this.constant(1, 'pads').values);
    const value = this.optionalConst(2, 'constant_value')?.values[0] ?? 0;
    if (this.value(3) !== undefined) throw this.unsupported('the axes input is not supported');
    // [n0, c0, h0, w0, n1, c1, h1, w1]
    if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) throw this.unsupported('only the height and width may be padded');
    if (pads.some((p) => p < 0)) throw this.unsupported('negative pads (cropping) are not supported');
    const [, , t, l, , , b, r] = pads;
    const [c, h, w] = x.shape;
    return this.emit('HardenOnnxPad', { pads: [t, b, l, r], value }, [x], [c, h + t + b, w + l + r]);
  }

  private arith(op: ArithOp): Sym {
    const [a, b] = [this.value(0)!, this.value(1)!];
    if (a.kind === 'sym' && b.kind === 'sym') {
      if (a.shape.length !== b.shape.length) throw this.unsupported('both inputs must have the same rank');
      const shape = a.shape.map((d, i) => Math.max(d, b.shape[i]));
      if (a.shape.some((d, i) => d !== b.shape[i] && d !== 1 && b.shape[i] !== 1)) throw this.unsupported('the inputs do not broadcast');
      if (op === 'add' && a.shape.every((d, i) => d === b.shape[i])) return this.emit('Add', {}, [a, b], shape);
      return this.emit('HardenOnnxArith', { op, constantShape: null, constantFirst: false }, [a, b], shape);
    }
    const [x, c, constantFirst] = a.kind === 'sym' ? [a, b as Const, false] : [b as Sym, a, true];
    const { shape: cShape, values } = this.broadcastConst(c, x);
    return this.emit('HardenOnnxArith', { op, constantShape: cShape, constantFirst }, [x], shapeAfterConst(x.shape, cShape), [['constant', cShape, values]]);
  }

  /** A constant operand of `x`'s op, in tfjs layout: [1] for a scalar, [1, h, w, c] for 4-D, [1, f] for 2-D. */
  private broadcastConst(c: Const, x: Sym): { shape: number[]; values: Float32Array } {
    if (c.values.length === 1) return { shape: [1], values: Float32Array.of(c.values[0]) };
    const rank = x.shape.length + 1;
    if (c.dims.length > rank) throw this.unsupported(`the constant has rank ${c.dims.length}, more than the other input's ${rank}`);
    const dims = [...Array(rank - c.dims.length).fill(1), ...c.dims];
    if (dims[0] !== 1) throw this.unsupported('a constant that varies along the batch axis is not supported');
    dims.slice(1).forEach((d, i) => {
      if (d !== 1 && d !== x.shape[i]) throw this.unsupported(`the constant's shape [${c.dims.join(', ')}] does not broadcast to the input's`);
    });
    if (rank === 4) {
      const [, ch, h, w] = dims;
      return { shape: [1, h, w, ch], values: permute(c.values, [ch, h, w], [1, 2, 0]) };
    }
    return { shape: dims, values: Float32Array.from(c.values) };
  }

  // ---- constant folding (shape arithmetic) ----

  private fold(node: OnnxNode): Const {
    const v = (i: number): Const => {
      const x = this.value(i);
      if (!x || x.kind !== 'const') throw this.unsupported(`input ${i} must be a constant or the Shape of a tensor (the importer evaluates shape arithmetic only)`);
      return x;
    };
    switch (node.opType) {
      case 'Constant': {
        const a = this.attr('value') ?? this.attr('value_float') ?? this.attr('value_floats') ?? this.attr('value_int') ?? this.attr('value_ints');
        if (!a) throw this.unsupported('only value, value_float(s) and value_int(s) constants are supported');
        if (a.kind === 'tensor') return { kind: 'const', dims: a.value.dims, values: a.value.values };
        if (a.kind === 'float' || a.kind === 'int') return { kind: 'const', dims: [], values: Float64Array.of(a.value) };
        if (a.kind === 'floats' || a.kind === 'ints') return { kind: 'const', dims: [a.value.length], values: Float64Array.from(a.value) };
        throw this.unsupported('unreadable constant');
      }
      case 'Shape': {
        const x = this.value(0)!;
        const full = x.kind === 'sym' ? [NaN, ...x.shape] : x.dims;
        const rank = full.length;
        const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + rank : i, 0), rank);
        const out = full.slice(clamp(this.int('start', 0)), clamp(this.int('end', rank)));
        return { kind: 'const', dims: [out.length], values: Float64Array.from(out) };
      }
      case 'Identity':
      case 'Cast':
        return v(0);
      case 'Gather': {
        const data = v(0);
        const idx = v(1);
        if (data.dims.length !== 1 || this.int('axis', 0) !== 0) throw this.unsupported('only gathering from a 1-D constant is supported');
        const n = data.values.length;
        const out = Array.from(idx.values, (i) => data.values[i < 0 ? i + n : i]);
        return { kind: 'const', dims: idx.dims, values: Float64Array.from(out) };
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        const x = v(0);
        const axes = this.opset >= 13 ? (this.value(1) ? Array.from(v(1).values) : []) : this.ints('axes', []);
        let dims = [...x.dims];
        if (node.opType === 'Unsqueeze') {
          const rank = dims.length + axes.length;
          for (const a of axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q)) dims.splice(a, 0, 1);
        } else {
          const norm = axes.map((a) => (a < 0 ? a + dims.length : a));
          dims = axes.length === 0 ? dims.filter((d) => d !== 1) : dims.filter((_, i) => !norm.includes(i));
        }
        return { kind: 'const', dims, values: x.values };
      }
      case 'Concat': {
        const xs = node.inputs.map((_, i) => v(i));
        if (xs.some((x) => x.dims.length !== 1)) throw this.unsupported('only concatenating 1-D constants is supported');
        const values = Float64Array.from(xs.flatMap((x) => Array.from(x.values)));
        return { kind: 'const', dims: [values.length], values };
      }
      case 'Slice': {
        const x = v(0);
        const rank = x.dims.length;
        const starts = Array.from(v(1).values);
        const ends = Array.from(v(2).values);
        const axes = this.value(3) ? Array.from(v(3).values, (a) => (a < 0 ? a + rank : a)) : starts.map((_, i) => i);
        const steps = this.value(4) ? Array.from(v(4).values) : starts.map(() => 1);
        // Per axis: the source indices kept, in order (ONNX's clamping rules, both step signs).
        const picks = x.dims.map((n, axis) => {
          const j = axes.indexOf(axis);
          if (j < 0) return Array.from({ length: n }, (_, i) => i);
          const step = steps[j];
          if (step === 0) throw this.unsupported('Slice step 0');
          const norm = (i: number) => (i < 0 ? i + n : i);
          const [lo, hi] = step > 0 ? [0, n] : [-1, n - 1];
          const start = Math.min(Math.max(norm(starts[j]), lo), hi);
          const end = Math.min(Math.max(norm(Math.max(Math.min(ends[j], 2 ** 52), -(2 ** 52))), lo), hi);
          const out: number[] = [];
          for (let i = start; step > 0 ? i < end : i > end; i += step) out.push(i);
          return out;
        });
        return gatherConst(x, picks);
      }
      case 'Transpose': {
        const x = v(0);
        const perm = this.ints('perm', x.dims.map((_, i) => x.dims.length - 1 - i));
        return { kind: 'const', dims: perm.map((p) => x.dims[p]), values: Float64Array.from(permute(x.values, x.dims, perm)) };
      }
      case 'ConstantOfShape': {
        const dims = Array.from(v(0).values);
        const a = this.attr('value');
        const fill = a && a.kind === 'tensor' ? a.value.values[0] : 0;
        return { kind: 'const', dims, values: new Float64Array(dims.reduce((p, q) => p * q, 1)).fill(fill) };
      }
      case 'Reshape': {
        const x = v(0);
        const target = Array.from(v(1).values);
        const known = target.reduce((p, d, i) => p * (d === -1 ? 1 : d === 0 ? x.dims[i] : d), 1);
        const dims = target.map((d, i) => (d === -1 ? x.values.length / known : d === 0 ? x.dims[i] : d));
        return { kind: 'const', dims, values: x.values };
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const [a, b] = [v(0), v(1)];
        const n = Math.max(a.values.length, b.values.length);
        if ((a.values.length !== n && a.values.length !== 1) || (b.values.length !== n && b.values.length !== 1)) throw this.unsupported('constants of different sizes');
        const f = { Add: (p: number, q: number) => p + q, Sub: (p: number, q: number) => p - q, Mul: (p: number, q: number) => p * q, Div: (p: number, q: number) => p / q }[node.opType];
        const values = Float64Array.from({ length: n }, (_, i) => f(a.values[a.values.length === 1 ? 0 : i], b.values[b.values.length === 1 ? 0 : i]));
        return { kind: 'const', dims: a.values.length === n ? a.dims : b.dims, values };
      }
      default:
        throw this.unsupported('it cannot be evaluated on constants');
    }
  }
}

/** The sub-array of `x` with, per axis, the source indices `picks[axis]`. */
function gatherConst(x: Const, picks: number[][]): Const {
  const dims = picks.map((p) => p.length);
  const strides = x.dims.map((_, i) => x.dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const values = new Float64Array(dims.reduce((a, b) => a * b, 1));
  const idx = dims.map(() => 0);
  for (let o = 0; o < values.length; o++) {
    values[o] = x.values[idx.reduce((src, k, axis) => src + picks[axis][k] * strides[axis], 0)];
    for (let i = dims.length - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return { kind: 'const', dims, values };
}

/** Operators that, given only constant inputs, are evaluated at import time. */
const FOLDABLE = new Set(['Identity', 'Cast', 'Reshape', 'Concat', 'Add', 'Sub', 'Mul', 'Div']);

/** The per-sample ONNX shape after broadcasting `shape` with a tfjs-layout constant. */
function shapeAfterConst(shape: number[], constShape: number[]): number[] {
  if (constShape.length === 1) return [...shape];
  if (shape.length === 3) {
    const [, h, w, c] = constShape;
    return [Math.max(shape[0], c), Math.max(shape[1], h), Math.max(shape[2], w)];
  }
  return shape.map((d, i) => Math.max(d, constShape[i + 1]));
}

/** Transposes `values` of row-major `shape` by `perm` into a float32 array. */
export function permute(values: ArrayLike<number>, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  const out = new Float32Array(values.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i] * strides[perm[i]];
    out[o] = values[src];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

function describeInput(elemType: number, dims: (number | string | null)[] | null): string {
  const type = elemType === 1 ? 'float32' : `element type ${elemType}`;
  return dims ? `${type} [${dims.map((d) => d ?? '?').join(', ')}]` : `${type} of unknown shape`;
}
