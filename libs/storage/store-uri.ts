import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StorageError } from './errors.js';

/** Where a store lives, parsed from its URI. */
export type StoreLocation =
  | { scheme: 'file'; /** Absolute directory path, without a trailing separator. */ path: string }
  | { scheme: 's3'; bucket: string; /** Key prefix inside the bucket, `''` or without slashes at its ends. */ prefix: string };

/** The root used when no store URI is given: `./.harden/` resolved against the working directory. */
export const DEFAULT_STORE_ROOT = './.harden/';

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]+):/;

/**
 * Parses a store URI.
 *
 * - `file:///abs/dir` → that directory (percent-escapes decoded); `file://localhost/abs` too.
 * - a plain path (`./runs`, `/srv/x`, `runs`) → resolved against `cwd` to an absolute directory.
 * - `s3://bucket[/prefix]` → bucket and prefix.
 * - `''` or `undefined` → `DEFAULT_STORE_ROOT`.
 *
 * Throws `StorageError` `invalid-uri` (malformed) or `unsupported-scheme` (any other `scheme:`).
 */
export function parseStoreUri(uri: string | undefined, cwd: string = process.cwd()): StoreLocation {
  const raw = uri === undefined || uri.trim() === '' ? DEFAULT_STORE_ROOT : uri.trim();
  const scheme = SCHEME.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) return { scheme: 'file', path: stripSep(resolve(cwd, raw)) };
  switch (scheme) {
    case 'file':
      return { scheme: 'file', path: parseFileUri(raw) };
    case 's3':
      return parseS3Uri(raw);
    default:
      throw new StorageError(
        'unsupported-scheme',
        `unsupported store URI scheme "${scheme}:" in ${JSON.stringify(raw)}; use file:///abs/dir, a path, or s3://bucket/prefix`,
      );
  }
}

/** The canonical URI of a location: `file:///abs/dir` or `s3://bucket/prefix`, no trailing `/`. */
export function formatStoreUri(location: StoreLocation): string {
  if (location.scheme === 'file') return stripSlash(pathToFileURL(location.path).href);
  return location.prefix === '' ? `s3://${location.bucket}` : `s3://${location.bucket}/${location.prefix}`;
}

function parseFileUri(raw: string): string {
  if (!raw.toLowerCase().startsWith('file://')) {
    throw new StorageError('invalid-uri', `invalid file URI ${JSON.stringify(raw)}: expected file:///absolute/dir`);
  }
  let path: string;
  try {
    path = fileURLToPath(raw);
  } catch (cause) {
    throw new StorageError('invalid-uri', `invalid file URI ${JSON.stringify(raw)}: expected file:///absolute/dir`, { cause });
  }
  if (!isAbsolute(path)) {
    throw new StorageError('invalid-uri', `invalid file URI ${JSON.stringify(raw)}: the path must be absolute`);
  }
  return stripSep(resolve(path));
}

function parseS3Uri(raw: string): StoreLocation {
  const match = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/i.exec(raw);
  if (!match) {
    throw new StorageError('invalid-uri', `invalid S3 URI ${JSON.stringify(raw)}: expected s3://bucket/prefix`);
  }
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((s) => s === '.' || s === '..' || (s === '' && prefix !== ''))) {
    throw new StorageError('invalid-uri', `invalid S3 URI ${JSON.stringify(raw)}: empty, "." or ".." segment in the prefix`);
  }
  return { scheme: 's3', bucket: match[1], prefix };
}

function stripSep(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function stripSlash(uri: string): string {
  return uri.endsWith('/') && !uri.endsWith(':///') ? uri.slice(0, -1) : uri;
}
