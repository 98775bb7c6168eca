/**
 * The subset of ONNX's `ModelProto` (onnx/onnx.proto, IR versions 3-10) that image classifiers use,
 * decoded and encoded with @bufbuild/protobuf's wire reader and writer: no generated code, no
 * dependency on the `onnx` package. Field numbers are onnx.proto's. Fields outside the subset are
 * skipped on read (sparse initializers, training info, functions, string tensors) and never written.
 *
 * Tensors keep their raw little-endian bytes (`raw_data`) or typed repeated fields as one typed
 * array: `tensorValues` turns either into numbers. External data (`data_location = EXTERNAL`) is
 * refused: a model over 2 GiB is not an image classifier this service hardens.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { ModelError } from '../errors.js';

/** onnx.proto `TensorProto.DataType` values this code reads or writes. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Values as numbers (int64 as doubles: exact up to 2⁵³, plenty for shapes and pads). */
  values: Float64Array;
}

export type OnnxAttribute =
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'string'; value: string }
  | { name: string; kind: 'tensor'; value: OnnxTensor }
  | { name: string; kind: 'floats'; value: number[] }
  | { name: string; kind: 'ints'; value: number[] }
  | { name: string; kind: 'other'; value: null };

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}

/** A graph input or output: element type and dims (a string for a symbolic dim, `null` when unknown). */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  dims: (number | string | null)[] | null;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  /** Opset per domain ('' is the default ONNX domain; 'ai.onnx' is read as '' too). */
  opsets: Map<string, number>;
  graph: OnnxGraph;
}

const corrupt = (where: string, cause?: unknown) => new ModelError('corrupt', `not a valid ONNX model: ${where}`, cause === undefined ? undefined : { cause });

/** Decodes an ONNX file. Throws `ModelError` `corrupt` when the bytes are not a ModelProto with a graph. */
export function decodeOnnx(bytes: Uint8Array): OnnxModel {
  try {
    const model = readModel(new BinaryReader(bytes));
    if (!model.graph) throw corrupt('it has no graph');
    return model as OnnxModel;
  } catch (cause) {
    if (cause instanceof ModelError) throw cause;
    throw corrupt((cause as Error).message, cause);
  }
}

function each(r: BinaryReader, end: number, field: (no: number, wire: WireType) => boolean): void {
  while (r.pos < end) {
    const [no, wire] = r.tag();
    if (!field(no, wire)) r.skip(wire, no);
  }
}

function sub(r: BinaryReader): [BinaryReader, number] {
  const len = r.uint32();
  return [r, r.pos + len];
}

const int = (v: bigint | string | number): number => Number(v);

function readModel(r: BinaryReader): Partial<OnnxModel> {
  const m: Partial<OnnxModel> = { irVersion: 0, producerName: '', producerVersion: '', opsets: new Map() };
  each(r, r.len, (no) => {
    if (no === 1) m.irVersion = int(r.int64());
    else if (no === 2) m.producerName = r.string();
    else if (no === 3) m.producerVersion = r.string();
    else if (no === 7) m.graph = readGraph(...sub(r));
    else if (no === 8) {
      const [, end] = sub(r);
      let domain = '';
      let version = 0;
      each(r, end, (f) => {
        if (f === 1) domain = r.string();
        else if (f === 2) version = int(r.int64());
        else return false;
        return true;
      });
      m.opsets!.set(domain === 'ai.onnx' ? '' : domain, version);
    } else return false;
    return true;
  });
  return m;
}

function readGraph(r: BinaryReader, end: number): OnnxGraph {
  const g: OnnxGraph = { name: '', nodes: [], initializers: [], inputs: [], outputs: [] };
  each(r, end, (no) => {
    if (no === 1) g.nodes.push(readNode(...sub(r)));
    else if (no === 2) g.name = r.string();
    else if (no === 5) g.initializers.push(readTensor(...sub(r)));
    else if (no === 11) g.inputs.push(readValueInfo(...sub(r)));
    else if (no === 12) g.outputs.push(readValueInfo(...sub(r)));
    else return false;
    return true;
  });
  return g;
}

function readNode(r: BinaryReader, end: number): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: new Map() };
  each(r, end, (no) => {
    if (no === 1) n.inputs.push(r.string());
    else if (no === 2) n.outputs.push(r.string());
    else if (no === 3) n.name = r.string();
    else if (no === 4) n.opType = r.string();
    else if (no === 7) n.domain = r.string();
    else if (no === 5) {
      const a = readAttribute(...sub(r));
      n.attributes.set(a.name, a);
    } else return false;
    return true;
  });
  if (n.domain === 'ai.onnx') n.domain = '';
  return n;
}

/** Attribute types (onnx.proto `AttributeProto.AttributeType`). */
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

