/**
 * Which model and data locations a request may name.
 *
 * Requests pass models and data sets by location (`file://…`, `s3://…`, `cifar10:/dir`) and the
 * server reads them with its own rights. Reachable only from this machine (loopback), that is fine:
 * the caller can read those files anyway. Reachable from a network, it is not: any caller could make
 * the server read any file it can (`file:///etc/…`) or any bucket its credentials reach. So a server
 * bound to a non-loopback address confines requests to its own store and the locations its operator
 * allows (`harden serve --allow-uri`, `HARDEN_ALLOW_URIS`); anything else is PERMISSION_DENIED,
 * naming the field and what is allowed.
 *
 * Matching is by whole path segments on normalised locations: `file:///srv/models` allows
 * `/srv/models/a` but not `/srv/models-old`; `..` is resolved first, and a file location is checked by
 * its real path too (that of its nearest existing ancestor, for a path not there yet), so a symlink
 * inside an allowed folder cannot lead out of it.
 * `s3://bucket/prefix` allows keys under that prefix in that bucket (the endpoint is the server's).
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { formatStoreUri, parseStoreUri, type StoreLocation } from '../storage/index.js';
import { RequestError } from './errors.js';

export interface LocationPolicy {
  /** Undefined when every location is allowed. */
  readonly allowed: readonly string[] | undefined;
  /** Throws PERMISSION_DENIED for `field` unless `location` (already parsed) is allowed. */
  check(field: string, location: StoreLocation): void;
}

/** Every location the server itself can read (a server reachable only from this machine). */
export const OPEN_LOCATIONS: LocationPolicy = { allowed: undefined, check: () => undefined };

/**
 * Only locations under `roots` (store URIs or absolute paths). Throws a plain Error naming the bad
 * root, for the operator, when one does not parse.
 */
export function confinedLocations(roots: readonly string[]): LocationPolicy {
  const parsed = roots.map((root) => {
    try {
      return parseStoreUri(root);
    } catch (error) {
      throw new Error(`allowed location ${JSON.stringify(root)}: ${(error as Error).message}`);
    }
  });
  const allowed = [...new Set(parsed.map(formatStoreUri))];
  return {
    allowed,
    check(field, location) {
      if (parsed.some((root) => within(location, root))) return;
      throw new RequestError('permission-denied', `${field}: ${formatStoreUri(location)} is outside the locations this server reads (${allowed.join(', ')})`, { field });
    },
  };
}

function within(location: StoreLocation, root: StoreLocation): boolean {
  if (location.scheme === 's3' || root.scheme === 's3') {
    if (location.scheme !== 's3' || root.scheme !== 's3' || location.bucket !== root.bucket) return false;
    return root.prefix === '' || location.prefix === root.prefix || location.prefix.startsWith(`${root.prefix}/`);
  }
  const under = (path: string, base: string) => path === base || path.startsWith(base.endsWith(sep) ? base : `${base}${sep}`);
  if (!under(location.path, root.path)) return false;
  // Follow symlinks: the real path (of the nearest part that exists, plus the rest) must stay
  // under the root's real path.
  return under(realPath(location.path), realPath(root.path));
}

/** realpath of `path`, or of its nearest existing ancestor joined with the rest. */
function realPath(path: string): string {
  const rest: string[] = [];
  for (let p = path; ; ) {
    try {
      return join(realpathSync(p), ...rest.reverse());
    } catch {
      const parent = dirname(p);
      if (parent === p) return path;
      rest.push(basename(p));
      p = parent;
    }
  }
}

/** A data set folder (already resolved by the spec parser) as a location. */
export function folderLocation(dir: string): StoreLocation {
  return { scheme: 'file', path: isAbsolute(dir) ? dir : resolve(dir) };
}
