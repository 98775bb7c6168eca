/** Row (sample) bookkeeping between tensors and plain arrays: selecting and merging samples. */
import { tf, type Tensor4D } from '../engine/index.js';

/** Indices `i` where `flags[i]` equals `value`. */
export function rowsWhere(flags: ArrayLike<number>, value: number): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i] === value) out.push(i);
  return Int32Array.from(out);
}

/**
 * A copy of `base` with row `rows[j]` replaced by row j of `values` wherever `take[j]` is 1 (all
 * rows when `take` is absent). Returns a new tensor; disposes nothing. Runs on the device (one
 * gather over both tensors' rows): no values are read back.
 */
export function replaceRows(base: Tensor4D, rows: Int32Array, values: Tensor4D | Float32Array, take?: Uint8Array): Tensor4D {
  const n = base.shape[0];
  const source = Int32Array.from({ length: n }, (_, i) => i);
  for (let j = 0; j < rows.length; j++) if (!take || take[j]) source[rows[j]] = n + j;
  return tf.tidy(() => {
    const extra = values instanceof Float32Array ? tf.tensor4d(values, [rows.length, base.shape[1], base.shape[2], base.shape[3]]) : values;
    return tf.gather(tf.concat([base, extra], 0), tf.tensor1d(source, 'int32')) as Tensor4D;
  });
}

/**
 * Selects per row: `a` where `mask[i]` is 1, else `b`. (`tf.where` broadcasts numpy-style, so the
 * mask is shaped `[n, 1, 1, 1]`, not `[n]`.)
 */
export function selectRows(mask: Uint8Array, a: Tensor4D, b: Tensor4D): Tensor4D {
  return tf.tidy(() => tf.where(tf.tensor4d(mask, [mask.length, 1, 1, 1], 'bool'), a, b) as Tensor4D);
}

export function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}