function readAttribute(r: BinaryReader, end: number): OnnxAttribute {
  let name = '';
  let type = 0;
  let f = 0;
  let i = 0;
  let s = '';
  let t: OnnxTensor | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  each(r, end, (no, wire) => {
    if (no === 1) name = r.string();
    else if (no === 20) type = r.int32();
    else if (no === 2) f = r.float();
    else if (no === 3) i = int(r.int64());
    else if (no === 4) s = new TextDecoder().decode(r.bytes());
    else if (no === 5) t = readTensor(...sub(r));
    else if (no === 7) repeated(r, wire, () => floats.push(r.float()));
    else if (no === 8) repeated(r, wire, () => ints.push(int(r.int64())));
    else return false;
    return true;
  });
  switch (type) {
    case ATTR.FLOAT:
      return { name, kind: 'float', value: f };
    case ATTR.INT:
      return { name, kind: 'int', value: i };
    case ATTR.STRING:
      return { name, kind: 'string', value: s };
    case ATTR.TENSOR:
      if (!t) throw corrupt(`attribute ${name} has no tensor`);
      return { name, kind: 'tensor', value: t };
    case ATTR.FLOATS:
      return { name, kind: 'floats', value: floats };
    case ATTR.INTS:
      return { name, kind: 'ints', value: ints };
    default:
      return { name, kind: 'other', value: null };
  }
}

/** A repeated scalar field, packed (one length-delimited run) or not (one value per tag). */
function repeated(r: BinaryReader, wire: WireType, read: () => void): void {
  if (wire !== WireType.LengthDelimited) {
    read();
    return;
  }
  const end = r.uint32() + r.pos;
  while (r.pos < end) read();
}

function readTensor(r: BinaryReader, end: number): OnnxTensor {
  const t = { name: '', dims: [] as number[], dataType: 0 };
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const doubles: number[] = [];
  let external = false;
  each(r, end, (no, wire) => {
    if (no === 1) repeated(r, wire, () => t.dims.push(int(r.int64())));
    else if (no === 2) t.dataType = r.int32();
    else if (no === 4) repeated(r, wire, () => floats.push(r.float()));
    else if (no === 5) repeated(r, wire, () => ints.push(r.int32()));
    else if (no === 7) repeated(r, wire, () => ints.push(int(r.int64())));
    else if (no === 10) repeated(r, wire, () => doubles.push(r.double()));
    else if (no === 8) t.name = r.string();
    else if (no === 9) raw = r.bytes();
    else if (no === 14) external = r.int32() === 1;
    else return false;
    return true;
  });
  if (external) throw new ModelError('invalid-options', `ONNX tensor "${t.name}" keeps its data in an external file; export the model as one file (under 2 GiB)`);
  const size = t.dims.reduce((a, b) => a * b, 1);
  let values: Float64Array;
  if (raw) values = rawValues(raw, t.dataType, t.name);
  else values = Float64Array.from(t.dataType === DataType.FLOAT ? floats : t.dataType === DataType.DOUBLE ? doubles : ints);
  if (values.length !== size) throw corrupt(`tensor "${t.name}" has ${values.length} values for dims [${t.dims.join(', ')}]`);
  return { ...t, values };
}

function rawValues(raw: Uint8Array, dataType: number, name: string): Float64Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const read: Record<number, [number, (o: number) => number]> = {
    [DataType.FLOAT]: [4, (o) => view.getFloat32(o, true)],
    [DataType.DOUBLE]: [8, (o) => view.getFloat64(o, true)],
    [DataType.INT32]: [4, (o) => view.getInt32(o, true)],
    [DataType.INT64]: [8, (o) => Number(view.getBigInt64(o, true))],
    [DataType.INT8]: [1, (o) => view.getInt8(o)],
    [DataType.UINT8]: [1, (o) => view.getUint8(o)],
    [DataType.BOOL]: [1, (o) => view.getUint8(o)],
  };
  const entry = read[dataType];
  if (!entry) throw new ModelError('invalid-options', `ONNX tensor "${name}" has data type ${dataType}; only float32, float64 and integer tensors are read`);
  const [width, get] = entry;
  if (raw.byteLength % width !== 0) throw corrupt(`tensor "${name}" has ${raw.byteLength} raw bytes, not a multiple of ${width}`);
  const out = new Float64Array(raw.byteLength / width);
  for (let i = 0; i < out.length; i++) out[i] = get(i * width);
  return out;
}

