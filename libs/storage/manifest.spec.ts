import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  createMemoryStore,
  jobPaths,
  MANIFEST_KEY,
  openLatestCheckpoint,
  openPointer,
  pruneCheckpoints,
  readPointer,
  readVerified,
  reportKey,
  saveCheckpoint,
  sha256Hex,
  startManifest,
  StorageError,
  writePointer,
  type ArtifactStore,
} from './index.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function drain(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return new Uint8Array(Buffer.concat(chunks));
}

const isCode = (code: string, pattern?: RegExp) => (err: unknown) => {
  assert.ok(StorageError.is(err), String(err));
  assert.equal(err.code, code, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

describe('manifest', () => {
  it('records the size and sha256 of everything written through the writer, streams included', async () => {
    const store = createMemoryStore();
    const w = await startManifest(store, 'ck/epoch-0001');
    await w.store.put('state.json', bytes('{"epoch":1}'));
    await w.store.child('target').put('model.json', bytes('{}'));
    await w.store.putStream('optimizer', Readable.from([bytes('ab'), bytes('cd')]));
    const commit = await w.commit();
    assert.equal(commit.folder, 'ck/epoch-0001');
    assert.deepEqual(commit.manifest.files, [
      { key: 'optimizer', bytes: 4, sha256: sha256Hex(bytes('abcd')) },
      { key: 'state.json', bytes: 11, sha256: sha256Hex(bytes('{"epoch":1}')) },
      { key: 'target/model.json', bytes: 2, sha256: sha256Hex(bytes('{}')) },
    ]);
    assert.equal(commit.bytes, 17);
    assert.equal(commit.manifestSha256, sha256Hex(await store.get(`ck/epoch-0001/${MANIFEST_KEY}`)));
    await assert.rejects(w.store.put('late', bytes('x')), isCode('io', /manifest.*written/));
  });

  it('reads verified: the view lists exactly the manifest, and every read is checked', async () => {
    const store = createMemoryStore();
    const w = await startManifest(store, 'f');
    await w.store.put('a/x.bin', bytes('xx'));
    await w.store.put('b.bin', bytes('b'));
    const commit = await w.commit();
    const folder = await readVerified(store, 'f', { manifestSha256: commit.manifestSha256 });
    assert.equal(folder.uri, `${store.uri}/f`);
    assert.equal(text(await folder.get('a/x.bin')), 'xx');
    assert.equal(text(await drain(await folder.getStream('b.bin'))), 'b');
    assert.deepEqual(await folder.store.list(), ['a/x.bin', 'b.bin']);
    assert.deepEqual(await folder.store.child('a').list(), ['x.bin']);
    assert.equal(text(await folder.store.child('a').get('x.bin')), 'xx');
    assert.equal(await folder.store.exists(MANIFEST_KEY), false);
    await assert.rejects(folder.store.get('c.bin'), isCode('not-found', /c\.bin is not listed/));
    await assert.rejects(folder.store.put('c.bin', bytes('c')), isCode('io', /verified reading/));
    await folder.verify();
  });

  it('an object altered behind our back is a digest-mismatch naming the key, in get, getStream and verify', async () => {
    const store = createMemoryStore();
    const w = await startManifest(store, 'f');
    await w.store.put('weights.bin', bytes('original'));
    await w.commit();
    await store.put('f/weights.bin', bytes('tampered'));
    const folder = await readVerified(store, 'f');
    await assert.rejects(folder.get('weights.bin'), isCode('digest-mismatch', /f\/weights\.bin does not match manifest\.json/));
    await assert.rejects(drain(await folder.getStream('weights.bin')), isCode('digest-mismatch', /weights\.bin/));
    await assert.rejects(folder.verify(), isCode('digest-mismatch', /weights\.bin/));
    await store.put('f/weights.bin', bytes('origina'));
    await assert.rejects(folder.get('weights.bin'), isCode('digest-mismatch', /7 bytes.*expected 8 bytes/));
  });

  it('checks the manifest itself against the digest a pointer recorded', async () => {
    const store = createMemoryStore();
    const w = await startManifest(store, 'jobs/j/checkpoints/epoch-0001');
    await w.store.put('x', bytes('x'));
    const commit = await w.commit();
    await writePointer(store, 'jobs/j/latest.json', commit, { epoch: 1 });
    const manifest = JSON.parse(text(await store.get(`${commit.folder}/${MANIFEST_KEY}`)));
    manifest.files[0].sha256 = sha256Hex(bytes('y'));
    await store.put(`${commit.folder}/${MANIFEST_KEY}`, bytes(JSON.stringify(manifest)));
    await store.put(`${commit.folder}/x`, bytes('y'));
    await assert.rejects(openPointer(store, 'jobs/j/latest.json'), isCode('digest-mismatch', /manifest\.json has sha256 .* pointer/));
  });

  it('a folder without its manifest is incomplete: not-found says so; junk is corrupt', async () => {
    const store = createMemoryStore();
    await store.put('half/x', bytes('x'));
    await assert.rejects(readVerified(store, 'half'), isCode('not-found', /no manifest\.json in .*half: the folder is incomplete/));
    await store.put(`half/${MANIFEST_KEY}`, bytes('{"version":1,"files":[{"key":"../x","bytes":1,"sha256":"00"}]}'));
    await assert.rejects(readVerified(store, 'half'), isCode('corrupt', /malformed file entry/));
    await store.put(`half/${MANIFEST_KEY}`, bytes('not json'));
    await assert.rejects(readVerified(store, 'half'), isCode('corrupt', /not valid JSON/));
  });

  it('restarting a folder deletes its manifest first, and commit removes leftovers of the failed attempt', async () => {
    const store = createMemoryStore();
    const first = await startManifest(store, 'f');
    await first.store.put('keep', bytes('1'));
    await first.commit();
    const retry = await startManifest(store, 'f');
    assert.equal(await store.exists(`f/${MANIFEST_KEY}`), false, 'the folder is incomplete while it is rewritten');
    await retry.store.put('stale-shard', bytes('s'));
    // The attempt dies here; the next one writes a different set of files.
    const again = await startManifest(store, 'f');
    await again.store.put('keep', bytes('2'));
    const commit = await again.commit();
    assert.deepEqual(commit.manifest.files.map((f) => f.key), ['keep']);
    assert.deepEqual(await store.list('f/'), ['f/keep', `f/${MANIFEST_KEY}`]);
  });

  it('refuses to write manifest.json through the writer', async () => {
    const w = await startManifest(createMemoryStore(), 'f');
    await assert.rejects(w.store.put(MANIFEST_KEY, bytes('{}')), isCode('invalid-key'));
  });
});

describe('checkpoints and pointers', () => {
  const writeEpoch = (store: ArtifactStore, epoch: number) =>
    saveCheckpoint(store, {
      jobId: 'job-1',
      epoch,
      data: { robustAccuracy: epoch / 10 },
      write: async (folder) => {
        await folder.child('target').put('model.json', bytes(`model ${epoch}`));
        await folder.putStream('optimizer', Readable.from([bytes(`momentum ${epoch}`)]));
        await folder.put('state.json', bytes(JSON.stringify({ epoch })));
      },
    });

  it('lays out jobs/<id>/checkpoints/epoch-NNNN, jobs/<id>/latest.json and reports/<id>.json', () => {
    const p = jobPaths('job-1');
    assert.deepEqual({ root: p.root, checkpoints: p.checkpoints, latest: p.latest }, {
      root: 'jobs/job-1',
      checkpoints: 'jobs/job-1/checkpoints',
      latest: 'jobs/job-1/latest.json',
    });
    assert.equal(p.checkpoint(3), 'jobs/job-1/checkpoints/epoch-0003');
    assert.equal(p.checkpoint(12345), 'jobs/job-1/checkpoints/epoch-12345');
    assert.equal(reportKey('job-1'), 'reports/job-1.json');
    for (const bad of ['', '..', 'a/b', 'a b']) assert.throws(() => jobPaths(bad), { code: 'invalid-key' });
  });

  it('latest moves only after a complete checkpoint; a failed write leaves it on the previous one', async () => {
    const store = createMemoryStore();
    assert.equal(await openLatestCheckpoint(store, 'job-1'), undefined);
    await writeEpoch(store, 1);
    const failing = saveCheckpoint(store, {
      jobId: 'job-1',
      epoch: 2,
      write: async (folder) => {
        await folder.put('state.json', bytes('{"epoch":2}'));
        throw new Error('crash mid-checkpoint');
      },
    });
    await assert.rejects(failing, /crash mid-checkpoint/);
    const latest = await openLatestCheckpoint(store, 'job-1');
    assert.ok(latest);
    assert.equal(latest.pointer.folder, 'jobs/job-1/checkpoints/epoch-0001');
    assert.deepEqual(latest.pointer.data, { robustAccuracy: 0.1, epoch: 1 });
    assert.equal(text(await latest.folder.store.child('target').get('model.json')), 'model 1');
    const stored = JSON.parse(text(await store.get('jobs/job-1/latest.json')));
    assert.equal(stored.folder, 'checkpoints/epoch-0001', 'stored relative to the pointer, so a job folder can move');

    await writeEpoch(store, 2);
    const next = await openLatestCheckpoint(store, 'job-1');
    assert.equal(next?.pointer.folder, 'jobs/job-1/checkpoints/epoch-0002');
    assert.equal(text(await next!.folder.get('optimizer')), 'momentum 2');
  });

  it('prunes old checkpoint folders, manifest first, keeping the ones asked for', async () => {
    const store = createMemoryStore();
    for (const epoch of [1, 2, 3]) await writeEpoch(store, epoch);
    const p = jobPaths('job-1');
    const deleted = await pruneCheckpoints(store, 'job-1', [p.checkpoint(3), p.checkpoint(1)]);
    assert.deepEqual(deleted, [p.checkpoint(2)]);
    assert.deepEqual(await store.list(`${p.checkpoint(2)}/`), []);
    await readVerified(store, p.checkpoint(1));
  });

  it('rejects pointers to folders outside their own folder, and reads junk as corrupt', async () => {
    const store = createMemoryStore();
    const w = await startManifest(store, 'elsewhere/f');
    const commit = await w.commit();
    await assert.rejects(writePointer(store, 'jobs/j/latest.json', commit), isCode('invalid-key'));
    await store.put('jobs/j/latest.json', bytes('{"version":1,"folder":"x"}'));
    await assert.rejects(readPointer(store, 'jobs/j/latest.json'), isCode('corrupt'));
    assert.equal(await readPointer(store, 'jobs/none/latest.json'), undefined);
  });
});
