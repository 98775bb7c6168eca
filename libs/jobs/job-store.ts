/**
 * The job store: job records and their progress events in SQLite (better-sqlite3, WAL journal), so
 * jobs and their event streams survive restarts.
 *
 * Every state change writes the record and a `state` event in one transaction; every event takes
 * the job's next sequence number in the same transaction as the record's `last_sequence`, so the
 * events of a job are contiguous from 1 and a watcher can resume after any sequence number without
 * loss. Listeners (`subscribe`) are told after the commit; they are a wake-up call, the database is
 * the truth (`events(id, after)`).
 *
 * One process writes a database file (the service that owns the jobs, ARCHITECTURE.md "Jobs");
 * better-sqlite3 is synchronous, so every method is atomic with respect to the others.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { JobError } from './errors.js';
import { decodePageToken, encodePageToken, pageSize } from './page-token.js';
import { isFinal, JOB_STATES, TRANSITIONS, type JobEvent, type JobProgress, type JobRecord, type JobState } from './types.js';

export interface JobStoreOptions {
  /** Database file, or `:memory:`. Its folder is created. */
  path: string;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

export interface CreateJobInput<Spec> {
  kind: string;
  spec: Spec;
  /** Idempotency key: a second create with the same kind and key returns the first job. */
  requestId?: string | undefined;
  /** @default a random UUID */
  id?: string;
  /** Who asked for the job (a caller id), kept with it so per-caller limits survive a restart. */
  owner?: string;
  /**
   * Called inside the creating transaction with the kind's current counts and how many QUEUED jobs
   * of this kind `owner` has (0 without one), before the insert; throw (e.g. `resource-exhausted`)
   * to refuse the job. Not called for an idempotent repeat.
   */
  admit?: (counts: Record<JobState, number>, ownerQueued: number) => void;
}

