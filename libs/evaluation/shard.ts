/**
 * Evaluation shards: one evaluation split over slices of its data set (an Indexed Kubernetes Job's
 * pods, one slice each), and the merge of the slices' results into one `RobustnessReport`.
 *
 * A shard keeps per-sample results (label, clean prediction, each row's success and adversarial
 * prediction) and per-row counts, never accuracies alone, so the merged report is exactly what one
 * process evaluating the whole set computes: the worst case over rows is per sample, per-class
 * accuracy counts samples, stages and ε-sweep points add up their counts. Random draws of every
 * attack are keyed by the global sample index, so a slice gets the draws it would get inside the
 * whole set. `evaluateRobustness` itself is one shard of one, merged the same way.
 *
 * Shard files are JSON (`kind: harden.evaluation-shard`, snake_case like the report) and carry
 * everything that must agree across shards: `assembleReport` refuses shards of different models,
 * settings or evaluations, and a set of slices that misses or repeats a sample.
 */
import { checkBlackBoxStronger } from '../attacks/checks.js';
import { EvaluationError } from './errors.js';
import { REPORT_VERSION, type AttackRow, type ClassRow, type EpsSweepRow, type ExampleRow, type RobustnessReport } from './report.js';
import { isSuiteName, type SuiteName } from './suites.js';

export const SHARD_KIND = 'harden.evaluation-shard';
export const SHARD_VERSION = 1;

/** Slice `index` of `count` of a set of `n` samples: samples `[start, end)`. */
export interface ShardRange {
  index: number;
  count: number;
  start: number;
  end: number;
}

/** One attack row over a shard's samples. */
export interface ShardRow {
  name: string;
  attack: string;
  eps: number;
  norm: 'Linf' | 'L2';
  settings: Record<string, unknown>;
  /** Robust samples after each stage (clean first), of `n`. */
  stages: Array<{ name: string; robust: number; n: number }>;
  max_perturbation: number;
  seconds: number;
  /** Per sample: 1 where the sample is not robust to this row (misclassified, or the attack succeeded). */
  success: number[];
  /** Per sample: the predicted class of the adversarial input. */
  predictions: number[];
}

/** One ε-sweep curve over a shard's samples: robust samples of `n` at each ε. */
export interface ShardSweepRow {
  name: string;
  attack: string;
  norm: 'Linf' | 'L2';
  points: Array<{ eps: number; robust: number; n: number }>;
}

export interface EvaluationShard {
  kind: typeof SHARD_KIND;
  version: typeof SHARD_VERSION;
  /** The report (evaluation) this shard belongs to. */
  id: string;
  shard: ShardRange;
  model: RobustnessReport['model'];
  /** The whole evaluated set: `n` counts every shard's samples. */
  dataset: RobustnessReport['dataset'];
  suite: SuiteName;
  eps: number;
  norm: 'Linf' | 'L2';
  seed: number;
  /** Per sample of the slice. */
  labels: number[];
  clean_predictions: number[];
  attacks: ShardRow[];
  eps_sweep?: ShardSweepRow[];
  /** Example rows whose (global) index falls in this slice. */
  examples: ExampleRow[];
  warnings: Array<{ id: string; message: string }>;
  environment: RobustnessReport['environment'];
  seconds: number;
}

