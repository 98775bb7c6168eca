/**
 * Robustness evaluation: clean accuracy, every attack of a suite on every sample, the per-sample
 * worst case, per-class accuracy and a few examples, as one `RobustnessReport`.
 *
 * Attacks run data parallel over a worker pool when one is given (one engine per thread), else in
 * this thread. Evaluation never changes the model: attacks run it in inference mode.
 *
 * `evaluateShard` evaluates one slice of the data set (a pod of a sharded evaluation) and keeps
 * per-sample results; `assembleReport` (shard.ts) merges slices into the report.
 * `evaluateRobustness` is the one-slice case of both.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { currentEngine, tf, tfl, type WorkerPool } from '../engine/index.js';
import type { Dataset } from '../data/index.js';
import { getModelInfo, modelToBytes, type ModelBytes } from '../models/index.js';
import { evaluationEps, fromLayersModel, runAttackByName, runAttackParallel, throttledSteps, type AttackReport, type StepEvent } from '../attacks/index.js';
import { EvaluationError } from './errors.js';
import type { ExampleRow, RobustnessReport } from './report.js';
import { assembleReport, SHARD_KIND, SHARD_VERSION, shardRange, sum, type EvaluationShard, type ShardRow, type ShardSweepRow } from './shard.js';
import { isSuiteName, suiteAttacks, type SuiteName } from './suites.js';

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
  /**
   * Evaluates only slice `index` of `count` of `data` (see `shardRange`); random draws stay keyed by
   * the global sample index. Only for `evaluateShard`. @default the whole set
   */
  shard?: { index: number; count: number };
  signal?: AbortSignal;
  /**
   * Called when a phase starts and ends (attack rows, then the sweep's runs, named e.g.
   * `pgd-20 ε=0.075`), for progress output and tracing; `total` counts both.
   */
  onProgress?: (event: EvaluationEvent) => void;
  /** Least time between two `attack-step` events of a stage. @default 5000 */
  stepEveryMs?: number;
}

export type EvaluationEvent =
  | { type: 'clean'; n: number; cleanAccuracy: number }
  | { type: 'attack-start'; name: string; index: number; total: number }
  /**
   * Inside a long row (AutoAttack's stages, PGD's steps): the stage working now, which pass of it
   * (APGD-T and FAB-T run once per target class) and its step. Sent when a composite row's stage
   * starts and at most every `stepEveryMs` otherwise. With a pool, the steps are those of the first
   * shard not finished (relayed from its worker thread).
   */
  | { type: 'attack-step'; name: string; stage: string; pass: number; step: number; shard?: { index: number; count: number }; index: number; total: number }
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

/** Evaluates `options.data` (all of it) and returns its report. */
export async function evaluateRobustness(options: EvaluateOptions): Promise<RobustnessReport> {
  if (options.shard) throw new EvaluationError('invalid-argument', 'evaluateRobustness evaluates the whole set; use evaluateShard for a slice', { field: 'shard' });
  const started = performance.now();
  const shard = await evaluateShard(options);
  return assembleReport([shard], { seconds: (performance.now() - started) / 1000 });
}

/**
 * Evaluates slice `options.shard` of `options.data` (default: all of it) and returns the slice's
 * per-sample results, for `assembleReport`. Validates everything before any attack runs.
 */
