import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { JobError, JobFailure, RemoteError } from '../jobs/index.js';
import { StorageError } from '../storage/index.js';
import { TrainingError } from '../training/index.js';
import { AttackError } from '../attacks/index.js';
import { ModelError } from '../models/index.js';
import { jobErrorCode, describeFailure, invalidField, RequestError, toConnectError } from './index.js';

describe('toConnectError', () => {
  it('maps typed domain errors to their codes and keeps request-fault messages', () => {
    const cases: Array<[unknown, Code, string | RegExp]> = [
      [invalidField('eps', 'must be in (0, 1]; got 2'), Code.InvalidArgument, 'eps: must be in (0, 1]; got 2'],
      [new RequestError('not-found', 'model_uri: no model at file:///m'), Code.NotFound, 'model_uri: no model at file:///m'],
      [new JobError('resource-exhausted', 'the job queue is full'), Code.ResourceExhausted, 'the job queue is full'],
      [new JobError('conflict', 'request_id: reused'), Code.AlreadyExists, 'request_id: reused'],
      [new JobError('failed-precondition', 'job_id: already SUCCEEDED'), Code.FailedPrecondition, 'job_id: already SUCCEEDED'],
      [new JobError('unavailable', 'shutting down'), Code.Unavailable, 'shutting down'],
      [new TrainingError('invalid-argument', 'batchSize: too large', { field: 'batchSize' }), Code.InvalidArgument, 'batchSize: too large'],
      [new AttackError('unsupported', 'cag: L2 is not supported'), Code.InvalidArgument, 'cag: L2 is not supported'],
      [new AttackError('aborted', 'attack aborted'), Code.Canceled, 'the attack was stopped'],
      [new ModelError('not-found', 'no model.json at file:///srv/secret/path'), Code.NotFound, /^model not found/],
      [new RemoteError('ModelError', 'no model.json at file:///srv/secret/path', 'not-found'), Code.NotFound, /^model not found/],
      [new RemoteError('TrainingError', 'epochs: bad', 'invalid-argument', 'epochs'), Code.InvalidArgument, 'epochs: bad'],
    ];
    for (const [error, code, message] of cases) {
      const c = toConnectError(error);
      assert.equal(c.code, code, `${(error as Error).name}: ${Code[c.code]}`);
      if (typeof message === 'string') assert.equal(c.rawMessage, message);
      else assert.match(c.rawMessage, message);
      assert.equal(c.cause, error, 'the original stays as the cause, for the logs');
    }
  });

  it('never shows storage, engine or unknown errors, nor stack traces', () => {
    const secret = new StorageError('access-denied', 'AccessDenied on s3://bucket/key with key AKIA…');
    for (const error of [secret, new StorageError('io', 'EIO /var/lib/harden/x'), new Error('TypeError at foo.js:12'), new TrainingError('io', 'disk /x'), 'a string', undefined]) {
      const c = toConnectError(error);
      assert.ok([Code.Internal, Code.Unavailable].includes(c.code));
      assert.doesNotMatch(c.rawMessage, /AKIA|\/var\/lib|foo\.js|disk|bucket/);
    }
    const multiLine = toConnectError(invalidField('x', 'first line\n    at secret (file.js:1:1)'));
    assert.equal(multiLine.rawMessage, 'x: first line');
  });

  it('passes ConnectErrors through, except INTERNAL and UNKNOWN ones lose their message', () => {
    const deadline = new ConnectError('deadline exceeded', Code.DeadlineExceeded);
    assert.equal(toConnectError(deadline), deadline);
    assert.equal(toConnectError(new ConnectError('db at /x', Code.Internal)).rawMessage, 'internal error');
  });

  it('describes job failures with the same table, as lower-case codes', () => {
    assert.deepEqual(describeFailure(new JobFailure('evaluation-failed', 'evaluation e1 ended FAILED')), { code: 'evaluation-failed', message: 'evaluation e1 ended FAILED' });
    assert.deepEqual(describeFailure(new RemoteError('DataError', 'no such file /data/x', 'not-found')), { code: 'not-found', message: 'data set not found: its files are missing on the server' });
    assert.deepEqual(describeFailure(new Error('boom')), { code: 'internal', message: 'internal error' });
    assert.equal(jobErrorCode(Code.ResourceExhausted), 'resource-exhausted');
  });
});