/** Balanced slices: shard `index` of `count` over `n` samples (sizes differ by at most one). */
export function shardRange(n: number, count: number, index: number): ShardRange {
  if (!Number.isSafeInteger(n) || n < 1) throw new EvaluationError('invalid-argument', `cannot shard ${n} samples`, { field: 'limit' });
  if (!Number.isSafeInteger(count) || count < 1 || count > n) {
    throw new EvaluationError('invalid-argument', `the shard count must be an integer in [1, ${n}] (one sample at least per shard); got ${count}`, { field: 'shards' });
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new EvaluationError('invalid-argument', `the shard index must be an integer in [0, ${count - 1}]; got ${index}`, { field: 'shard' });
  }
  return { index, count, start: Math.floor((index * n) / count), end: Math.floor(((index + 1) * n) / count) };
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

/** The sum of `values`. */
export function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

function bad(where: string, what: string): never {
  throw new EvaluationError('bad-shard', `${where}: ${what}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIntArray = (v: unknown, length: number): boolean => Array.isArray(v) && v.length === length && v.every((x) => Number.isInteger(x));

/** Checks a parsed shard file's structure (what the merge relies on); throws `bad-shard` naming the field. */
export function validateShard(value: unknown, where: string): EvaluationShard {
  if (!isObject(value)) bad(where, 'not a JSON object');
  if (value.kind !== SHARD_KIND) bad(where, `kind is ${JSON.stringify(value.kind)}, not ${SHARD_KIND}`);
  if (value.version !== SHARD_VERSION) bad(where, `version is ${JSON.stringify(value.version)}, expected ${SHARD_VERSION}`);
  const s = value.shard;
  if (!isObject(s) || ![s.index, s.count, s.start, s.end].every((v) => Number.isSafeInteger(v)) || !((s.start as number) < (s.end as number))) bad(where, 'shard is not a range {index, count, start, end}');
  if (!isObject(value.model) || typeof value.model.sha256 !== 'string') bad(where, 'model.sha256 is missing');
  if (!isObject(value.dataset) || !Number.isSafeInteger(value.dataset.n) || !Array.isArray(value.dataset.class_names)) bad(where, 'dataset is missing n or class_names');
  if (typeof value.suite !== 'string' || !isSuiteName(value.suite)) bad(where, `suite ${JSON.stringify(value.suite)} is unknown`);
  const size = (s.end as number) - (s.start as number);
  if (!isIntArray(value.labels, size)) bad(where, `labels is not ${size} integers`);
  if (!isIntArray(value.clean_predictions, size)) bad(where, `clean_predictions is not ${size} integers`);
  if (!Array.isArray(value.attacks)) bad(where, 'attacks is not a list');
  for (const [i, row] of (value.attacks as unknown[]).entries()) {
    if (!isObject(row) || typeof row.name !== 'string') bad(where, `attacks[${i}].name is not a string`);
    if (!isIntArray(row.success, size) || !isIntArray(row.predictions, size)) bad(where, `attacks[${i}] (${row.name}) does not have ${size} per-sample results`);
    if (!Array.isArray(row.stages)) bad(where, `attacks[${i}].stages is not a list`);
  }
  if (!Array.isArray(value.examples) || !Array.isArray(value.warnings) || !isObject(value.environment)) bad(where, 'examples, warnings or environment is missing');
  return value as unknown as EvaluationShard;
}

/** What must be equal in every shard of one evaluation. */
function fingerprint(s: EvaluationShard): string {
  return JSON.stringify({
    id: s.id,
    count: s.shard.count,
    sha256: s.model.sha256,
    dataset: [s.dataset.spec, s.dataset.split, s.dataset.n],
    suite: s.suite,
    eps: s.eps,
    norm: s.norm,
    seed: s.seed,
    rows: s.attacks.map((r) => [r.name, r.attack, r.eps, r.norm]),
    sweep: (s.eps_sweep ?? []).map((r) => [r.name, r.points.map((p) => p.eps)]),
  });
}

/** Names what differs between two shards, for the error message. */
function difference(a: EvaluationShard, b: EvaluationShard): string {
  if (a.id !== b.id) return `evaluation ${b.id}, not ${a.id}`;
  if (a.shard.count !== b.shard.count) return `${b.shard.count} shards in all, not ${a.shard.count}`;
  if (a.model.sha256 !== b.model.sha256) return `a different model (sha256 ${b.model.sha256.slice(0, 12)}…, not ${a.model.sha256.slice(0, 12)}…)`;
  if (a.dataset.spec !== b.dataset.spec || a.dataset.split !== b.dataset.split || a.dataset.n !== b.dataset.n) return `data set ${b.dataset.spec} ${b.dataset.split} n=${b.dataset.n}, not ${a.dataset.spec} ${a.dataset.split} n=${a.dataset.n}`;
  return 'different suite, ε, norm, seed or attack rows';
}

export interface AssembleOptions {
  /** Wall-clock seconds of the whole evaluation. @default the slowest shard's */
  seconds?: number;
  /** @default now */
  createdAt?: Date;
}

/**
 * Merges the shards of one evaluation into its report. Every shard `0 … count − 1` must be there
 * once, with slices that tile `[0, n)`, of the same model and settings; otherwise `bad-shard`
 * naming the shard and what is wrong. Row `seconds` add up the shards' compute time.
 */
export function assembleReport(shards: readonly EvaluationShard[], options: AssembleOptions = {}): RobustnessReport {
  if (shards.length === 0) throw new EvaluationError('bad-shard', 'no shards to merge');
  const sorted = [...shards].sort((a, b) => a.shard.index - b.shard.index);
  const first = sorted[0];
  const count = first.shard.count;
  const n = first.dataset.n;
  const key = fingerprint(first);
  let next = 0;
  for (const [i, s] of sorted.entries()) {
    const where = `shard ${s.shard.index} of ${count}`;
    if (fingerprint(s) !== key) bad(where, `belongs to ${difference(first, s)}`);
    if (s.shard.index !== i) bad(i < s.shard.index ? `shard ${i} of ${count}` : where, i < s.shard.index ? 'is missing' : 'appears twice');
    if (s.shard.start !== next) bad(where, `starts at sample ${s.shard.start}, expected ${next}`);
    next = s.shard.end;
  }
  if (sorted.length !== count) bad(`shard ${sorted.length} of ${count}`, 'is missing');
  if (next !== n) bad(`shard ${count - 1} of ${count}`, `ends at sample ${next}, expected ${n}`);

  const labels = Int32Array.from(sorted.flatMap((s) => s.labels));
  const cleanPred = Int32Array.from(sorted.flatMap((s) => s.clean_predictions));
  const cleanCorrect = cleanPred.map((p, i) => (p === labels[i] ? 1 : 0));
  const robust = Uint8Array.from(cleanCorrect);
  const rows: AttackRow[] = first.attacks.map((r, k) => {
    let failures = 0;
    let offset = 0;
    const stages = new Map<string, { robust: number; n: number }>();
    for (const s of sorted) {
      const row = s.attacks[k];
      for (let j = 0; j < row.success.length; j++) {
        failures += row.success[j];
        if (row.success[j]) robust[offset + j] = 0;
      }
      offset += row.success.length;
      for (const st of row.stages) {
        const t = stages.get(st.name) ?? { robust: 0, n: 0 };
        t.robust += st.robust;
        t.n += st.n;
        stages.set(st.name, t);
      }
    }
    return {
      name: r.name,
      attack: r.attack,
      eps: r.eps,
      norm: r.norm,
      robust_accuracy: round(1 - failures / n),
      stages: [...stages].map(([name, t]) => ({ name, robust_accuracy: round(t.n ? t.robust / t.n : 0) })),
      max_perturbation: Math.max(...sorted.map((s) => s.attacks[k].max_perturbation)),
      seconds: round(sorted.reduce((a, s) => a + s.attacks[k].seconds, 0)),
      settings: r.settings,
    };
  });

  // Warnings once by id; Square's "black-box stronger" check is redone on the merged stages.
  const warnings = new Map<string, { id: string; message: string }>();
  for (const s of sorted) for (const w of s.warnings) if (w.id !== 'black-box-stronger' && !warnings.has(w.id)) warnings.set(w.id, { id: w.id, message: w.message });
  for (const row of rows) {
    const sq = row.stages.findIndex((st) => st.name === 'square');
    if (sq < 2) continue;
    const w = checkBlackBoxStronger(row.stages[sq - 1].robust_accuracy, row.stages[sq].robust_accuracy, row.attack);
    if (w && !warnings.has(w.id)) warnings.set(w.id, { id: w.id, message: w.message });
  }

  const epsSweep: EpsSweepRow[] | undefined = first.eps_sweep?.map((r, k) => ({
    name: r.name,
    attack: r.attack,
    norm: r.norm,
    points: r.points.map((p, j) => {
      const total = sorted.reduce((a, s) => ({ robust: a.robust + s.eps_sweep![k].points[j].robust, n: a.n + s.eps_sweep![k].points[j].n }), { robust: 0, n: 0 });
      return { eps: p.eps, robust_accuracy: round(total.n ? total.robust / total.n : 0) };
    }),
  }));
  // Each curve ends at the row itself, over all samples.
  for (const curve of epsSweep ?? []) curve.points.push({ eps: first.eps, robust_accuracy: rows.find((r) => r.name === curve.name)?.robust_accuracy ?? 0 });

  const perClass: ClassRow[] = first.dataset.class_names.map((name, c) => {
    let total = 0;
    let clean = 0;
    let rob = 0;
    for (let i = 0; i < n; i++) {
      if (labels[i] !== c) continue;
      total++;
      clean += cleanCorrect[i];
      rob += robust[i];
    }
    return { class: c, name, n: total, clean_accuracy: total ? round(clean / total) : 0, robust_accuracy: total ? round(rob / total) : 0 };
  });

  return {
    version: REPORT_VERSION,
    id: first.id,
    created_at: (options.createdAt ?? new Date()).toISOString(),
    model: first.model,
    dataset: first.dataset,
    suite: first.suite,
    eps: first.eps,
    norm: first.norm,
    seed: first.seed,
    clean_accuracy: round(sum(cleanCorrect) / n),
    robust_accuracy: round(sum(robust) / n),
    attacks: rows,
    ...(epsSweep ? { eps_sweep: epsSweep } : {}),
    per_class: perClass,
    examples: sorted.flatMap((s) => s.examples).sort((a, b) => a.index - b.index),
    warnings: [...warnings.values()],
    environment: { ...first.environment, workers: sorted.reduce((a, s) => a + s.environment.workers, 0), ...(count > 1 ? { shards: count } : {}) },
    seconds: round(options.seconds ?? Math.max(...sorted.map((s) => s.seconds))),
  };
}
