/**
 * `s3://bucket/prefix` artifact store over the AWS SDK v3, for AWS S3 and S3-compatible servers
 * (MinIO, Ceph RGW, OpenStack Swift's s3api).
 *
 * Objects are written whole or not at all: small ones with one `PutObject`, large ones and every
 * `putStream` with a multipart upload (`@aws-sdk/lib-storage`), which S3 makes visible only when
 * `CompleteMultipartUpload` succeeds; a failed upload is aborted (best effort: when the server is
 * gone, the parts stay until a lifecycle rule removes incomplete uploads).
 */
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ArtifactStore, ByteSource } from './artifact-store.js';
import { StorageError } from './errors.js';
import { checkFolder, checkKey, checkPrefix, joinKey } from './keys.js';
import { createS3Client } from './s3-client.js';
import { fromS3Error, type S3Context } from './s3-errors.js';
import { formatStoreUri } from './store-uri.js';

/** S3's smallest part (all but the last), 5 MiB. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, with no slash at either end. @default '' (the bucket's root) */
  prefix?: string;
  /** @default one `createS3Client()` shared by the process: endpoint, region and credentials from the AWS environment */
  client?: S3Client;
  /**
   * Bytes per multipart part, and the size above which `put` switches from one `PutObject` to a
   * multipart upload. An upload holds at most about `partSize × (queueSize + 1)` bytes in memory.
   * At least 5 MiB (S3's minimum part); at most 10,000 parts make one object.
   * @default 8388608 (8 MiB)
   */
  partSize?: number;
  /** Parts uploaded at once by one upload. @default 4 */
  queueSize?: number;
  /** Keys asked for per `ListObjectsV2` page (S3 caps it at 1000). @default 1000 */
  listPageSize?: number;
}

interface Settings {
  bucket: string;
  client: S3Client;
  partSize: number;
  queueSize: number;
  listPageSize: number;
  /** Whether `client` is the shared one built from the environment. */
  defaultClient: boolean;
  /** Shared by a store and its children: whether the bucket is known to exist (saves a HEAD). */
  bucketSeen: { value: boolean };
}

/** A store over `s3://bucket/prefix`. Creating it sends no request; the first call reaches the server. */
export function createS3Store(options: S3StoreOptions): ArtifactStore {
  const partSize = options.partSize ?? 8 * 1024 * 1024;
  const queueSize = options.queueSize ?? 4;
  const listPageSize = options.listPageSize ?? 1000;
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be an integer ≥ ${MIN_PART_SIZE} (5 MiB), got ${partSize}`);
  if (!Number.isInteger(queueSize) || queueSize < 1) throw new RangeError(`queueSize must be a positive integer, got ${queueSize}`);
  if (!Number.isInteger(listPageSize) || listPageSize < 1 || listPageSize > 1000) throw new RangeError(`listPageSize must be an integer in [1, 1000], got ${listPageSize}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
    throw new StorageError('invalid-uri', `invalid S3 bucket name "${options.bucket}": 3 to 63 lowercase letters, digits, "." and "-"`);
  }
  const settings: Settings = {
    bucket: options.bucket,
    client: options.client ?? defaultClient(),
    defaultClient: options.client === undefined,
    partSize,
    queueSize,
    listPageSize,
    bucketSeen: { value: false },
  };
  return s3Store(settings, checkFolder(options.prefix ?? ''));
}

let sharedClient: S3Client | undefined;

/** One client (one connection pool) for every store opened without its own, built on first use. */
function defaultClient(): S3Client {
  sharedClient ??= createS3Client();
  return sharedClient;
}

