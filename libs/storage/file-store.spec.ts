import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { createFileStore, joinKey, openStore, StorageError, type ArtifactStore } from './index.js';
import { describeStoreContract } from './store-contract.fixture.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('file store', () => {
  let dir: string;
  let store: ArtifactStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'harden-store-'));
    store = openStore(pathToFileURL(join(dir, 'root')).href);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has a canonical file:// uri', () => {
    assert.equal(store.uri, pathToFileURL(join(dir, 'root')).href);
    assert.equal(openStore(join(dir, 'root') + '/').uri, store.uri);
  });

  it('puts, gets, checks and replaces objects, creating folders as needed', async () => {
    await store.put('a/b/c.bin', new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await store.get('a/b/c.bin'))], [1, 2, 3]);
    assert.equal(await store.exists('a/b/c.bin'), true);
    assert.equal(await store.exists('a/b'), false, 'a folder is not an object');
    assert.equal(await store.exists('nope'), false);
    assert.equal(await store.exists('a/b/c.bin/x'), false);
    await store.put('a/b/c.bin', bytes('replaced'));
    assert.equal(text(await store.get('a/b/c.bin')), 'replaced');
    await store.put('empty', new Uint8Array(0));
    assert.equal((await store.get('empty')).byteLength, 0);
  });

  it('leaves no temp files behind, and list ignores stray ones', async () => {
    await store.put('t/x.json', bytes('{}'));
    assert.deepEqual(await readdir(join(dir, 'root', 't')), ['x.json']);
    await writeFile(join(dir, 'root', 't', '.x.json.0123456789abcdef.tmp'), 'half');
    assert.deepEqual(await store.list('t/'), ['t/x.json']);
  });

  it('lists keys recursively by string prefix, sorted', async () => {
    const s = store.child('listing');
    for (const k of ['ckpt/2/w.bin', 'ckpt/1/w.bin', 'ckpt-old/w.bin', 'model.json']) await s.put(k, bytes(k));
    assert.deepEqual(await s.list(), ['ckpt-old/w.bin', 'ckpt/1/w.bin', 'ckpt/2/w.bin', 'model.json']);
    assert.deepEqual(await s.list('ckpt/'), ['ckpt/1/w.bin', 'ckpt/2/w.bin']);
    assert.deepEqual(await s.list('ckpt'), ['ckpt-old/w.bin', 'ckpt/1/w.bin', 'ckpt/2/w.bin']);
    assert.deepEqual(await s.list('ckpt/1'), ['ckpt/1/w.bin']);
    assert.deepEqual(await s.list('missing/'), []);
    assert.deepEqual(await openStore(join(dir, 'never-created')).list(), []);
  });

  it('deletes idempotently and prunes folders left empty', async () => {
    const s = store.child('del');
    await s.put('x/y/z.bin', bytes('z'));
    await s.put('x/keep.bin', bytes('k'));
    await s.delete('x/y/z.bin');
    await s.delete('x/y/z.bin');
    await s.delete('never/was');
    await s.delete('x/y');
    assert.equal(await s.exists('x/y/z.bin'), false);
    assert.deepEqual(await readdir(join(dir, 'root', 'del', 'x')), ['keep.bin']);
    await s.delete('x/keep.bin');
    assert.deepEqual(await readdir(join(dir, 'root', 'del')), [], 'pruned up to, not including, the store root');
  });

  it('child stores are rooted below, with keys relative to them', async () => {
    const child = store.child('runs/r1/');
    assert.equal(child.uri, `${store.uri}/runs/r1`);
    await child.put('model/model.json', bytes('m'));
    assert.equal(text(await store.get(joinKey('runs/r1', 'model/model.json'))), 'm');
    assert.deepEqual(await child.child('model').list(), ['model.json']);
    assert.equal(store.child(''), store);
  });

  it('throws not-found naming the path, and invalid-key for bad keys', async () => {
    await assert.rejects(store.get('missing/file.bin'), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.code, 'not-found');
      assert.match(err.message, /missing\/file\.bin/);
      return true;
    });
    await assert.rejects(store.get('a/b'), { code: 'not-found' });
    for (const key of ['', '/abs', 'a//b', 'a/../b', './a', 'a/', 'a\\b']) {
      await assert.rejects(store.put(key, bytes('x')), { name: 'StorageError', code: 'invalid-key' }, key);
    }
    assert.throws(() => store.child('../up'), { code: 'invalid-key' });
    await assert.rejects(store.list('/abs'), { code: 'invalid-key' });
  });

  it('reports io errors naming the path', async () => {
    await mkdir(join(dir, 'root', 'blocker'), { recursive: true });
    await store.put('file-not-folder', bytes('f'));
    await assert.rejects(store.put('file-not-folder/child.bin', bytes('x')), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.code, 'io');
      assert.match(err.message, /file-not-folder/);
      assert.ok(err.cause);
      return true;
    });
  });

  it('opens s3:// URIs as S3 stores without sending a request', () => {
    const s3 = openStore('s3://bucket-name/some/prefix');
    assert.equal(s3.uri, 's3://bucket-name/some/prefix');
    assert.equal(s3.child('runs/r1').uri, 's3://bucket-name/some/prefix/runs/r1');
    assert.throws(() => openStore('s3://Bad_Bucket/x'), { code: 'invalid-uri' });
  });

  it('getStream refuses a folder; putStream replaces atomically and leaves no temp file', async () => {
    await store.put('streams/f/x.bin', bytes('x'));
    await assert.rejects(store.getStream('streams/f'), { code: 'not-found' });
    await store.putStream('streams/y.bin', Readable.from([bytes('a'), bytes('b')]));
    assert.equal(text(await store.get('streams/y.bin')), 'ab');
    assert.deepEqual((await readdir(join(dir, 'root', 'streams'))).sort(), ['f', 'y.bin']);
  });
});

describe('file store contract', () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'harden-store-contract-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  describeStoreContract('file store', { makeStore: () => createFileStore(join(dir, `s${n++}`)) });
});
