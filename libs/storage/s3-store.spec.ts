/**
 * Retry and error behaviour of the S3 store against a scripted loopback HTTP server: which failures
 * are retried (throttling, 5xx, timeouts) and how often, which are not (auth), and the messages.
 * Real-server tests live in test/storage-s3*.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createS3Client, createS3Store, StorageError, type S3ClientOptions } from './index.js';

type Reply = (req: IncomingMessage, res: ServerResponse) => void;

const xmlError = (status: number, code: string, message = code): Reply => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>tx1</RequestId></Error>`);
};
const bare = (status: number): Reply => (_req, res) => {
  res.writeHead(status);
  res.end();
};
const putOk: Reply = (_req, res) => {
  res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef"' });
  res.end();
};
/** Accepts the request and never answers. */
const hang: Reply = () => undefined;

describe('S3 store retries and errors (scripted server)', () => {
  let server: Server;
  let endpoint: string;
  let script: Reply[] = [];
  const seen: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(`${req.method} ${req.url}`);
        (script.shift() ?? xmlError(500, 'InternalError', 'script exhausted'))(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const storeWith = (replies: Reply[], options: S3ClientOptions = {}) => {
    script = replies;
    seen.length = 0;
    const client = createS3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, ...options });
    return { store: createS3Store({ bucket: 'bucket-a', prefix: 'runs', client }), client };
  };
  const bytes = new Uint8Array([1, 2, 3]);

  it('retries throttling and 5xx with backoff, then succeeds', async () => {
    const { store, client } = storeWith([xmlError(503, 'SlowDown'), xmlError(500, 'InternalError'), putOk], { maxAttempts: 4 });
    await store.put('x.bin', bytes);
    assert.deepEqual(seen, ['PUT /bucket-a/runs/x.bin?x-id=PutObject', 'PUT /bucket-a/runs/x.bin?x-id=PutObject', 'PUT /bucket-a/runs/x.bin?x-id=PutObject'], 'path-style, three attempts');
    client.destroy();
  });

  it('gives up after maxAttempts on persistent 5xx, naming bucket, key and attempts', async () => {
    const { store, client } = storeWith([xmlError(500, 'InternalError'), xmlError(502, 'BadGateway'), xmlError(500, 'InternalError')], { maxAttempts: 3 });
    await assert.rejects(store.put('x.bin', bytes), (err: unknown) => {
      assert.ok(StorageError.is(err, 'io'), String(err));
      assert.match(err.message, /failed writing s3:\/\/bucket-a\/runs\/x\.bin after 3 attempts: HTTP 500/);
      assert.deepEqual(err.details, { uri: 's3://bucket-a/runs', bucket: 'bucket-a', key: 'runs/x.bin' });
      return true;
    });
    assert.equal(seen.length, 3);
    client.destroy();
  });

  it('says to slow down when throttling outlasts the retries', async () => {
    const { store, client } = storeWith([xmlError(503, 'SlowDown'), xmlError(503, 'SlowDown')], { maxAttempts: 2 });
    await assert.rejects(store.get('x.bin'), (err: unknown) => StorageError.is(err, 'io') && /kept throttling reading s3:\/\/bucket-a\/runs\/x\.bin after 2 attempts.*retry later/.test(err.message));
    client.destroy();
  });

  it('retries a request the server stops answering (idle timeout)', async () => {
    const { store, client } = storeWith([hang, hang], { maxAttempts: 2, idleTimeoutMs: 200 });
    await assert.rejects(store.get('x.bin'), (err: unknown) => StorageError.is(err, 'io') && /after 2 attempts \(TimeoutError\)/.test(err.message));
    assert.equal(seen.length, 2);
    client.destroy();
  });

  it('never retries auth failures: one request, and the message says what to check', async () => {
    const cases: [Reply, string, RegExp][] = [
      [xmlError(403, 'InvalidAccessKeyId'), 'bad-credentials', /access key id "AKIDTEST".*AWS_ACCESS_KEY_ID/],
      [xmlError(403, 'SignatureDoesNotMatch'), 'bad-credentials', /signature.*AWS_SECRET_ACCESS_KEY/],
      [xmlError(403, 'AccessDenied'), 'access-denied', /access denied reading s3:\/\/bucket-a\/runs\/x\.bin.*"AKIDTEST".*lack the permission/],
      [xmlError(404, 'NoSuchBucket'), 'bucket-not-found', /bucket "bucket-a" does not exist at http:\/\/127\.0\.0\.1:\d+ .*create it/],
      [xmlError(404, 'NoSuchKey'), 'not-found', /no object at s3:\/\/bucket-a\/runs\/x\.bin/],
    ];
    for (const [reply, code, pattern] of cases) {
      const { store, client } = storeWith([reply, reply, reply, reply], { maxAttempts: 4 });
      await assert.rejects(store.get('x.bin'), (err: unknown) => StorageError.is(err, code as never) && pattern.test(err.message));
      assert.equal(seen.length, 1, `${code}: one request`);
      client.destroy();
    }
  });

  it('exists: 404 asks whether the bucket exists; a bodiless 403 is explained by a listing', async () => {
    let { store, client } = storeWith([bare(404), bare(200)]);
    assert.equal(await store.exists('x.bin'), false);
    assert.deepEqual(seen.map((s) => s.split(' ')[0]), ['HEAD', 'HEAD']);
    client.destroy();

    ({ store, client } = storeWith([bare(404), bare(404)]));
    await assert.rejects(store.exists('x.bin'), (err: unknown) => StorageError.is(err, 'bucket-not-found'));
    client.destroy();

    ({ store, client } = storeWith([bare(403), xmlError(403, 'InvalidAccessKeyId')], { maxAttempts: 4 }));
    await assert.rejects(store.exists('x.bin'), (err: unknown) => StorageError.is(err, 'bad-credentials'));
    assert.equal(seen.length, 2);
    client.destroy();
  });

  it('names a missing credential chain instead of the SDK internals', async () => {
    script = [];
    seen.length = 0;
    const saved = { ...process.env };
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE', 'AWS_SESSION_TOKEN']) delete process.env[k];
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    process.env.AWS_EC2_METADATA_DISABLED = 'true'; // never probe 169.254.169.254 from a test
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = '';
    process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI = '';
    try {
      const client = createS3Client({ endpoint, region: 'us-east-1', maxAttempts: 1 });
      const store = createS3Store({ bucket: 'bucket-a', client });
      await assert.rejects(store.get('x.bin'), (err: unknown) => StorageError.is(err, 'bad-credentials') && /no AWS credentials found.*AWS_ACCESS_KEY_ID/.test(err.message));
      assert.equal(seen.length, 0);
      client.destroy();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('validates options and bucket names up front', () => {
    assert.throws(() => createS3Store({ bucket: 'Bad_Bucket' }), { code: 'invalid-uri' });
    assert.throws(() => createS3Store({ bucket: 'ok-bucket', partSize: 1024 }), RangeError);
    assert.throws(() => createS3Store({ bucket: 'ok-bucket', listPageSize: 5000 }), RangeError);
    assert.throws(() => createS3Client({ maxAttempts: 0 }), RangeError);
    assert.equal(createS3Store({ bucket: 'ok-bucket', prefix: 'a/b' }).child('c').uri, 's3://ok-bucket/a/b/c');
  });
});
