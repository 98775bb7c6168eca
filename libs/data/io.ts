/** File helpers shared by the readers (internal: not exported from the folder's index). */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { readFile, stat, open } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.js';

const gunzipAsync = promisify(gunzip);

/** `BYTE_TO_UNIT[b] === b / 255` as float32: the one conversion of 8-bit pixels to [0, 1]. */
export const BYTE_TO_UNIT: Float32Array = (() => {
  const lut = new Float32Array(256);
  for (let b = 0; b < 256; b++) lut[b] = b / 255;
  return lut;
})();

function fsError(err: unknown, file: string, reader: string, expected: string): DataError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new DataError('not-found', `${reader}: ${file} does not exist; expected ${expected}`, { cause: err, file });
  }
  return new DataError('io', `${reader}: cannot read ${file} (${code ?? String(err)}); expected ${expected}`, {
    cause: err,
    file,
  });
}

/** Reads a whole file; a missing file is a `not-found` DataError naming `expected`. */
export async function readFileOrFail(file: string, reader: string, expected: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw fsError(err, file, reader, expected);
  }
}

/** Stats a file; a missing file is a `not-found` DataError naming `expected`. */
export async function statOrFail(file: string, reader: string, expected: string): Promise<Stats> {
  try {
    return await stat(file);
  } catch (err) {
    throw fsError(err, file, reader, expected);
  }
}

/** Reads `length` bytes at `position` of `file`. */
export async function readRange(file: string, position: number, length: number, reader: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done !== length) {
      throw new DataError('bad-format', `${reader}: ${file} ended after ${position + done} bytes while reading ${length} at ${position}`, {
        file,
      });
    }
    return buf;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw fsError(err, file, reader, 'a readable file');
  } finally {
    await handle?.close();
  }
}

/** True when a path exists (file or folder). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Gunzips `buf` if it starts with the gzip magic bytes 1f 8b; returns it unchanged otherwise. */
export async function gunzipIfNeeded(buf: Uint8Array, file: string, reader: string): Promise<Uint8Array> {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
  try {
    return await gunzipAsync(buf);
  } catch (err) {
    throw new DataError('bad-format', `${reader}: ${file} starts with the gzip magic 1f 8b but does not decompress (${(err as Error).message})`, {
      cause: err,
      file,
    });
  }
}

/** Non-empty trimmed lines of a text file, or undefined when the file does not exist. */
export async function readOptionalLines(file: string, reader: string): Promise<string[] | undefined> {
  if (!(await exists(file))) return undefined;
  const text = (await readFileOrFail(file, reader, 'a text file')).toString('utf8');
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/**
 * The folder holding `marker`: `dir` itself, or one of its `children` (e.g. the archive's
 * top folder `cifar-10-batches-bin`). Undefined when none holds it.
 */
export async function findDataDir(dir: string, marker: string, children: readonly string[]): Promise<string | undefined> {
  for (const candidate of [dir, ...children.map((c) => join(dir, c))]) {
    if (await exists(join(candidate, marker))) return candidate;
  }
  return undefined;
}

/** Throws the signal's reason when it is aborted. */
export function checkAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/** Validates an optional limit: a non-negative integer, or undefined for all. */
export function checkLimit(limit: number | undefined, reader: string): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new DataError('invalid-argument', `${reader}: limit must be a non-negative integer; got ${limit}`);
  }
}
