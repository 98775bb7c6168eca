/**
 * Tensors on the wire (robustness.v1.Tensor): shape, dtype and raw little-endian bytes, row-major.
 * Encoding views the typed array's memory (no copy); decoding copies into an aligned array and
 * checks that the byte count matches the shape.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { DataType, type Tensor, type TensorSchema } from './gen/robustness/v1/tensor_pb.js';
import { RequestError } from './errors.js';

export type TypedTensor =
  | { dtype: 'float32'; shape: number[]; values: Float32Array }
  | { dtype: 'int32'; shape: number[]; values: Int32Array }
  | { dtype: 'uint8'; shape: number[]; values: Uint8Array };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bytesOf(values: Float32Array | Int32Array | Uint8Array): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('tensors are sent little-endian; this machine is big-endian');
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export function encodeTensor(values: Float32Array | Int32Array | Uint8Array, shape: readonly number[]): MessageInitShape<typeof TensorSchema> {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== values.length) throw new Error(`tensor of shape [${shape.join(', ')}] needs ${n} values; got ${values.length}`);
  const dtype = values instanceof Float32Array ? DataType.FLOAT32 : values instanceof Int32Array ? DataType.INT32 : DataType.UINT8;
  return { shape: shape.map((d) => BigInt(d)), dtype, data: bytesOf(values) };
}

export function decodeTensor(tensor: Tensor | undefined, field = 'tensor'): TypedTensor {
  if (!tensor) throw new RequestError('invalid-argument', `${field}: missing`, { field });
  const shape = tensor.shape.map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new RequestError('invalid-argument', `${field}: bad shape [${shape.join(', ')}]`, { field });
  const n = shape.reduce((a, b) => a * b, 1);
  const size = tensor.dtype === DataType.UINT8 ? 1 : tensor.dtype === DataType.FLOAT32 || tensor.dtype === DataType.INT32 ? 4 : 0;
  if (size === 0) throw new RequestError('invalid-argument', `${field}: unknown dtype ${tensor.dtype}`, { field });
  if (tensor.data.byteLength !== n * size) {
    throw new RequestError('invalid-argument', `${field}: shape [${shape.join(', ')}] needs ${n * size} bytes; got ${tensor.data.byteLength}`, { field });
  }
  const copy = new Uint8Array(tensor.data);
  if (tensor.dtype === DataType.FLOAT32) return { dtype: 'float32', shape, values: new Float32Array(copy.buffer, 0, n) };
  if (tensor.dtype === DataType.INT32) return { dtype: 'int32', shape, values: new Int32Array(copy.buffer, 0, n) };
  return { dtype: 'uint8', shape, values: copy };
}
