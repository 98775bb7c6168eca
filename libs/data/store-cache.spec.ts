import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { openStore, startManifest } from '../storage/index.js';
import { DataError } from './errors.js';
import { fetchToCache } from './store-cache.js';

const temp = (name: string) => mkdtempSync(join(tmpdir(), `harden-${name}-`));
const text = (s: string) => new TextEncoder().encode(s);

describe('data set folders from the store (fetchToCache)', () => {
  it('a manifested folder: fetched once, keyed by its manifest, every file checked against it', async () => {
    const root = temp('store');
    const store = openStore(pathToFileURL(root).href);
    const w = await startManifest(store, 'data');
    await w.store.put('train/a.bin', text('alpha'));
    await w.store.put('b.bin', text('beta'));
    await w.commit();
    const cache = temp('cache');
    const uri = `${store.uri}/data`;
    const first = await fetchToCache(uri, { cacheDir: cache });
    assert.equal(readFileSync(join(first, 'train', 'a.bin'), 'utf8'), 'alpha');
    // A second load finds its copy by the manifest alone: it no longer needs the files.
    rmSync(join(root, 'data', 'b.bin'));
    assert.equal(await fetchToCache(uri, { cacheDir: cache }), first);
    // A file that does not match the manifest is refused (fresh cache).
    writeFileSync(join(root, 'data', 'b.bin'), 'BETA');
    await assert.rejects(fetchToCache(uri, { cacheDir: temp('cache') }), (e: unknown) => e instanceof DataError && e.code === 'bad-format');
  });

  it('a plain folder: hashed as fetched; the same listing reuses the copy after checking it, a damaged copy is fetched again', async () => {
    const root = temp('store');
    const store = openStore(pathToFileURL(root).href);
    await store.put('set/x/1.png', text('one'));
    await store.put('set/y/2.png', text('two'));
    const cache = temp('cache');
    const uri = `${store.uri}/set`;
    const first = await fetchToCache(uri, { cacheDir: cache });
    assert.equal(readFileSync(join(first, 'y', '2.png'), 'utf8'), 'two');
    assert.equal(await fetchToCache(uri, { cacheDir: cache }), first);
    writeFileSync(join(first, 'x', '1.png'), 'tampered');
    const again = await fetchToCache(uri, { cacheDir: cache });
    assert.equal(readFileSync(join(again, 'x', '1.png'), 'utf8'), 'one');
    // Another listing is another copy.
    await store.put('set/z/3.png', text('three'));
    assert.notEqual(await fetchToCache(uri, { cacheDir: cache }), first);
    await assert.rejects(fetchToCache(`${store.uri}/nothing`, { cacheDir: cache }), (e: unknown) => e instanceof DataError && e.code === 'not-found');
  });

  it('a plain folder whose file was replaced in place (same keys, same size): fetched again, not served stale', async () => {
    const root = temp('store');
    const store = openStore(pathToFileURL(root).href);
    await store.put('set/x/1.png', text('one'));
    const cache = temp('cache');
    const uri = `${store.uri}/set`;
    const first = await fetchToCache(uri, { cacheDir: cache });
    assert.equal(readFileSync(join(first, 'x', '1.png'), 'utf8'), 'one');
    await store.put('set/x/1.png', text('ONE'));
    const second = await fetchToCache(uri, { cacheDir: cache });
    assert.notEqual(second, first);
    assert.equal(readFileSync(join(second, 'x', '1.png'), 'utf8'), 'ONE');
    assert.equal(await fetchToCache(uri, { cacheDir: cache }), second, 'and reused while it stays');
  });
});
