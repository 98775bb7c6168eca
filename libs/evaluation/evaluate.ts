/**
 * Robustness evaluation: clean accuracy, every attack of a suite on every sample, the per-sample
 * worst case, per-class accuracy and a few examples, as one `RobustnessReport`.
 *
 * Attacks run data parallel over a worker pool when one is given (one engine per thread), else in
 * this thread. Evaluation never changes the model: attacks run it in inference mode.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { currentEngine, tf, tfl, type WorkerPool } from '../engine/index.js';
import type { Dataset } from '../data/index.js';
import { getModelInfo, modelToBytes, type ModelBytes } from '../models/index.js';
import { fromLayersModel, runAttackByName, runAttackParallel, type AttackReport } from '../attacks/index.js';
import { EvaluationError } from './errors.js';
import { REPORT_VERSION, type AttackRow, type ClassRow, type EpsSweepRow, type ExampleRow, type RobustnessReport } from './report.js';
import { isSuiteName, protocolEps, suiteAttacks, type SuiteName } from './suites.js';

export interface EvaluateOptions {
  model: tfl.LayersModel;
  /** Where the model came from (recorded in the report). */
  modelUri: string;
  data: Dataset;
  /** The data set spec string (recorded), e.g. `mnist` or `cifar10:/data`. */
  datasetSpec: string;
  /** @default 'quick' */
  suite?: SuiteName;
  /** Threat-model radius. @default the protocol's ε for the data set (MNIST 0.3, Fashion-MNIST 0.1, else 8/255) */
  eps?: number;
  /** @default 'Linf' */
  norm?: 'Linf' | 'L2';
  /** @default 0 */
  seed?: number;
  /** Runs attacks data parallel over these workers. */
  pool?: WorkerPool;
  /**
   * Also measures the FGSM and PGD-20 rows at smaller radii (ε × each of `sweepFractions`), for the
   * report's "accuracy against ε" curve. Costs one extra run of each swept row per fraction.
   * @default true for the standard suite, false for quick
   */
  sweep?: boolean;
  /** Fractions of ε swept, each in (0, 1); the row's own result at ε is always the last point. @default [0.25, 0.5, 0.75] */
  sweepFractions?: readonly number[];
  /** Number of examples kept for people to look at. @default 8 */
  examples?: number;
  /** Report id. @default a random UUID */
  id?: string;
  signal?: AbortSignal;
  /**
   * Called when a phase starts and ends (attack rows, then the sweep's runs, named e.g.
   * `pgd-20 ε=0.075`), for progress output and tracing; `total` counts both.
   */
  onProgress?: (event: EvaluationEvent) => void;
}

export type EvaluationEvent =
  | { type: 'clean'; n: number; cleanAccuracy: number }
  | { type: 'attack-start'; name: string; index: number; total: number }
  | { type: 'attack-done'; name: string; robustAccuracy: number; seconds: number; index: number; total: number };

/** sha256 of a model's model.json text and weight bytes: identifies exactly what was evaluated. */
export function modelSha256(bytes: ModelBytes): string {
  const hash = createHash('sha256');
  hash.update(bytes.modelJson);
  hash.update(new Uint8Array(bytes.weightData));
  return hash.digest('hex');
}

/** The version in a package.json, relative to the repository root (three levels above dist/libs/evaluation/). */
function packageVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const HARDEN_VERSION = packageVersion('package.json');

