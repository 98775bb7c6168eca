/**
 * The s3:// store against a real S3 server: Swift's s3api in CI (HARDEN_S3_ENDPOINT), else an
 * s3rver process started here (test/helpers/s3-server.ts). Contract, models, manifested checkpoints,
 * a 50 MB multipart upload, tampering, wrong credentials and a missing bucket.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { initEngine, type tfl } from '../libs/engine/index.js';
import { buildModel, loadModel, loadModelFromUri, saveModel, saveModelToUri } from '../libs/models/index.js';
import {
  createS3Store,
  jobPaths,
  openLatestCheckpoint,
  openStore,
  readVerified,
  saveCheckpoint,
  StorageError,
  type ArtifactStore,
} from '../libs/storage/index.js';
import { describeStoreContract, patternBytes } from '../libs/storage/store-contract.fixture.js';
import { countRequests, startS3Server, type S3TestServer } from './helpers/s3-server.js';

const MiB = 1024 * 1024;
const bytes = (s: string) => new TextEncoder().encode(s);

let server: S3TestServer;
let client: S3Client;
let bucket: string;
let n = 0;

before(async () => {
  server = await startS3Server();
  client = server.client();
  bucket = await server.createBucket();
  // What the CLI reads: openStore('s3://…') with no client uses the standard AWS variables.
  process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
  process.env.AWS_ACCESS_KEY_ID = server.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
  process.env.AWS_REGION = server.region;
});
after(async () => {
  client?.destroy();
  await server?.close();
});

const freshStore = (options: { partSize?: number; listPageSize?: number } = {}): ArtifactStore =>
  createS3Store({ bucket, prefix: `t/${n++}`, client, ...options });

const isCode = (code: string, pattern?: RegExp) => (err: unknown) => {
  assert.ok(StorageError.is(err), `expected a StorageError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

function weightsOf(model: tfl.LayersModel): Buffer[] {
  return model.getWeights().map((w) => {
    const d = w.dataSync() as Float32Array;
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  });
}

describeStoreContract('s3 store', { makeStore: () => freshStore({ listPageSize: 7 }), listCount: 25 });

describe('s3 store', () => {
  it('round-trips a model through saveModel / loadModel, and through s3:// URIs from the environment', async () => {
    await initEngine('wasm');
    const model = buildModel({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
    const store = freshStore();
    const saved = await saveModel(model, store, 'models/m1', { shardBytes: 64 * 1024 });
    assert.ok(saved.keys.length > 2, 'several weight shards');
    const loaded = await loadModel(store, 'models/m1');
    assert.deepEqual(weightsOf(loaded), weightsOf(model));

    const uri = `s3://${bucket}/uri-models/m2`;
    const viaUri = await saveModelToUri(model, uri);
    assert.equal(viaUri.uri, uri);
    assert.deepEqual(weightsOf(await loadModelFromUri(`${uri}/model.json`)), weightsOf(model));
    assert.ok((await openStore(`s3://${bucket}`).list('uri-models/m2/')).includes('uri-models/m2/model.json'));
    for (const m of [model, loaded]) m.dispose();
  });

  it('round-trips a checkpoint folder with its manifest: model, streamed optimizer state, state.json', async () => {
    await initEngine('wasm');
    const model = buildModel({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
    const store = freshStore({ partSize: 5 * MiB });
    const optimizer = patternBytes(11 * MiB, 9); // 3 parts of 5 MiB
    const pointer = await saveCheckpoint(store, {
      jobId: 'job-7',
      epoch: 3,
      data: { robustAccuracy: 0.42 },
      write: async (folder) => {
        await saveModel(model, folder, 'target');
        await folder.putStream('optimizer', Readable.from([optimizer.subarray(0, 3 * MiB), optimizer.subarray(3 * MiB)]));
        await folder.put('state.json', bytes(JSON.stringify({ epoch: 3 })));
      },
    });
    assert.equal(pointer.folder, jobPaths('job-7').checkpoint(3));
    const latest = await openLatestCheckpoint(store, 'job-7');
    assert.ok(latest);
    assert.deepEqual(latest.pointer.data, { robustAccuracy: 0.42, epoch: 3 });
    await latest.folder.verify();
    assert.deepEqual(new Uint8Array(await latest.folder.get('optimizer')), optimizer);
    const restored = await loadModel(latest.folder.store, 'target');
    assert.deepEqual(weightsOf(restored), weightsOf(model));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(await latest.folder.get('state.json'))), { epoch: 3 });
    const files = await store.list(`${pointer.folder}/`);
    assert.deepEqual(files, [...latest.folder.manifest.files.map((f) => `${pointer.folder}/${f.key}`), `${pointer.folder}/manifest.json`].sort());
    for (const m of [model, restored]) m.dispose();
  });

  it('streams a 50 MB object through a multipart upload and back', async () => {
    const store = createS3Store({ bucket, prefix: `big/${n++}`, client });
    const counted = server.client();
    const requests = countRequests(counted);
    const countedStore = createS3Store({ bucket, prefix: `big/${n++}`, client: counted });
    const size = 50 * 1000 * 1000;
    const hash = createHash('sha256');
    async function* generate() {
      // 1 MiB chunks, made as they are consumed: the whole object never sits in memory.
      for (let offset = 0, i = 0; offset < size; offset += MiB, i++) {
        const chunk = patternBytes(Math.min(MiB, size - offset), i + 1);
        hash.update(chunk);
        yield chunk;
      }
    }
    assert.equal(await countedStore.putStream('blob.bin', generate()), size);
    const expectedParts = Math.ceil(size / (8 * MiB));
    assert.equal(requests.byCommand.get('UploadPartCommand'), expectedParts, `${expectedParts} parts of 8 MiB`);
    assert.equal(requests.byCommand.get('CompleteMultipartUploadCommand'), 1);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `big/${n - 1}/blob.bin` }));
    assert.equal(head.ContentLength, size);
    if (server.kind === 'external') {
      // Real S3 servers (Swift's s3api, AWS, MinIO) give multipart objects an ETag "<md5 of part md5s>-<parts>".
      assert.match(head.ETag ?? '', new RegExp(`-${expectedParts}"?$`), `ETag ${head.ETag} has the part count`);
    } // s3rver stores the assembled object and reports a plain MD5 ETag: the part count is checked by requests above.
    const back = createHash('sha256');
    let read = 0;
    for await (const chunk of await countedStore.getStream('blob.bin')) {
      back.update(chunk as Buffer);
      read += (chunk as Buffer).byteLength;
    }
    assert.equal(read, size);
    assert.equal(back.digest('hex'), hash.digest('hex'));
    await countedStore.delete('blob.bin');
    assert.equal(await store.exists('blob.bin'), false);
    counted.destroy();
  });

  it('an object altered behind our back fails the load with digest-mismatch naming the key', async () => {
    await initEngine('wasm');
    const model = buildModel({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 8 });
    const prefix = `tamper/${n++}`;
    const store = createS3Store({ bucket, prefix, client });
    const pointer = await saveCheckpoint(store, { jobId: 'j', epoch: 1, write: (folder) => saveModel(model, folder, 'target').then(() => undefined) });
    model.dispose();
    const shard = `${pointer.folder}/target/group1-shard1of1.bin`;
    const original = await store.get(shard);
    const altered = original.slice();
    altered[100] ^= 0x01; // one flipped bit
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${shard}`, Body: altered }));

    const latest = await openLatestCheckpoint(store, 'j');
    assert.ok(latest);
    await assert.rejects(latest.folder.verify(), isCode('digest-mismatch', /target\/group1-shard1of1\.bin does not match manifest\.json/));
    await assert.rejects(loadModel(latest.folder.store, 'target'), (err: unknown) => {
      // libs/models wraps store failures in a ModelError; the cause is ours.
      const cause = (err as Error).cause;
      assert.ok(StorageError.is(cause, 'digest-mismatch'), String(err));
      assert.match((err as Error).message, /group1-shard1of1\.bin.*does not match manifest\.json/);
      return true;
    });
    assert.equal((await readVerified(store, pointer.folder)).manifest.files.length, 2);
  });

  it('wrong credentials fail at once with a clear error: no retries', async () => {
    const wrongKey = server.client({ credentials: { accessKeyId: 'NO-SUCH-KEY', secretAccessKey: 'whatever' }, maxAttempts: 4 });
    const keyRequests = countRequests(wrongKey);
    const store = createS3Store({ bucket, prefix: 'auth', client: wrongKey });
    const started = performance.now();
    // AWS and s3rver say InvalidAccessKeyId; Swift's tempauth says SignatureDoesNotMatch. Both name the key and the variable.
    await assert.rejects(store.get('x.bin'), isCode('bad-credentials', new RegExp(`s3://${bucket}/auth/x\\.bin.*access key id "NO-SUCH-KEY".*AWS_ACCESS_KEY_ID`)));
    await assert.rejects(store.put('x.bin', bytes('x')), isCode('bad-credentials'));
    await assert.rejects(store.putStream('x.bin', Readable.from([patternBytes(9 * MiB)])), isCode('bad-credentials'));
    await assert.rejects(store.exists('x.bin'), isCode('bad-credentials'));
    await assert.rejects(store.list(), isCode('bad-credentials'));
    assert.ok(performance.now() - started < 5000, 'quick');
    // get, put, CreateMultipartUpload, HEAD + the listing that names its 403, list: one request each.
    assert.equal(keyRequests.total(), 6, JSON.stringify([...keyRequests.byCommand]));
    wrongKey.destroy();

    const wrongSecret = server.client({ credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: 'not-the-secret' }, maxAttempts: 4 });
    const secretRequests = countRequests(wrongSecret);
    const secretStore = createS3Store({ bucket, prefix: 'auth', client: wrongSecret });
    if (server.kind === 's3rver') {
      // s3rver does not verify SigV4 signatures, so a wrong secret is accepted there; Swift (CI) checks it.
      await secretStore.put('x.bin', bytes('x'));
    } else {
      await assert.rejects(secretStore.get('x.bin'), isCode('bad-credentials', /rejected the request signature.*AWS_SECRET_ACCESS_KEY/));
      await assert.rejects(secretStore.put('x.bin', bytes('x')), isCode('bad-credentials', /signature/));
      assert.equal(secretRequests.total(), 2, JSON.stringify([...secretRequests.byCommand]));
    }
    wrongSecret.destroy();
  });

  it('a missing bucket is named, with what to do, on every operation', async () => {
    const missing = `harden-missing-${randomBytes(4).toString('hex')}`;
    const store = createS3Store({ bucket: missing, prefix: 'runs', client });
    const named = isCode('bucket-not-found', new RegExp(`bucket "${missing}" does not exist.*create it.*s3://${missing}/runs`));
    await assert.rejects(store.get('latest.json'), named);
    await assert.rejects(store.put('latest.json', bytes('{}')), named);
    await assert.rejects(store.exists('latest.json'), named);
    await assert.rejects(store.list(), named);
    await assert.rejects(store.getStream('x'), named);
  });
});
