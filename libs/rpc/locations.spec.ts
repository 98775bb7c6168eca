import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseStoreUri } from '../storage/index.js';
import { RequestError } from './errors.js';
import { confinedLocations, OPEN_LOCATIONS } from './locations.js';

const allows = (policy: ReturnType<typeof confinedLocations>, uri: string): boolean => {
  try {
    policy.check('model_uri', parseStoreUri(uri));
    return true;
  } catch (error) {
    assert.ok(error instanceof RequestError && error.code === 'permission-denied', String(error));
    assert.ok(error.message.startsWith('model_uri: '));
    return false;
  }
};

describe('confinedLocations', () => {
  it('matches file locations by whole path segments, after resolving ..', () => {
    const policy = confinedLocations(['file:///srv/models', '/data/sets/']);
    assert.deepEqual(policy.allowed, ['file:///srv/models', 'file:///data/sets']);
    for (const uri of ['file:///srv/models', 'file:///srv/models/a', 'file:///srv/models/a/b/', '/data/sets/cifar', 'file:///srv/models/x/../y']) assert.ok(allows(policy, uri), uri);
    for (const uri of ['file:///srv/models-old/a', 'file:///srv', 'file:///srv/models/../secrets', '/etc/passwd', 's3://srv/models/a']) assert.ok(!allows(policy, uri), uri);
  });

  it('matches s3 locations by bucket and key prefix at a / boundary', () => {
    const policy = confinedLocations(['s3://models/team-a', 's3://open']);
    for (const uri of ['s3://models/team-a', 's3://models/team-a/m1', 's3://open/any/thing']) assert.ok(allows(policy, uri), uri);
    for (const uri of ['s3://models/team-ab/m1', 's3://models/team-b/m1', 's3://models', 's3://other/team-a', 'file:///models/team-a']) assert.ok(!allows(policy, uri), uri);
  });

  it('follows symlinks that exist: a link inside the root to a folder outside is refused', () => {
    const root = mkdtempSync(join(tmpdir(), 'harden-loc-'));
    const outside = mkdtempSync(join(tmpdir(), 'harden-loc-out-'));
    mkdirSync(join(root, 'inside'));
    symlinkSync(outside, join(root, 'out'));
    symlinkSync(join(root, 'inside'), join(root, 'in'));
    const policy = confinedLocations([root]);
    assert.ok(allows(policy, join(root, 'inside')));
    assert.ok(allows(policy, join(root, 'in')), 'a link that stays inside');
    assert.ok(!allows(policy, join(root, 'out')));
    assert.ok(!allows(policy, join(root, 'out', 'not-yet', 'model')), 'a path that does not exist yet, under a link out');
    assert.ok(allows(policy, join(root, 'inside', 'not-yet')), 'a path that does not exist yet, inside');
  });

  it('names a bad root for the operator', () => {
    assert.throws(() => confinedLocations(['ftp://x']), /allowed location "ftp:\/\/x": unsupported store URI scheme/);
  });

  it('OPEN_LOCATIONS allows anything', () => {
    OPEN_LOCATIONS.check('model_uri', parseStoreUri('file:///etc'));
    assert.equal(OPEN_LOCATIONS.allowed, undefined);
  });
});
