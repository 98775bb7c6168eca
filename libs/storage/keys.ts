import { StorageError } from './errors.js';

/**
 * Checks that `key` is a valid object key: non-empty, `/`-separated, relative, with no empty, `.` or
 * `..` segment, no backslash and no NUL. Returns it unchanged; throws `StorageError` `invalid-key`.
 */
export function checkKey(key: string): string {
  const reason = keyProblem(key);
  if (reason) throw new StorageError('invalid-key', `invalid key ${JSON.stringify(key)}: ${reason}`);
  return key;
}

/**
 * Normalises a folder prefix: `''` stays `''` (the root); otherwise one trailing `/` is dropped and
 * the rest must be a valid key. Used by `child`.
 */
export function checkFolder(prefix: string): string {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (trimmed === '') return '';
  const reason = keyProblem(trimmed);
  if (reason) throw new StorageError('invalid-key', `invalid folder ${JSON.stringify(prefix)}: ${reason}`);
  return trimmed;
}

/**
 * Checks a `list` prefix: `''` (everything), a folder (`a/b/`), or a folder plus a partial last
 * segment (`a/ckpt` matches `a/ckpt-2/…`). The folder part must be a valid key.
 */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const slash = prefix.lastIndexOf('/');
  const folder = prefix.slice(0, Math.max(slash, 0));
  const partial = prefix.slice(slash + 1);
  const reason =
    slash === 0
      ? 'keys are relative (no leading "/")'
      : (folder !== '' ? keyProblem(folder) : undefined) ??
        (partial.includes('\\') || partial.includes('\0') ? 'it contains "\\" or NUL' : undefined);
  if (reason) throw new StorageError('invalid-key', `invalid prefix ${JSON.stringify(prefix)}: ${reason}`);
  return prefix;
}

/** Joins key parts with `/`, skipping empty parts and trailing slashes: `joinKey('a/', '', 'b')` → `a/b`. */
export function joinKey(...parts: string[]): string {
  return parts
    .map((p) => p.replace(/\/+$/, ''))
    .filter((p) => p !== '')
    .join('/');
}

function keyProblem(key: string): string | undefined {
  if (key === '') return 'it is empty';
  if (key.startsWith('/')) return 'keys are relative (no leading "/")';
  if (key.includes('\\')) return 'use "/" to separate segments, not "\\"';
  if (key.includes('\0')) return 'it contains a NUL character';
  const segments = key.split('/');
  for (const s of segments) {
    if (s === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (s === '.' || s === '..') return `segment "${s}" is not allowed`;
  }
  return undefined;
}
