import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createJobStore, JobError, watchEvents, type JobEvent } from './index.js';

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'jobs-')), 'jobs.sqlite');

describe('job store', () => {
  it('creates QUEUED jobs with a first event and walks the allowed transitions', () => {
    const store = createJobStore({ path: ':memory:' });
    const { job, created } = store.create({ kind: 'k', spec: { a: 1 } });
    assert.equal(created, true);
    assert.equal(job.state, 'QUEUED');
    assert.equal(job.lastSequence, 1);
    assert.deepEqual(store.events(job.id).map((e) => [e.sequence, e.type, e.data.state]), [[1, 'state', 'QUEUED']]);
    store.transition(job.id, 'RUNNING');
    store.append(job.id, 'batch', { batch: 1 });
    const done = store.transition(job.id, 'SUCCEEDED', { outputs: { modelUri: 'file:///m' } });
    assert.equal(done.state, 'SUCCEEDED');
    assert.ok(done.endedAt);
    assert.deepEqual(done.outputs, { modelUri: 'file:///m' });
    assert.deepEqual(store.events(job.id).map((e) => e.sequence), [1, 2, 3, 4]);
    assert.throws(() => store.transition(job.id, 'RUNNING'), (e: unknown) => JobError.is(e, 'failed-precondition'));
    assert.throws(() => store.append(job.id, 'batch', {}), (e: unknown) => JobError.is(e, 'failed-precondition'));
    assert.throws(() => store.transition(store.create({ kind: 'k', spec: {} }).job.id, 'SUCCEEDED'), (e: unknown) => JobError.is(e, 'failed-precondition'));
    store.close();
  });

  it('records FAILED with its error, and not-found for unknown ids or another kind', () => {
    const store = createJobStore({ path: ':memory:' });
    const { job } = store.create({ kind: 'k', spec: {} });
    store.transition(job.id, 'RUNNING');
    const failed = store.transition(job.id, 'FAILED', { error: { code: 'collapsed', message: 'one class' } });
    assert.deepEqual(failed.error, { code: 'collapsed', message: 'one class' });
    assert.deepEqual(store.events(job.id).at(-1)?.data, { state: 'FAILED', message: 'one class', code: 'collapsed' });
    assert.throws(() => store.get('nope'), (e: unknown) => JobError.is(e, 'not-found'));
    assert.throws(() => store.get(job.id, 'other'), (e: unknown) => JobError.is(e, 'not-found'));
    store.close();
  });

  it('makes request_id idempotent per kind and refuses it for a different request', () => {
    const store = createJobStore({ path: ':memory:' });
    const first = store.create({ kind: 'k', spec: { a: 1, b: [2] }, requestId: 'r-1' });
    const again = store.create({ kind: 'k', spec: { b: [2], a: 1 }, requestId: 'r-1' });
    assert.equal(again.created, false);
    assert.equal(again.job.id, first.job.id);
    assert.equal(store.create({ kind: 'other', spec: {}, requestId: 'r-1' }).created, true);
    assert.throws(() => store.create({ kind: 'k', spec: { a: 2 }, requestId: 'r-1' }), (e: unknown) => JobError.is(e, 'conflict') && e.field === 'request_id');
    assert.throws(() => store.create({ kind: 'k', spec: {}, requestId: 'bad id with spaces' }), (e: unknown) => JobError.is(e, 'invalid-argument') && e.field === 'request_id');
    store.close();
  });

  it('pages newest first with opaque tokens bound to the filter', () => {
    const store = createJobStore({ path: ':memory:' });
    const ids = Array.from({ length: 7 }, (_, i) => store.create({ kind: 'k', spec: { i } }).job.id);
    store.transition(ids[2], 'CANCELLED');
    const seen: string[] = [];
    let token = '';
    do {
      const page = store.list({ kind: 'k', pageSize: 3, pageToken: token });
      assert.ok(page.jobs.length <= 3);
      seen.push(...page.jobs.map((j) => j.id));
      token = page.nextPageToken;
    } while (token);
    assert.deepEqual(seen, [...ids].reverse());
    assert.deepEqual(store.list({ kind: 'k', state: 'CANCELLED' }).jobs.map((j) => j.id), [ids[2]]);
    const firstPage = store.list({ kind: 'k', pageSize: 2 });
    assert.throws(() => store.list({ kind: 'k', state: 'QUEUED', pageToken: firstPage.nextPageToken }), (e: unknown) => JobError.is(e, 'invalid-argument') && e.field === 'page_token');
    assert.throws(() => store.list({ kind: 'k', pageToken: 'garbage!' }), (e: unknown) => JobError.is(e, 'invalid-argument'));
    assert.throws(() => store.list({ kind: 'k', pageSize: 501 }), (e: unknown) => JobError.is(e, 'invalid-argument') && e.field === 'page_size');
    store.close();
  });

  it('keeps jobs and events across reopening the file (WAL)', () => {
    const path = tempDb();
    const a = createJobStore({ path });
    const { job } = a.create({ kind: 'k', spec: { x: 1 }, requestId: 'same' });
    a.transition(job.id, 'RUNNING');
    a.append(job.id, 'checkpoint', { epoch: 1 });
    a.close();
    const b = createJobStore({ path });
    assert.equal(b.get(job.id).state, 'RUNNING');
    assert.deepEqual(b.events(job.id, 2).map((e) => e.type), ['checkpoint']);
    assert.equal(b.create({ kind: 'k', spec: { x: 1 }, requestId: 'same' }).job.id, job.id);
    b.close();
  });

  it('counts each owner’s QUEUED jobs for admission, across reopening, and opens a version-1 database', () => {
    const path = tempDb();
    let store = createJobStore({ path });
    const seen: number[] = [];
    const admit = (_: unknown, queued: number) => void seen.push(queued);
    const a1 = store.create({ kind: 'k', spec: { n: 1 }, owner: 'alice', admit }).job;
    store.create({ kind: 'k', spec: { n: 2 }, owner: 'alice', admit });
    store.create({ kind: 'k', spec: { n: 3 }, owner: 'bob', admit });
    store.create({ kind: 'other', spec: { n: 4 }, owner: 'alice', admit });
    assert.deepEqual(seen, [0, 1, 0, 0]);
    store.transition(a1.id, 'RUNNING'); // no longer queued
    store.close();
    store = createJobStore({ path });
    store.create({ kind: 'k', spec: { n: 5 }, owner: 'alice', admit });
    assert.deepEqual(seen.at(-1), 1, 'after reopening, alice still has one queued job of kind k');
    assert.throws(() => store.create({ kind: 'k', spec: { n: 6 }, owner: 'alice', admit: (_, queued) => { if (queued >= 2) throw new JobError('resource-exhausted', 'full'); } }), (e: unknown) => JobError.is(e, 'resource-exhausted'));
    assert.equal(store.counts('k').QUEUED, 3, 'the refused job was not stored');
    store.close();

    // A database written before owners existed (schema 1): it opens, its jobs count for no one.
    const old = tempDb();
    const db = new Database(old);
    db.exec(`CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, request_id TEXT, state TEXT NOT NULL,
      spec TEXT NOT NULL, outputs TEXT NOT NULL DEFAULT '{}', progress TEXT NOT NULL DEFAULT '{}', error_code TEXT, error_message TEXT, created_at INTEGER NOT NULL,
      started_at INTEGER, ended_at INTEGER, updated_at INTEGER NOT NULL, last_sequence INTEGER NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0,
      attempts INTEGER NOT NULL DEFAULT 0, UNIQUE (kind, request_id));
      INSERT INTO jobs (id, kind, state, spec, created_at, updated_at) VALUES ('old-1', 'k', 'QUEUED', '{}', 1, 1);`);
    db.pragma('user_version = 1');
    db.close();
    store = createJobStore({ path: old });
    assert.equal(store.get('old-1').state, 'QUEUED');
    store.create({ kind: 'k', spec: {}, owner: 'alice', admit });
    assert.equal(seen.at(-1), 0);
    store.close();
  });

  it('watchEvents replays from a sequence number, follows new events and ends after the final state', async () => {
    const store = createJobStore({ path: ':memory:' });
    const { job } = store.create({ kind: 'k', spec: {} });
    store.transition(job.id, 'RUNNING');
    const seen: JobEvent[] = [];
    const watching = (async () => {
      for await (const e of watchEvents(store, job.id, { after: 1 })) seen.push(e);
    })();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 2));
      store.append(job.id, 'batch', { i });
    }
    store.transition(job.id, 'SUCCEEDED');
    await watching;
    assert.deepEqual(seen.map((e) => e.sequence), [2, 3, 4, 5, 6, 7, 8]);
    assert.equal(seen.at(-1)?.data.state, 'SUCCEEDED');
    // A reconnect after any sequence number gets exactly the rest.
    const rest: number[] = [];
    for await (const e of watchEvents(store, job.id, { after: 5 })) rest.push(e.sequence);
    assert.deepEqual(rest, [6, 7, 8]);
    await assert.rejects(async () => {
      for await (const _ of watchEvents(store, 'missing')) break;
    }, (e: unknown) => JobError.is(e, 'not-found'));
    const controller = new AbortController();
    const { job: open } = store.create({ kind: 'k', spec: {} });
    const aborted = (async () => {
      for await (const _ of watchEvents(store, open.id, { signal: controller.signal })) controller.abort(new Error('client went away'));
    })();
    await assert.rejects(aborted, /client went away/);
    store.close();
  });
});
