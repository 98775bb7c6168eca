import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientTokenFromText, createAuthenticator, parseTokenFile, roleAllows, roleNeeded } from './index.js';
import { hostOf } from './auth.js';

describe('auth', () => {
  it('parses token files: ROLE TOKEN [NAME], comments, no worker lines, no short tokens', () => {
    assert.deepEqual(parseTokenFile('# tokens\nread aaaaaaaaaaaaaaaa viewer\n\nsubmit bbbbbbbbbbbbbbbb # ci\n'), [
      { role: 'read', token: 'aaaaaaaaaaaaaaaa', name: 'viewer' },
      { role: 'submit', token: 'bbbbbbbbbbbbbbbb' },
    ]);
    assert.throws(() => parseTokenFile('admin aaaaaaaaaaaaaaaa'), /line 1: the role must be one of read, submit, worker/);
    assert.throws(() => parseTokenFile('worker aaaaaaaaaaaaaaaa'), /minted per job/);
    assert.throws(() => parseTokenFile('read short'), /at least 16 characters/);
  });

  it('reads a client token from a bare token or a ROLE TOKEN line', () => {
    assert.equal(clientTokenFromText('\n  abc123  \n'), 'abc123');
    assert.equal(clientTokenFromText('submit abcdefabcdefabcdef ci\n'), 'abcdefabcdefabcdef');
  });

  it('identifies tokens and per-job worker tokens; refuses others', () => {
    const a = createAuthenticator({ tokens: [{ role: 'read', token: 'r'.repeat(20), name: 'viewer' }] });
    assert.equal(a.required, true);
    assert.deepEqual(a.identify(`Bearer ${'r'.repeat(20)}`, undefined).caller, { id: 'viewer', role: 'read', via: 'token' });
    assert.equal(a.identify('Bearer nope', undefined).caller, undefined);
    assert.match(a.identify('Basic x', undefined).refused ?? '', /Bearer/);
    const w = a.identify(`Bearer ${a.workerToken('job:1')}`, undefined).caller;
    assert.deepEqual(w, { id: 'worker:job:1', role: 'worker', via: 'worker-token', jobId: 'job:1' });
    // Another server's key: not valid here.
    assert.equal(a.identify(`Bearer ${createAuthenticator().workerToken('job:1')}`, undefined).caller, undefined);
    assert.equal(a.identify(`Bearer ${a.internalToken}`, undefined).caller?.role, 'submit');
    assert.equal(createAuthenticator().required, false);
  });

  it('maps RPCs to roles and roles to what they allow', () => {
    assert.equal(roleNeeded('grpc.health.v1.Health', 'Check'), 'none');
    assert.equal(roleNeeded('robustness.v1.HardeningService', 'Harden'), 'submit');
    assert.equal(roleNeeded('robustness.v1.HardeningService', 'GetJob'), 'read');
    assert.equal(roleNeeded('robustness.v1.JobWorkerService', 'FinishWork'), 'worker');
    assert.equal(roleAllows('submit', 'read'), true);
    assert.equal(roleAllows('read', 'submit'), false);
    assert.equal(roleAllows('submit', 'worker'), false);
    assert.equal(roleAllows('worker', 'read'), false);
  });

  it('checks Host names without their port', () => {
    assert.equal(hostOf('LocalHost:50051'), 'localhost');
    assert.equal(hostOf('[::1]:80'), '::1');
    assert.equal(hostOf('::1'), '::1');
    const a = createAuthenticator({ allowedHosts: ['localhost', '127.0.0.1'] });
    assert.equal(a.hostAllowed('127.0.0.1:9'), true);
    assert.equal(a.hostAllowed('evil.example'), false);
    assert.equal(a.hostAllowed(undefined), false);
    assert.equal(createAuthenticator().hostAllowed('anything'), true);
  });
});
