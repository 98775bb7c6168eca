/**
 * Where an evaluation's results live in the artifact store, and how they become its report:
 *
 * - `reports/<id>/report.json` (+ `report.html`): the report (what GetReport and `harden gate` read).
 * - `reports/<id>/shards/<index>.json`: a sharded evaluation's per-shard results (libs/evaluation
 *   `EvaluationShard`), written by the shard workers, merged by the evaluation service once every
 *   shard is in. They stay beside the report, so a report can be checked against its shards.
 */
import { openStore, StorageError, type ArtifactStore } from '../storage/index.js';
import { traceStore } from '../telemetry/index.js';
import { EvaluationError } from './errors.js';
import type { EvaluationJobSpec } from './evaluate-task.js';
import { writeReportHtml } from './report-html.js';
import { writeReport } from './report-store.js';
import type { RobustnessReport } from './report.js';
import { assembleReport, validateShard, type EvaluationShard } from './shard.js';

/** What an evaluation returns: where its report is, and the report without its example images. */
export interface PublishedReport {
  reportUri: string;
  summary: Omit<RobustnessReport, 'examples'>;
}

/** Where a report lives in the store. */
export function reportFolder(reportId: string): string {
  return `reports/${reportId}`;
}

/** The key of shard `index`'s results, below the report's folder. */
export function shardKey(index: number): string {
  return `shards/${index}.json`;
}

function folder(storeUri: string, reportId: string): ArtifactStore {
  return traceStore(openStore(storeUri)).child(reportFolder(reportId));
}

/** Where shard `index`'s results are. */
export function shardUri(storeUri: string, reportId: string, index: number): string {
  return `${openStore(storeUri).child(reportFolder(reportId)).uri}/${shardKey(index)}`;
}

/** Writes one shard's results; returns their URI. */
export async function writeShard(storeUri: string, shard: EvaluationShard): Promise<string> {
  await folder(storeUri, shard.id).put(shardKey(shard.shard.index), new TextEncoder().encode(JSON.stringify(shard)));
  return shardUri(storeUri, shard.id, shard.shard.index);
}

/** Shard `index`'s results if they are in the store (a retried pod may find its shard done), else undefined. */
export async function readShard(storeUri: string, reportId: string, index: number): Promise<EvaluationShard | undefined> {
  const store = folder(storeUri, reportId);
  const key = shardKey(index);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key);
  } catch (error) {
    if (error instanceof StorageError && error.code === 'not-found') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new EvaluationError('bad-shard', `${store.uri}/${key} is not valid JSON`);
  }
  return validateShard(parsed, `${store.uri}/${key}`);
}

/** Reads shards `0 … count − 1`; a missing one is `bad-shard` naming it. */
export async function readShards(storeUri: string, reportId: string, count: number): Promise<EvaluationShard[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const shard = await readShard(storeUri, reportId, index);
      if (!shard) throw new EvaluationError('bad-shard', `shard ${index} of ${count}: its results are missing from the store (${reportFolder(reportId)}/${shardKey(index)})`);
      return shard;
    }),
  );
}

/** Adds the training curve (Harden jobs), writes report.html then report.json, and returns the summary. */
export async function publishReport(storeUri: string, report: RobustnessReport, spec: EvaluationJobSpec): Promise<PublishedReport> {
  if (spec.training) {
    report.training = {
      job_id: spec.training.jobId,
      method: spec.training.method,
      history: spec.training.history.map((h) => ({ epoch: h.epoch, loss: h.loss, clean_accuracy: h.cleanAccuracy, robust_accuracy: h.robustAccuracy })),
    };
  }
  const store = folder(storeUri, report.id);
  // report.html first: report.json is what readers look for, so it goes last.
  await writeReportHtml(store, report);
  const reportUri = await writeReport(store, report);
  const { examples: _examples, ...summary } = report;
  return { reportUri, summary };
}

/** Merges a sharded evaluation's shards from the store and publishes the report. */
export async function publishShardedReport(storeUri: string, reportId: string, count: number, spec: EvaluationJobSpec, seconds: number): Promise<PublishedReport> {
  const report = assembleReport(await readShards(storeUri, reportId, count), { seconds });
  return publishReport(storeUri, report, spec);
}