export interface ListJobsInput {
  kind: string;
  state?: JobState | undefined;
  /** 0 or absent: 50; at most 500. */
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

export interface TransitionInput {
  /** Stored on the state event (and as the error message for FAILED without `error`). */
  message?: string;
  /** For FAILED. */
  error?: { code: string; message: string };
  /** Merged into the job's outputs in the same transaction. */
  outputs?: Record<string, unknown>;
}

export type EventListener = (event: JobEvent) => void;

export interface JobStore {
  readonly path: string;
  /** Creates a QUEUED job (with its first event), or returns the job an earlier call with the same `requestId` created. */
  create<Spec>(input: CreateJobInput<Spec>): { job: JobRecord<Spec>; created: boolean };
  /** The job, or `undefined`. */
  find<Spec = unknown>(id: string, kind?: string): JobRecord<Spec> | undefined;
  /** The job; `not-found` when there is none (of that kind). */
  get<Spec = unknown>(id: string, kind?: string): JobRecord<Spec>;
  /** Newest first, a page at a time. */
  list<Spec = unknown>(input: ListJobsInput): { jobs: JobRecord<Spec>[]; nextPageToken: string };
  /** Jobs of a kind in one state, oldest first (runners: what to resume, what to start next). */
  inState<Spec = unknown>(kind: string, state: JobState, limit?: number): JobRecord<Spec>[];
  counts(kind: string): Record<JobState, number>;
  /** Moves a job to `to` (checked against `TRANSITIONS`) and appends its `state` event. */
  transition(id: string, to: JobState, input?: TransitionInput): JobRecord;
  /** Appends an event (the next sequence number) and returns it. Final jobs take no events. */
  append(id: string, type: string, data: Record<string, unknown>): JobEvent;
  /** Events with a sequence number greater than `after`, in order; at most `limit`. */
  events(id: string, after?: number, limit?: number): JobEvent[];
  setProgress(id: string, progress: JobProgress): void;
  setOutputs(id: string, outputs: Record<string, unknown>): void;
  /** Marks a RUNNING job as being cancelled; returns it. */
  markCancelRequested(id: string): JobRecord;
  /** Counts a start by a runner (attempts + 1, started_at on the first). */
  markStarted(id: string): JobRecord;
  /** Calls `listener` after each committed event of job `id` (`'*'`: of every job). @returns unsubscribe */
  subscribe(id: string, listener: EventListener): () => void;
  close(): void;
}

interface JobRow {
  seq: number;
  id: string;
  kind: string;
  request_id: string | null;
  state: string;
  spec: string;
  outputs: string;
  progress: string;
  error_code: string | null;
  error_message: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  updated_at: number;
  last_sequence: number;
  cancel_requested: number;
  attempts: number;
}

interface EventRow {
  job_id: string;
  sequence: number;
  time: number;
  type: string;
  data: string;
}

/** 2: jobs.owner (version-1 databases gain the column, NULL for their jobs). */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  request_id TEXT,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  outputs TEXT NOT NULL DEFAULT '{}',
  progress TEXT NOT NULL DEFAULT '{}',
  error_code TEXT,
  error_message TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  updated_at INTEGER NOT NULL,
  last_sequence INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  UNIQUE (kind, request_id)
);
CREATE INDEX IF NOT EXISTS jobs_kind_state ON jobs (kind, state, seq);
CREATE INDEX IF NOT EXISTS jobs_kind_seq ON jobs (kind, seq);
CREATE TABLE IF NOT EXISTS job_events (
  job_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (job_id, sequence)
) WITHOUT ROWID;
`;

/** Ids and request ids: printable, no separators a store key or a log line would trip on. */
const ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function checkId(field: string, value: string): string {
  if (typeof value !== 'string' || !ID.test(value)) {
    throw new JobError('invalid-argument', `${field}: must be 1 to 128 letters, digits, ".", "_", ":" or "-"; got ${JSON.stringify(String(value).slice(0, 64))}`, { field });
  }
  return value;
}

function zeroCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
}

function toRecord<Spec>(row: JobRow): JobRecord<Spec> {
  return {
    id: row.id,
    kind: row.kind,
    requestId: row.request_id,
    state: row.state as JobState,
    spec: JSON.parse(row.spec) as Spec,
    outputs: JSON.parse(row.outputs) as Record<string, unknown>,
    progress: JSON.parse(row.progress) as JobProgress,
    error: row.error_code !== null ? { code: row.error_code, message: row.error_message ?? '' } : null,
    createdAt: new Date(row.created_at),
    startedAt: row.started_at === null ? null : new Date(row.started_at),
    endedAt: row.ended_at === null ? null : new Date(row.ended_at),
    updatedAt: new Date(row.updated_at),
    lastSequence: row.last_sequence,
    cancelRequested: row.cancel_requested === 1,
    attempts: row.attempts,
  };
}

function toEvent(row: EventRow): JobEvent {
  return { jobId: row.job_id, sequence: row.sequence, time: new Date(row.time), type: row.type, data: JSON.parse(row.data) as Record<string, unknown> };
}

/** Stable JSON (sorted keys) for comparing a repeated request with the first one. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

/** Opens (creating when needed) the job database at `options.path`, in WAL mode. */
export function createJobStore(options: JobStoreOptions): JobStore {
  const now = options.now ?? Date.now;
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a killed process (not a power cut), at a fraction of FULL's fsyncs.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new JobError('failed-precondition', `${options.path} holds job schema version ${version}; this build reads ${SCHEMA_VERSION}`);
  }
  db.exec(SCHEMA);
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(jobs)').all();
  if (!columns.some((c) => c.name === 'owner')) db.exec('ALTER TABLE jobs ADD COLUMN owner TEXT');
  db.exec('CREATE INDEX IF NOT EXISTS jobs_kind_owner_state ON jobs (kind, owner, state)');
  db.pragma(`user_version = ${SCHEMA_VERSION}`);

  const q = {
    byId: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
    byRequest: db.prepare<[string, string], JobRow>('SELECT * FROM jobs WHERE kind = ? AND request_id = ?'),
    insert: db.prepare(
      `INSERT INTO jobs (id, kind, request_id, state, spec, owner, created_at, updated_at) VALUES (@id, @kind, @requestId, 'QUEUED', @spec, @owner, @now, @now)`,
    ),
    counts: db.prepare<[string], { state: string; n: number }>('SELECT state, COUNT(*) AS n FROM jobs WHERE kind = ? GROUP BY state'),
    ownerQueued: db.prepare<[string, string], { n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE kind = ? AND owner = ? AND state = 'QUEUED'"),
    inState: db.prepare<[string, string, number], JobRow>('SELECT * FROM jobs WHERE kind = ? AND state = ? ORDER BY seq LIMIT ?'),
    nextSeq: db.prepare<[number, string], { last_sequence: number }>(
      'UPDATE jobs SET last_sequence = last_sequence + 1, updated_at = ? WHERE id = ? RETURNING last_sequence',
    ),
    insertEvent: db.prepare('INSERT INTO job_events (job_id, sequence, time, type, data) VALUES (?, ?, ?, ?, ?)'),
    events: db.prepare<[string, number, number], EventRow>('SELECT * FROM job_events WHERE job_id = ? AND sequence > ? ORDER BY sequence LIMIT ?'),
    setState: db.prepare(
      `UPDATE jobs SET state = @state, updated_at = @now,
         ended_at = CASE WHEN @final = 1 THEN @now ELSE ended_at END,
         error_code = COALESCE(@errorCode, error_code), error_message = COALESCE(@errorMessage, error_message)
       WHERE id = @id`,
    ),
    setProgress: db.prepare('UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ?'),
    setOutputs: db.prepare('UPDATE jobs SET outputs = ?, updated_at = ? WHERE id = ?'),
    cancel: db.prepare('UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?'),
    started: db.prepare('UPDATE jobs SET attempts = attempts + 1, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ?'),
    page: db.prepare<[string, number, number], JobRow>('SELECT * FROM jobs WHERE kind = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
    pageInState: db.prepare<[string, string, number, number], JobRow>(
      'SELECT * FROM jobs WHERE kind = ? AND state = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
  };

  const listeners = new Map<string, Set<EventListener>>();
  let pendingNotifications: JobEvent[] = [];

  function notify(): void {
    const batch = pendingNotifications;
    pendingNotifications = [];
    for (const event of batch) {
      for (const key of [event.jobId, '*']) {
        for (const listener of listeners.get(key) ?? []) {
          try {
            listener(event);
          } catch {
            // A listener's failure is its own; the event is committed either way.
          }
        }
      }
    }
  }

  /** Runs `fn` in a transaction, then tells listeners about the events it committed. */
  function tx<T>(fn: () => T): T {
    let result: T;
    try {
      result = db.transaction(fn).immediate();
    } catch (error) {
      pendingNotifications = [];
      throw error;
    }
    notify();
    return result;
  }

  function row(id: string, kind?: string): JobRow {
    const r = q.byId.get(id);
    if (!r || (kind !== undefined && r.kind !== kind)) throw new JobError('not-found', `job_id: no job "${id}"`, { field: 'job_id' });
    return r;
  }

  function appendRow(id: string, type: string, data: Record<string, unknown>): JobEvent {
    const t = now();
    const next = q.nextSeq.get(t, id);
    if (!next) throw new JobError('not-found', `job_id: no job "${id}"`, { field: 'job_id' });
    q.insertEvent.run(id, next.last_sequence, t, type, JSON.stringify(data));
    const event: JobEvent = { jobId: id, sequence: next.last_sequence, time: new Date(t), type, data };
    pendingNotifications.push(event);
    return event;
  }

  function counts(kind: string): Record<JobState, number> {
    const out = zeroCounts();
    for (const { state, n } of q.counts.all(kind)) out[state as JobState] = n;
    return out;
  }

  return {
    path: options.path,

    create<Spec>(input: CreateJobInput<Spec>) {
      const requestId = input.requestId ? checkId('request_id', input.requestId) : null;
      const id = input.id ? checkId('job_id', input.id) : randomUUID();
      const spec = JSON.stringify(input.spec);
      return tx(() => {
        if (requestId !== null) {
          const existing = q.byRequest.get(input.kind, requestId);
          if (existing) {
            if (canonical(JSON.parse(existing.spec)) !== canonical(input.spec)) {
              throw new JobError('conflict', `request_id: "${requestId}" was already used for a different request (job ${existing.id})`, { field: 'request_id' });
            }
            return { job: toRecord<Spec>(existing), created: false };
          }
        }
        input.admit?.(counts(input.kind), input.owner === undefined ? 0 : q.ownerQueued.get(input.kind, input.owner)!.n);
        q.insert.run({ id, kind: input.kind, requestId, spec, owner: input.owner ?? null, now: now() });
        appendRow(id, 'state', { state: 'QUEUED' });
        return { job: toRecord<Spec>(row(id)), created: true };
      });
    },

    find<Spec>(id: string, kind?: string) {
      const r = q.byId.get(id);
      return r && (kind === undefined || r.kind === kind) ? toRecord<Spec>(r) : undefined;
    },

    get<Spec>(id: string, kind?: string) {
      return toRecord<Spec>(row(id, kind));
    },

    list<Spec>(input: ListJobsInput) {
      const size = pageSize(input.pageSize);
      const filter = `${input.kind}|${input.state ?? ''}`;
      const token = decodePageToken(input.pageToken, filter);
      const before = token?.before ?? Number.MAX_SAFE_INTEGER;
      const rows = input.state ? q.pageInState.all(input.kind, input.state, before, size + 1) : q.page.all(input.kind, before, size + 1);
      const page = rows.slice(0, size);
      const more = rows.length > size;
      return { jobs: page.map((r) => toRecord<Spec>(r)), nextPageToken: more ? encodePageToken(page[page.length - 1].seq, filter) : '' };
    },

    inState<Spec>(kind: string, state: JobState, limit = 1_000_000) {
      return q.inState.all(kind, state, limit).map((r) => toRecord<Spec>(r));
    },

    counts,

    transition(id, to, input = {}) {
      return tx(() => {
        const current = row(id);
        const from = current.state as JobState;
        if (!TRANSITIONS[from].includes(to)) {
          throw new JobError('failed-precondition', `job_id: job ${id} is ${from}; it cannot become ${to}`, { field: 'job_id' });
        }
        const error = to === 'FAILED' ? (input.error ?? { code: 'internal', message: input.message ?? 'the job failed' }) : undefined;
        q.setState.run({ id, state: to, now: now(), final: isFinal(to) ? 1 : 0, errorCode: error?.code ?? null, errorMessage: error?.message ?? null });
        if (input.outputs) q.setOutputs.run(JSON.stringify({ ...(JSON.parse(current.outputs) as object), ...input.outputs }), now(), id);
        const message = error?.message ?? input.message;
        appendRow(id, 'state', { state: to, ...(message ? { message } : {}), ...(error ? { code: error.code } : {}) });
        return toRecord(row(id));
      });
    },

    append(id, type, data) {
      return tx(() => {
        const current = row(id);
        if (isFinal(current.state as JobState)) {
          throw new JobError('failed-precondition', `job_id: job ${id} is ${current.state}; it takes no more events`, { field: 'job_id' });
        }
        return appendRow(id, type, data);
      });
    },

    events(id, after = 0, limit = 10_000) {
      return q.events.all(id, after, limit).map(toEvent);
    },

    setProgress(id, progress) {
      q.setProgress.run(JSON.stringify(progress), now(), id);
    },

    setOutputs(id, outputs) {
      tx(() => {
        const current = row(id);
        q.setOutputs.run(JSON.stringify({ ...(JSON.parse(current.outputs) as object), ...outputs }), now(), id);
      });
    },

    markCancelRequested(id) {
      return tx(() => {
        row(id);
        q.cancel.run(now(), id);
        return toRecord(row(id));
      });
    },

    markStarted(id) {
      return tx(() => {
        row(id);
        const t = now();
        q.started.run(t, t, id);
        return toRecord(row(id));
      });
    },

    subscribe(id, listener) {
      let set = listeners.get(id);
      if (!set) listeners.set(id, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0 && listeners.get(id) === set) listeners.delete(id);
      };
    },

    close() {
      listeners.clear();
      if (db.open) db.close();
    },
  };
}
