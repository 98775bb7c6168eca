/**
 * Turns what the AWS SDK throws into `StorageError`s that name the bucket and key and say what to do.
 */
import { StorageError } from './errors.js';

/** What was being done when an S3 call failed. */
export interface S3Context {
  /** The operation, in words: `reading`, `writing`, `listing`, `deleting`, `checking`. */
  action: string;
  bucket: string;
  /** The full object key (or list prefix) in the bucket. */
  key?: string;
  /** The store's URI, `s3://bucket/prefix`. */
  uri: string;
  /** Where requests went, e.g. `http://127.0.0.1:8080` (omit for AWS itself). */
  endpoint?: string;
  /** The access key id the client signs with, when known: named in credential errors. */
  accessKeyId?: string;
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Connection-level failures (the SDK retries them; these surface once attempts are used up). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException', 'RequestLimitExceeded']);

/**
 * The `StorageError` for `err`, thrown by an SDK call made while `ctx.action` on `ctx.key`.
 * `AbortError`s and `StorageError`s are returned unchanged.
 */
export function fromS3Error(err: unknown, ctx: S3Context): Error {
  if (err instanceof StorageError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as SdkError;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const attempts = e.$metadata?.attempts;
  const object = ctx.key === undefined ? `s3://${ctx.bucket}` : `s3://${ctx.bucket}/${ctx.key}`;
  const where = ctx.endpoint ? ` at ${ctx.endpoint}` : '';
  const who = ctx.accessKeyId ? ` "${ctx.accessKeyId}"` : '';
  const details = { uri: ctx.uri, bucket: ctx.bucket, ...(ctx.key !== undefined ? { key: ctx.key } : {}) };
  const make = (code: ConstructorParameters<typeof StorageError>[0], message: string) => new StorageError(code, message, { cause: err, details });
  const after = attempts !== undefined && attempts > 1 ? ` after ${attempts} attempts` : '';

  switch (name) {
    case 'NoSuchBucket':
      return make(
        'bucket-not-found',
        `S3 bucket "${ctx.bucket}" does not exist${where} (${ctx.action} ${object}): create it (e.g. \`aws s3 mb s3://${ctx.bucket}\`) or fix the bucket name in ${ctx.uri}`,
      );
    case 'NoSuchKey':
      return make('not-found', `no object at ${object}${where}`);
    case 'InvalidAccessKeyId':
      return make(
        'bad-credentials',
        `the S3 server${where} refused ${ctx.action} ${object}: it does not know the access key id${who}; check AWS_ACCESS_KEY_ID or the profile's credentials, and that the endpoint is the server these keys belong to`,
      );
    case 'SignatureDoesNotMatch':
      return make(
        'bad-credentials',
        `the S3 server${where} rejected the request signature (${ctx.action} ${object}): the secret key does not match the access key id${who}; check AWS_SECRET_ACCESS_KEY, and AWS_ACCESS_KEY_ID too (some servers, Swift among them, answer this way for an unknown key id); a wrong region or a proxy that rewrites requests does this as well`,
      );
    case 'ExpiredToken':
    case 'InvalidToken':
    case 'TokenRefreshRequired':
      return make('bad-credentials', `the session token for${who || ' the credentials'} was rejected (${ctx.action} ${object}): ${e.message}; refresh the credentials`);
    case 'CredentialsProviderError':
      return make(
        'bad-credentials',
        `no AWS credentials found for ${ctx.uri} (${ctx.action} ${object}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a credentials file`,
      );
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return make(
        'access-denied',
        `access denied ${ctx.action} ${object}${where}: the credentials${who} are valid but lack the permission; grant it (e.g. s3:GetObject, s3:PutObject, s3:ListBucket, s3:DeleteObject on this bucket and prefix) or use other credentials`,
      );
    case 'InvalidBucketName':
      return make('invalid-uri', `invalid S3 bucket name "${ctx.bucket}" in ${ctx.uri}: ${e.message ?? name}`);
  }
  if (status === 404 && (name === 'NotFound' || name === '404' || name === 'UnknownError')) {
    // HEAD responses have no body, so no error code: the caller decides between key and bucket.
    return make('not-found', `no object at ${object}${where}`);
  }
  if (status === 403) {
    return make(
      'access-denied',
      `access denied ${ctx.action} ${object}${where} (HTTP 403${name && name !== 'UnknownError' && name !== '403' ? ` ${name}` : ''}): the credentials${who} are wrong or lack the permission; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy`,
    );
  }
  if (THROTTLING.has(name) || status === 429 || status === 503) {
    return make('io', `the S3 server${where} kept throttling ${ctx.action} ${object}${after} (${name || status}): retry later, or lower the request rate`);
  }
  if (status !== undefined && status >= 500) {
    return make('io', `the S3 server${where} failed ${ctx.action} ${object}${after}: HTTP ${status} ${name} ${e.message ?? ''}`.trimEnd());
  }
  const errno = e.code ?? (NETWORK_CODES.has(name) ? name : undefined);
  if ((errno !== undefined && NETWORK_CODES.has(errno)) || name === 'TimeoutError') {
    return make(
      'io',
      `cannot reach the S3 server${where || ' (AWS)'} while ${ctx.action} ${object}${after} (${errno ?? name}): check that it is up and that AWS_ENDPOINT_URL points at it`,
    );
  }
  return make('io', `S3 error ${ctx.action} ${object}${where}${after}: ${name ? `${name}: ` : ''}${e.message ?? ''}${status ? ` (HTTP ${status})` : ''}`);
}
