/**
 * The report index: one SQLite row per robustness report (the report itself is report.json in the
 * artifact store), so GetReport and ListReports (newest first, paged, filtered by model URI) answer
 * from the database without touching the store.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { JobError } from './errors.js';
import { decodePageToken, encodePageToken, pageSize } from './page-token.js';

export interface ReportEntry<Summary = unknown> {
  id: string;
  modelUri: string;
  /** Where report.json is. */
  uri: string;
  createdAt: Date;
  /** The evaluation job that wrote it, and the Harden job that trained the model (if any). */
  evaluationId: string | null;
  jobId: string | null;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** What GetReport returns (JSON): the report without its bulky parts. */
  summary: Summary;
}

export interface ReportIndex {
  add<Summary>(entry: ReportEntry<Summary>): void;
  find<Summary = unknown>(id: string): ReportEntry<Summary> | undefined;
  /** The entry; `not-found` naming `report_id` when there is none. */
  get<Summary = unknown>(id: string): ReportEntry<Summary>;
  list<Summary = unknown>(input: { modelUri?: string | undefined; pageSize?: number | undefined; pageToken?: string | undefined }): {
    reports: ReportEntry<Summary>[];
    nextPageToken: string;
  };
  close(): void;
}

interface Row {
  seq: number;
  id: string;
  model_uri: string;
  uri: string;
  created_at: number;
  evaluation_id: string | null;
  job_id: string | null;
  clean_accuracy: number;
  robust_accuracy: number;
  summary: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS reports (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  model_uri TEXT NOT NULL,
  uri TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  evaluation_id TEXT,
  job_id TEXT,
  clean_accuracy REAL NOT NULL,
  robust_accuracy REAL NOT NULL,
  summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_model ON reports (model_uri, seq);
`;

function toEntry<Summary>(r: Row): ReportEntry<Summary> {
  return {
    id: r.id,
    modelUri: r.model_uri,
    uri: r.uri,
    createdAt: new Date(r.created_at),
    evaluationId: r.evaluation_id,
    jobId: r.job_id,
    cleanAccuracy: r.clean_accuracy,
    robustAccuracy: r.robust_accuracy,
    summary: JSON.parse(r.summary) as Summary,
  };
}

/** Opens the index in the database file `path` (the job store's file is fine: WAL, own table). */
export function createReportIndex(options: { path: string }): ReportIndex {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const q = {
    insert: db.prepare(
      `INSERT OR REPLACE INTO reports (id, model_uri, uri, created_at, evaluation_id, job_id, clean_accuracy, robust_accuracy, summary)
       VALUES (@id, @modelUri, @uri, @createdAt, @evaluationId, @jobId, @cleanAccuracy, @robustAccuracy, @summary)`,
    ),
    byId: db.prepare<[string], Row>('SELECT * FROM reports WHERE id = ?'),
    page: db.prepare<[number, number], Row>('SELECT * FROM reports WHERE seq < ? ORDER BY seq DESC LIMIT ?'),
    pageOfModel: db.prepare<[string, number, number], Row>('SELECT * FROM reports WHERE model_uri = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
  };
  return {
    add(entry) {
      q.insert.run({
        id: entry.id,
        modelUri: entry.modelUri,
        uri: entry.uri,
        createdAt: entry.createdAt.getTime(),
        evaluationId: entry.evaluationId,
        jobId: entry.jobId,
        cleanAccuracy: entry.cleanAccuracy,
        robustAccuracy: entry.robustAccuracy,
        summary: JSON.stringify(entry.summary),
      });
    },
    find<Summary>(id: string) {
      const r = q.byId.get(id);
      return r ? toEntry<Summary>(r) : undefined;
    },
    get<Summary>(id: string) {
      const r = q.byId.get(id);
      if (!r) throw new JobError('not-found', `report_id: no report "${id}"`, { field: 'report_id' });
      return toEntry<Summary>(r);
    },
    list<Summary>(input: { modelUri?: string | undefined; pageSize?: number | undefined; pageToken?: string | undefined }) {
      const size = pageSize(input.pageSize);
      const filter = `reports|${input.modelUri ?? ''}`;
      const before = decodePageToken(input.pageToken, filter)?.before ?? Number.MAX_SAFE_INTEGER;
      const rows = input.modelUri ? q.pageOfModel.all(input.modelUri, before, size + 1) : q.page.all(before, size + 1);
      const page = rows.slice(0, size);
      return {
        reports: page.map((r) => toEntry<Summary>(r)),
        nextPageToken: rows.length > size ? encodePageToken(page[page.length - 1].seq, filter) : '',
      };
    },
    close() {
      if (db.open) db.close();
    },
  };
}