export async function evaluateShard(options: EvaluateOptions): Promise<EvaluationShard> {
  const started = performance.now();
  const suite = options.suite ?? 'quick';
  if (!isSuiteName(suite)) throw new EvaluationError('invalid-argument', `unknown suite "${suite}"; expected quick or standard`, { field: 'suite' });
  const eps = options.eps ?? evaluationEps(options.datasetSpec);
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
  const range = shardRange(data.size, options.shard?.count ?? 1, options.shard?.index ?? 0);
  const { start, end } = range;

  const bytes = await modelToBytes(model);
  const sha256 = modelSha256(bytes);
  const n = end - start;
  const size = data.shape[0] * data.shape[1] * data.shape[2];
  const images = data.images.subarray(start * size, end * size);
  const labels = data.labels.subarray(start, end);
  const x = tf.tensor4d(images, [n, ...data.shape] as [number, number, number, number]);
  const rows: ShardRow[] = [];
  const reports: AttackReport[] = [];
  const warnings = new Map<string, { id: string; message: string }>();
  try {
    const predicted = tf.tidy(() => tf.argMax(model.predict(x, { batchSize: 256 }) as tf.Tensor2D, 1));
    const cleanPred = Int32Array.from((await predicted.data()) as Int32Array);
    predicted.dispose();
    const cleanCorrect = cleanPred.map((p, i) => (p === labels[i] ? 1 : 0));
    options.onProgress?.({ type: 'clean', n, cleanAccuracy: sum(cleanCorrect) / n });

    const attacks = suiteAttacks(suite);
    const swept = attacks.filter((a) => SWEPT_ROWS.includes(a.label));
    const total = attacks.length + swept.length * fractions.length;
    const target = options.pool ? undefined : fromLayersModel(model);
    const stepEveryMs = options.stepEveryMs ?? 5000;
    /** Step progress of row `name` (the `index`-th phase), throttled; with a pool, the lead shard's steps. */
    const stepReporter = (name: string, attack: string, index: number) => {
      const onProgress = options.onProgress;
      if (!onProgress) return undefined;
      return throttledSteps((p) => onProgress({ type: 'attack-step', name, ...p, index, total }), stepEveryMs, attack);
    };
    const run = (attack: string, attackOptions: Readonly<Record<string, unknown>>, atEps: number, onStep?: (e: StepEvent) => void): Promise<AttackReport> => {
      // Draws are keyed by the global sample index: a slice gets the draws it gets in the whole set.
      const runOptions = { ...attackOptions, eps: atEps, norm, seed, indexOffset: start, ...(options.signal ? { signal: options.signal } : {}), ...(onStep ? { onStep } : {}) };
      return options.pool
        ? runAttackParallel(options.pool, { target: bytes }, x, labels, attack, runOptions)
        : runAttackByName(attack, target!, x, labels, runOptions);
    };
    for (const [index, a] of attacks.entries()) {
      options.signal?.throwIfAborted();
      options.onProgress?.({ type: 'attack-start', name: a.label, index, total });
      const report = await run(a.attack, a.options, eps, stepReporter(a.label, a.attack, index));
      reports.push(report);
      for (const w of report.warnings) warnings.set(w.id, { id: w.id, message: w.message });
      rows.push({
        name: a.label,
        attack: a.attack,
        eps,
        norm,
        settings: { ...a.options },
        stages: report.stages.map((s) => ({ name: s.name, robust: s.robust, n: s.n })),
        max_perturbation: report.maxPerturbation,
        seconds: round(report.seconds),
        success: Array.from(report.success),
        predictions: Array.from(report.predictions),
      });
      options.onProgress?.({ type: 'attack-done', name: a.label, robustAccuracy: report.robustAccuracy, seconds: report.seconds, index, total });
    }

    // The ε sweep: the same attack and seed at smaller radii (the row itself is the point at ε).
    const epsSweep: ShardSweepRow[] = [];
    let index = attacks.length;
    for (const a of swept) {
      const points: ShardSweepRow['points'] = [];
      for (const f of fractions) {
        options.signal?.throwIfAborted();
        const atEps = round(eps * f);
        const name = `${a.label} ε=${atEps}`;
        options.onProgress?.({ type: 'attack-start', name, index, total });
        const report = await run(a.attack, a.options, atEps);
        report.adversarial.dispose();
        for (const w of report.warnings) warnings.set(w.id, { id: w.id, message: w.message });
        points.push({ eps: atEps, robust: n - sum(report.success), n });
        options.onProgress?.({ type: 'attack-done', name, robustAccuracy: report.robustAccuracy, seconds: report.seconds, index, total });
        index++;
      }
      epsSweep.push({ name: a.label, attack: a.attack, norm, points });
    }

    // Examples for people to look at: the set's first few samples that fall in this slice.
    const examples: ExampleRow[] = [];
    const wanted = Math.min(options.examples ?? 8, data.size);
    if (start < wanted && reports.length > 0) {
      const advValues = await Promise.all(reports.map((r) => r.adversarial.data() as Promise<Float32Array>));
      for (let i = 0; i < Math.min(wanted, end) - start; i++) {
        // Show the first attack that fooled the model on this sample, else the last one run.
        let k = reports.findIndex((r) => r.success[i] === 1);
        if (k < 0) k = reports.length - 1;
        examples.push({
          index: start + i,
          label: labels[i],
          clean_prediction: cleanPred[i],
          adversarial_prediction: reports[k].predictions[i],
          attack: rows[k].name,
          shape: [...data.shape] as [number, number, number],
          clean_image: toBase64Image(images, i * size, size),
          adversarial_image: toBase64Image(advValues[k], i * size, size),
        });
      }
    }
    const engine = currentEngine();
    return {
      kind: SHARD_KIND,
      version: SHARD_VERSION,
      id: options.id ?? randomUUID(),
      shard: range,
      model: { uri: options.modelUri, sha256, arch: getModelInfo(model)?.arch ?? null, input_shape: inputShape, num_classes: numClasses },
      dataset: { spec: options.datasetSpec, name: data.name, split: data.split, n: data.size, class_names: [...data.classNames] },
      suite,
      eps,
      norm,
      seed,
      labels: Array.from(labels),
      clean_predictions: Array.from(cleanPred),
      attacks: rows,
      ...(fractions.length > 0 ? { eps_sweep: epsSweep } : {}),
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