function readValueInfo(r: BinaryReader, end: number): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: 0, dims: null };
  each(r, end, (no) => {
    if (no === 1) v.name = r.string();
    else if (no === 2) {
      // TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2)
      const [, typeEnd] = sub(r);
      each(r, typeEnd, (f) => {
        if (f !== 1) return false;
        const [, tensorEnd] = sub(r);
        each(r, tensorEnd, (g) => {
          if (g === 1) v.elemType = r.int32();
          else if (g === 2) {
            v.dims = [];
            const [, shapeEnd] = sub(r);
            each(r, shapeEnd, (h) => {
              if (h !== 1) return false;
              const [, dimEnd] = sub(r);
              let dim: number | string | null = null;
              each(r, dimEnd, (k) => {
                if (k === 1) dim = int(r.int64());
                else if (k === 2) dim = r.string();
                else return false;
                return true;
              });
              v.dims!.push(dim);
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return v;
}

// ---- encoding ----

/** A tensor to write: float32 or int64 values. */
export interface TensorOut {
  name: string;
  dims: number[];
  dataType: typeof DataType.FLOAT | typeof DataType.INT64;
  values: ArrayLike<number>;
}

export type AttributeOut = { name: string; f: number } | { name: string; i: number } | { name: string; ints: number[] } | { name: string; s: string };

export interface NodeOut {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes?: AttributeOut[];
}

export interface ValueInfoOut {
  name: string;
  /** A number, or a string for a symbolic dim (`batch`). */
  dims: (number | string)[];
}

export interface ModelOut {
  producerName: string;
  producerVersion: string;
  opset: number;
  irVersion: number;
  graphName: string;
  nodes: NodeOut[];
  initializers: TensorOut[];
  inputs: ValueInfoOut[];
  outputs: ValueInfoOut[];
  docString?: string;
}

/** Encodes a ModelProto with one graph in the default domain. */
export function encodeOnnx(m: ModelOut): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int64(m.irVersion);
  w.tag(2, WireType.LengthDelimited).string(m.producerName);
  w.tag(3, WireType.LengthDelimited).string(m.producerVersion);
  if (m.docString) w.tag(6, WireType.LengthDelimited).string(m.docString);
  w.tag(7, WireType.LengthDelimited).fork();
  for (const n of m.nodes) writeNode(w.tag(1, WireType.LengthDelimited).fork(), n).join();
  w.tag(2, WireType.LengthDelimited).string(m.graphName);
  for (const t of m.initializers) writeTensor(w.tag(5, WireType.LengthDelimited).fork(), t).join();
  for (const v of m.inputs) writeValueInfo(w.tag(11, WireType.LengthDelimited).fork(), v).join();
  for (const v of m.outputs) writeValueInfo(w.tag(12, WireType.LengthDelimited).fork(), v).join();
  w.join();
  w.tag(8, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string('').tag(2, WireType.Varint).int64(m.opset).join();
  return w.finish();
}

function writeNode(w: BinaryWriter, n: NodeOut): BinaryWriter {
  for (const i of n.inputs) w.tag(1, WireType.LengthDelimited).string(i);
  for (const o of n.outputs) w.tag(2, WireType.LengthDelimited).string(o);
  w.tag(3, WireType.LengthDelimited).string(n.name);
  w.tag(4, WireType.LengthDelimited).string(n.opType);
  for (const a of n.attributes ?? []) {
    w.tag(5, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(a.name);
    if ('f' in a) w.tag(2, WireType.Bit32).float(a.f).tag(20, WireType.Varint).int32(ATTR.FLOAT);
    else if ('i' in a) w.tag(3, WireType.Varint).int64(a.i).tag(20, WireType.Varint).int32(ATTR.INT);
    else if ('s' in a) w.tag(4, WireType.LengthDelimited).bytes(new TextEncoder().encode(a.s)).tag(20, WireType.Varint).int32(ATTR.STRING);
    else {
      w.tag(8, WireType.LengthDelimited).fork();
      for (const v of a.ints) w.int64(v);
      w.join().tag(20, WireType.Varint).int32(ATTR.INTS);
    }
    w.join();
  }
  return w;
}

function writeTensor(w: BinaryWriter, t: TensorOut): BinaryWriter {
  if (t.dims.length > 0) {
    w.tag(1, WireType.LengthDelimited).fork();
    for (const d of t.dims) w.int64(d);
    w.join();
  }
  w.tag(2, WireType.Varint).int32(t.dataType);
  w.tag(8, WireType.LengthDelimited).string(t.name);
  const n = t.values.length;
  const raw = new Uint8Array(n * (t.dataType === DataType.FLOAT ? 4 : 8));
  const view = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    if (t.dataType === DataType.FLOAT) view.setFloat32(i * 4, t.values[i], true);
    else view.setBigInt64(i * 8, BigInt(t.values[i]), true);
  }
  w.tag(9, WireType.LengthDelimited).bytes(raw);
  return w;
}

function writeValueInfo(w: BinaryWriter, v: ValueInfoOut): BinaryWriter {
  w.tag(1, WireType.LengthDelimited).string(v.name);
  w.tag(2, WireType.LengthDelimited).fork(); // TypeProto
  w.tag(1, WireType.LengthDelimited).fork(); // tensor_type
  w.tag(1, WireType.Varint).int32(DataType.FLOAT);
  w.tag(2, WireType.LengthDelimited).fork(); // shape
  for (const d of v.dims) {
    w.tag(1, WireType.LengthDelimited).fork();
    if (typeof d === 'number') w.tag(1, WireType.Varint).int64(d);
    else w.tag(2, WireType.LengthDelimited).string(d);
    w.join();
  }
  w.join().join().join();
  return w;
}