function toBase64Image(values: Float32Array, offset: number, size: number): string {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.round(Math.min(1, Math.max(0, values[offset + i])) * 255);
  return Buffer.from(out).toString('base64');
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

/** Rows of the suites that the ε sweep measures (cheap, and the ones papers plot). */
const SWEPT_ROWS: readonly string[] = ['fgsm', 'pgd-20'];
const DEFAULT_SWEEP_FRACTIONS: readonly number[] = [0.25, 0.5, 0.75];

function sweepFractions(value: readonly number[] | undefined): number[] {
  const fractions = [...(value ?? DEFAULT_SWEEP_FRACTIONS)];
  for (const f of fractions) {
    if (!(typeof f === 'number' && f > 0 && f < 1)) {
      throw new EvaluationError('invalid-argument', `sweepFractions must be numbers in (0, 1); got ${JSON.stringify(f)}`, { field: 'sweepFractions' });
    }
  }
  return [...new Set(fractions)].sort((a, b) => a - b);
}

export async function evaluateRobustness(options: EvaluateOptions): Promise<RobustnessReport> {
  const started = performance.now();
  const suite = options.suite ?? 'quick';
  if (!isSuiteName(suite)) throw new EvaluationError('invalid-argument', `unknown suite "${suite}"; expected quick or standard`, { field: 'suite' });
  const eps = options.eps ?? protocolEps(options.datasetSpec);
  if (!(eps > 0 && eps <= 1)) throw new EvaluationError('invalid-argument', `eps must be in (0, 1] for inputs in [0, 1]; got ${eps}`, { field: 'eps' });
  const norm = options.norm ?? 'Linf';
  const seed = options.seed ?? 0;
  const fractions = (options.sweep ?? suite === 'standard') ? sweepFractions(options.sweepFractions) : [];
  const { model, data } = options;
  if (data.size === 0) throw new EvaluationError('invalid-argument', 'the data set has no samples to evaluate', { field: 'dataset' });
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  if (inputShape.join('x') !== data.shape.join('x')) {
    throw new EvaluationError('invalid-argument', `the model takes ${inputShape.join('×')} inputs but the data set has ${data.shape.join('×')} images`, {
      field: 'dataset',
    });
  }
  const numClasses = model.outputs[0].shape[1] as number;
  if (data.numClasses > numClasses) {
    throw new EvaluationError('invalid-argument', `the model has ${numClasses} classes but the data set has ${data.numClasses}`, { field: 'dataset' });
  }

  const bytes = await modelToBytes(model);
  const sha256 = modelSha256(bytes);
  const n = data.size;
  const x = tf.tensor4d(data.images, [n, ...data.shape] as [number, number, number, number]);
  const rows: AttackRow[] = [];
  const reports: AttackReport[] = [];
  const warnings = new Map<string, { id: string; message: string }>();
  try {
    const cleanPred = tf.tidy(() => tf.argMax(model.predict(x, { batchSize: 256 }) as tf.Tensor2D, 1).dataSync() as Int32Array);
    const cleanCorrect = cleanPred.map((p, i) => (p === data.labels[i] ? 1 : 0));
    const cleanAccuracy = cleanCorrect.reduce((a, b) => a + b, 0) / n;
    options.onProgress?.({ type: 'clean', n, cleanAccuracy });

    const attacks = suiteAttacks(suite);
    const swept = attacks.filter((a) => SWEPT_ROWS.includes(a.label));
    const total = attacks.length + swept.length * fractions.length;
    const target = options.pool ? undefined : fromLayersModel(model);
    const run = (attack: string, attackOptions: Readonly<Record<string, unknown>>, atEps: number): Promise<AttackReport> => {
      const runOptions = { ...attackOptions, eps: atEps, norm, seed, ...(options.signal ? { signal: options.signal } : {}) };
      return options.pool
        ? runAttackParallel(options.pool, { target: bytes }, x, data.labels, attack, runOptions)
        : runAttackByName(attack, target!, x, data.labels, runOptions);
    };
    for (const [index, a] of attacks.entries()) {
      options.signal?.throwIfAborted();
      options.onProgress?.({ type: 'attack-start', name: a.label, index, total });
      const report = await run(a.attack, a.options, eps);
      reports.push(report);
      for (const w of report.warnings) warnings.set(w.id, { id: w.id, message: w.message });
      rows.push({
        name: a.label,
        attack: a.attack,
        eps,
        norm,
        robust_accuracy: round(report.robustAccuracy),
        stages: report.stages.map((s) => ({ name: s.name, robust_accuracy: round(s.robustAccuracy) })),
        max_perturbation: report.maxPerturbation,
        seconds: round(report.seconds),
        settings: { ...a.options },
      });
      options.onProgress?.({ type: 'attack-done', name: a.label, robustAccuracy: report.robustAccuracy, seconds: report.seconds, index, total });
    }

    // The ε sweep: the same attack and seed at smaller radii; the row itself is the point at ε.
    const epsSweep: EpsSweepRow[] = [];
    let index = attacks.length;
    for (const a of swept) {
      const points: EpsSweepRow['points'] = [];
      for (const f of fractions) {
        options.signal?.throwIfAborted();
        const atEps = round(eps * f);
        const name = `${a.label} ε=${atEps}`;
        options.onProgress?.({ type: 'attack-start', name, index, total });
        const report = await run(a.attack, a.options, atEps);
        report.adversarial.dispose();
        for (const w of report.warnings) warnings.set(w.id, { id: w.id, message: w.message });
        points.push({ eps: atEps, robust_accuracy: round(report.robustAccuracy) });
        options.onProgress?.({ type: 'attack-done', name, robustAccuracy: report.robustAccuracy, seconds: report.seconds, index, total });
        index++;
      }
      const row = rows.find((r) => r.name === a.label)!;
      points.push({ eps, robust_accuracy: row.robust_accuracy });
      epsSweep.push({ name: a.label, attack: a.attack, norm, points });
    }

    // A sample is robust when it is classified correctly and no attack succeeded on it.
    const robust = Uint8Array.from(cleanCorrect, (c, i) => (c && reports.every((r) => r.success[i] === 0) ? 1 : 0));
    const robustAccuracy = robust.reduce((a, b) => a + b, 0) / n;

    const perClass: ClassRow[] = [];
    for (let c = 0; c < data.numClasses; c++) {
      let count = 0;
      let clean = 0;
      let rob = 0;
      for (let i = 0; i < n; i++) {
        if (data.labels[i] !== c) continue;
        count++;
        clean += cleanCorrect[i];
        rob += robust[i];
      }
      perClass.push({ class: c, name: data.classNames[c] ?? String(c), n: count, clean_accuracy: count ? round(clean / count) : 0, robust_accuracy: count ? round(rob / count) : 0 });
    }

    const examples: ExampleRow[] = [];
    const size = data.shape[0] * data.shape[1] * data.shape[2];
    const wanted = Math.min(options.examples ?? 8, n);
    if (wanted > 0 && reports.length > 0) {
      const advValues = await Promise.all(reports.map((r) => r.adversarial.data() as Promise<Float32Array>));
      for (let i = 0; i < wanted; i++) {
        // Show the first attack that fooled the model on this sample, else the last one run.
        let k = reports.findIndex((r) => r.success[i] === 1);
        if (k < 0) k = reports.length - 1;
        examples.push({
          index: i,
          label: data.labels[i],
          clean_prediction: cleanPred[i],
          adversarial_prediction: reports[k].predictions[i],
          attack: rows[k].name,
          shape: [...data.shape] as [number, number, number],
          clean_image: toBase64Image(data.images, i * size, size),
          adversarial_image: toBase64Image(advValues[k], i * size, size),
        });
      }
    }
    const engine = currentEngine();
    return {
      version: REPORT_VERSION,
      id: options.id ?? randomUUID(),
      created_at: new Date().toISOString(),
      model: { uri: options.modelUri, sha256, arch: getModelInfo(model)?.arch ?? null, input_shape: inputShape, num_classes: numClasses },
      dataset: { spec: options.datasetSpec, name: data.name, split: data.split, n, class_names: [...data.classNames] },
      suite,
      eps,
      norm,
      seed,
      clean_accuracy: round(cleanAccuracy),
      robust_accuracy: round(robustAccuracy),
      attacks: rows,
      ...(fractions.length > 0 ? { eps_sweep: epsSweep } : {}),
      per_class: perClass,
      examples,
      warnings: [...warnings.values()],
      environment: {
        backend: engine?.backend ?? tf.getBackend(),
        device: engine?.device ?? '',
        workers: options.pool?.size ?? 1,
        harden: HARDEN_VERSION,
        tfjs: tf.version_core,
        node: process.version,
      },
      seconds: round((performance.now() - started) / 1000),
    };
  } finally {
    for (const r of reports) r.adversarial.dispose();
    x.dispose();
  }
}
