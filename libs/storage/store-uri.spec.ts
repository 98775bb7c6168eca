import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStoreUri, parseStoreUri, StorageError } from './index.js';

describe('parseStoreUri', () => {
  it('parses file:///abs/dir, decoding escapes and dropping a trailing slash', () => {
    assert.deepEqual(parseStoreUri('file:///srv/harden/'), { scheme: 'file', path: '/srv/harden' });
    assert.deepEqual(parseStoreUri('file:///srv/a%20b'), { scheme: 'file', path: '/srv/a b' });
    assert.deepEqual(parseStoreUri('file://localhost/srv'), { scheme: 'file', path: '/srv' });
  });

  it('resolves plain paths against the working directory, and defaults to ./.harden/', () => {
    assert.deepEqual(parseStoreUri('runs/x', '/work'), { scheme: 'file', path: '/work/runs/x' });
    assert.deepEqual(parseStoreUri('/abs', '/work'), { scheme: 'file', path: '/abs' });
    assert.deepEqual(parseStoreUri(undefined, '/work'), { scheme: 'file', path: '/work/.harden' });
    assert.deepEqual(parseStoreUri('', '/work'), { scheme: 'file', path: '/work/.harden' });
  });

  it('parses s3://bucket/prefix', () => {
    assert.deepEqual(parseStoreUri('s3://models/runs/a/'), { scheme: 's3', bucket: 'models', prefix: 'runs/a' });
    assert.deepEqual(parseStoreUri('s3://models'), { scheme: 's3', bucket: 'models', prefix: '' });
  });

  it('rejects malformed URIs and unknown schemes with typed errors', () => {
    const code = (uri: string) => {
      try {
        parseStoreUri(uri);
      } catch (err) {
        assert.ok(err instanceof StorageError);
        assert.match(err.message, new RegExp(uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
        return err.code;
      }
      return 'ok';
    };
    assert.equal(code('file:relative/dir'), 'invalid-uri');
    assert.equal(code('file://otherhost/dir'), 'invalid-uri');
    assert.equal(code('s3://'), 'invalid-uri');
    assert.equal(code('s3://bucket/a/../b'), 'invalid-uri');
    assert.equal(code('gs://bucket/x'), 'unsupported-scheme');
  });

  it('formats canonical URIs', () => {
    assert.equal(formatStoreUri({ scheme: 'file', path: '/srv/a b' }), 'file:///srv/a%20b');
    assert.equal(formatStoreUri({ scheme: 's3', bucket: 'm', prefix: 'p/q' }), 's3://m/p/q');
    assert.equal(formatStoreUri({ scheme: 's3', bucket: 'm', prefix: '' }), 's3://m');
  });
});
