/**
 * Reading and writing reports through an ArtifactStore: `report.json` (and, for people, `report.html`
 * where a renderer is given). Reads validate the shape, so a gate or a service never acts on a
 * malformed report.
 */
import type { ArtifactStore } from '../storage/index.js';
import { StorageError } from '../storage/index.js';
import { EvaluationError } from './errors.js';
import { REPORT_VERSION, type RobustnessReport } from './report.js';

export const REPORT_JSON = 'report.json';

export async function writeReport(store: ArtifactStore, report: RobustnessReport, key = REPORT_JSON): Promise<string> {
  await store.put(key, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`));
  return `${store.uri}/${key}`;
}

function isNumberIn01(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
}

/** Checks the fields consumers rely on; throws `bad-report` naming the first wrong one. */
export function validateReport(value: unknown, where: string): RobustnessReport {
  const bad = (field: string, what: string): never => {
    throw new EvaluationError('bad-report', `${where}: ${field} ${what}; not a harden robustness report (version ${REPORT_VERSION})`, { field });
  };
  if (!value || typeof value !== 'object') bad('the document', 'is not a JSON object');
  const r = value as Record<string, unknown>;
  if (r.version !== REPORT_VERSION) bad('version', `is ${JSON.stringify(r.version)}, expected ${REPORT_VERSION}`);
  if (!isNumberIn01(r.clean_accuracy)) bad('clean_accuracy', 'is not a number in [0, 1]');
  if (!isNumberIn01(r.robust_accuracy)) bad('robust_accuracy', 'is not a number in [0, 1]');
  if (!Array.isArray(r.attacks)) bad('attacks', 'is not a list');
  for (const [i, a] of (r.attacks as unknown[]).entries()) {
    const row = a as Record<string, unknown>;
    if (!row || typeof row.name !== 'string') bad(`attacks[${i}].name`, 'is not a string');
    if (!isNumberIn01(row.robust_accuracy)) bad(`attacks[${i}].robust_accuracy`, 'is not a number in [0, 1]');
    if (typeof row.eps !== 'number') bad(`attacks[${i}].eps`, 'is not a number');
  }
  return value as RobustnessReport;
}

export async function readReport(store: ArtifactStore, key = REPORT_JSON): Promise<RobustnessReport> {
  const where = `${store.uri}/${key}`;
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key);
  } catch (error) {
    if (error instanceof StorageError && error.code === 'not-found') throw new EvaluationError('not-found', `no report at ${where}`, { cause: error });
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new EvaluationError('bad-report', `${where} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return validateReport(parsed, where);
}
