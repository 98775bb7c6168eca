/**
 * Opaque page tokens for keyset paging: the position after the last row of a page (a creation
 * sequence number) and a fingerprint of the filter, base64url-encoded. A token from another
 * listing (another filter) or a tampered one is `invalid-argument` naming `page_token`.
 */
import { JobError } from './errors.js';

interface TokenBody {
  /** List rows with a creation sequence below this one (newest first). */
  before: number;
  /** The filter the listing was made with. */
  filter: string;
}

export function encodePageToken(before: number, filter: string): string {
  return Buffer.from(JSON.stringify({ v: 1, b: before, f: filter })).toString('base64url');
}

/** `undefined` for an empty token (the first page). */
export function decodePageToken(token: string | undefined, filter: string): TokenBody | undefined {
  if (!token) return undefined;
  const bad = (why: string) => new JobError('invalid-argument', `page_token: ${why}; pass next_page_token of the previous page unchanged`, { field: 'page_token' });
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad('not a page token');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a page token');
  }
  const body = parsed as { v?: unknown; b?: unknown; f?: unknown };
  if (body?.v !== 1 || typeof body.b !== 'number' || !Number.isSafeInteger(body.b) || body.b < 0 || typeof body.f !== 'string') throw bad('not a page token');
  if (body.f !== filter) throw bad('it belongs to a listing with another filter');
  return { before: body.b, filter: body.f };
}

/** Checks a page size: 0 means `fallback`; more than `max` is `invalid-argument`. */
export function pageSize(value: number | undefined, fallback = 50, max = 500): number {
  const v = value ?? 0;
  if (!Number.isSafeInteger(v) || v < 0) throw new JobError('invalid-argument', `page_size: must be an integer ≥ 0; got ${v}`, { field: 'page_size' });
  if (v > max) throw new JobError('invalid-argument', `page_size: at most ${max}; got ${v}`, { field: 'page_size' });
  return v === 0 ? fallback : v;
}