function s3Store(s: Settings, prefix: string): ArtifactStore {
  const { bucket, client } = s;
  const uri = formatStoreUri({ scheme: 's3', bucket, prefix });
  const fullKey = (key: string) => joinKey(prefix, checkKey(key));

  /** Runs one SDK call; failures become `StorageError`s naming the bucket and key. */
  const call = async <T>(action: string, key: string | undefined, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw fromS3Error(err, await context(action, key));
    }
  };
  const context = async (action: string, key: string | undefined): Promise<S3Context> => {
    // An endpoint from AWS_ENDPOINT_URL* is resolved per request, not kept in config.endpoint.
    const configured = await client.config.endpoint?.().catch(() => undefined);
    const fromEnv = s.defaultClient ? process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL : undefined;
    const endpoint = configured ?? (fromEnv ? new URL(fromEnv) : undefined);
    const accessKeyId = await client.config.credentials().then((c) => c.accessKeyId, () => undefined);
    return {
      action,
      bucket,
      uri,
      ...(key !== undefined ? { key } : {}),
      ...(endpoint ? { endpoint: describeEndpoint(endpoint) } : {}),
      ...(accessKeyId ? { accessKeyId } : {}),
    };
  };

  /** Uploads `body` with a multipart upload when it is a stream or larger than one part. */
  const upload = async (key: string, body: Uint8Array | Readable, signal?: AbortSignal): Promise<void> => {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (signal?.aborted) throw signal.reason ?? abortError();
    signal?.addEventListener('abort', onAbort, { once: true });
    const up = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: body },
      partSize: s.partSize,
      queueSize: s.queueSize,
      leavePartsOnError: false,
      abortController: controller,
    });
    try {
      await up.done();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };

  /** A HEAD that got 404 does not say whether the key or the bucket is missing: ask about the bucket. */
  const checkBucket = async (action: string, key: string): Promise<void> => {
    if (s.bucketSeen.value) return;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      s.bucketSeen.value = true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) throw fromS3Error(Object.assign(new Error('NoSuchBucket'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }), await context(action, key));
      // Not allowed to HEAD the bucket (or another failure): the key's 404 stands.
    }
  };

  /**
   * A HEAD that got 403 has no body, hence no error code. The same question as a GET-style request
   * (a one-key listing) gets one: `InvalidAccessKeyId`, `SignatureDoesNotMatch` or `AccessDenied`.
   */
  const explain403 = async (action: string, key: string, original: unknown): Promise<never> => {
    try {
      await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
    } catch (err) {
      throw fromS3Error(err, await context(action, key));
    }
    throw fromS3Error(original, await context(action, key));
  };

  const store: ArtifactStore = {
    uri,

    async put(key, bytes) {
      const k = fullKey(key);
      if (bytes.byteLength <= s.partSize) {
        await call('writing', k, () => client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: bytes, ContentLength: bytes.byteLength })));
        s.bucketSeen.value = true;
        return;
      }
      await call('writing', k, () => upload(k, bytes));
    },

    async putStream(key, source, options = {}) {
      const k = fullKey(key);
      let written = 0;
      const counted = Readable.from(countBytes(source, (n) => (written += n)), { objectMode: false });
      try {
        await call('writing', k, () => upload(k, counted, options.signal));
      } finally {
        if (!counted.destroyed) counted.destroy();
      }
      return written;
    },

    async get(key) {
      const k = fullKey(key);
      return call('reading', k, async () => {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
        return out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
      });
    },

    async getStream(key) {
      const k = fullKey(key);
      const out = await call('reading', k, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: k })));
      return (out.Body as Readable | undefined) ?? Readable.from([], { objectMode: false });
    },

    async exists(key) {
      const k = fullKey(key);
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: k }));
        s.bucketSeen.value = true;
        return true;
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) {
          await checkBucket('checking', k);
          return false;
        }
        if (status === 403) return explain403('checking', k, err);
        throw fromS3Error(err, await context('checking', k));
      }
    },

    async list(listPrefix = '') {
      return (await this.listVersions(listPrefix)).map((o) => o.key);
    },

    async listVersions(listPrefix = '') {
      checkPrefix(listPrefix);
      const full = prefix === '' ? listPrefix : `${prefix}/${listPrefix}`;
      const keys: { key: string; version: string }[] = [];
      let token: string | undefined;
      do {
        const page = await call('listing', full, () =>
          client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: full, MaxKeys: s.listPageSize, ...(token ? { ContinuationToken: token } : {}) })),
        );
        for (const o of page.Contents ?? []) {
          // Folder markers ("a/b/", made by consoles) are not objects: stores hold no folders.
          if (o.Key !== undefined && !o.Key.endsWith('/')) keys.push({ key: prefix === '' ? o.Key : o.Key.slice(prefix.length + 1), version: `${o.Size ?? ''}:${o.ETag ?? ''}:${o.LastModified?.getTime() ?? ''}` });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      s.bucketSeen.value = true;
      return keys.sort((a, b) => byCodeUnit(a.key, b.key));
    },

    async delete(key) {
      const k = fullKey(key);
      await call('deleting', k, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k })));
    },

    child(childPrefix) {
      const folder = checkFolder(childPrefix);
      return folder === '' ? store : s3Store(s, joinKey(prefix, folder));
    },
  };
  return store;
}

async function* countBytes(source: ByteSource, add: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    add(bytes.byteLength);
    yield bytes;
  }
}

function describeEndpoint(e: { protocol: string; hostname: string; port?: number | string; path?: string; pathname?: string }): string {
  const path = e.path ?? e.pathname ?? '/';
  return `${e.protocol}//${e.hostname}${e.port ? `:${e.port}` : ''}${path === '/' ? '' : path}`;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function abortError(): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}
