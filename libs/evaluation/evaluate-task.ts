/**
 * An evaluation job's compute, in its own worker thread (libs/jobs `runWorkerTask`): load the model and
 * the data and run the suite (libs/evaluation). Progress goes back as libs/evaluation
 * `EvaluationEvent`s.
 *
 * - `runEvaluation`: the whole set, in the evaluation service; writes the report.
 * - `runEvaluationShard`: one slice, in a shard worker pod (`harden worker`); writes the slice's
 *   results to `reports/<id>/shards/<index>.json`. A slice already there for the same model and
 *   settings (a pod retried after it wrote them) is not computed again.
 */
import { initEngine, type BackendChoice } from '../engine/index.js';
import { loadDataset, type Dataset } from '../data/index.js';
import type { TaskContext } from '../jobs/index.js';
import { loadModelFromUri, modelToBytes } from '../models/index.js';
import { ATTR, withTaskSpan } from '../telemetry/index.js';
import { evaluateShard, modelSha256 } from './evaluate.js';
import { publishReport, readShard, shardUri, writeShard, type PublishedReport } from './report-layout.js';
import { assembleReport, type EvaluationShard } from './shard.js';
import type { SuiteName } from './suites.js';

/** What an evaluation job asks for (the evaluation service's validated request, stored with the job). */
export interface EvaluationJobSpec {
  modelUri: string;
  dataset: string;
  split: 'train' | 'test';
  limit: number;
  suite: SuiteName;
  eps: number;
  seed: number;
  /** The Harden job that trained the model, and its training curve. */
  training: { jobId: string; method: string; history: { epoch: number; loss: number; cleanAccuracy: number; robustAccuracy: number }[] } | null;
}

/** The task module and its functions, for `runWorkerTask`: the whole evaluation, or one shard. */
export const EVALUATE_TASK = { module: new URL('./evaluate-task.js', import.meta.url).href, fn: 'runEvaluation' } as const;
export const EVALUATE_SHARD_TASK = { module: EVALUATE_TASK.module, fn: 'runEvaluationShard' } as const;

export interface EvaluateTaskPayload {
  storeUri: string;
  reportId: string;
  spec: EvaluationJobSpec;
  backend: BackendChoice;
  /** The caller's trace context: the evaluation and its report writes join the job's trace. */
  traceContext?: Record<string, string>;
}

export type EvaluateTaskResult = PublishedReport;

export interface ShardTaskPayload extends EvaluateTaskPayload {
  shard: { index: number; count: number };
}

/** What a shard worker reports when its slice is done (FinishWork's outputs). */
export interface ShardTaskResult {
  shard_uri: string;
  start: number;
  end: number;
  n: number;
  clean_accuracy: number;
  /** Worst case over the rows, on this slice. */
  robust_accuracy: number;
  seconds: number;
  /** The slice was in the store already (a retried pod). */
  reused: boolean;
}

export function runEvaluation(p: EvaluateTaskPayload, ctx: TaskContext): Promise<EvaluateTaskResult> {
  return withTaskSpan('harden.evaluate', { [ATTR.MODEL_URI]: p.spec.modelUri, [ATTR.SUITE]: p.spec.suite, [ATTR.BACKEND]: p.backend }, p.traceContext, async () => {
    const started = performance.now();
    const shard = await withModelAndData(p, (model, data) => evaluateShard(shardOptions(p, model, data, ctx)));
    return publishReport(p.storeUri, assembleReport([shard], { seconds: (performance.now() - started) / 1000 }), p.spec);
  });
}

export function runEvaluationShard(p: ShardTaskPayload, ctx: TaskContext): Promise<ShardTaskResult> {
  const attributes = { [ATTR.MODEL_URI]: p.spec.modelUri, [ATTR.SUITE]: p.spec.suite, [ATTR.BACKEND]: p.backend, 'harden.shard.index': p.shard.index, 'harden.shard.count': p.shard.count };
  return withTaskSpan('harden.evaluate.shard', attributes, p.traceContext, () =>
    withModelAndData(p, async (model, data) => {
      const done = await readShard(p.storeUri, p.reportId, p.shard.index);
      const sha256 = modelSha256(await modelToBytes(model));
      if (done && sameWork(done, p, sha256, data.size)) return summary(done, shardUri(p.storeUri, p.reportId, p.shard.index), true);
      const shard = await evaluateShard({ ...shardOptions(p, model, data, ctx), shard: p.shard });
      return summary(shard, await writeShard(p.storeUri, shard), false);
    }),
  );
}

async function withModelAndData<T>(p: EvaluateTaskPayload, fn: (model: Awaited<ReturnType<typeof loadModelFromUri>>, data: Dataset) => Promise<T>): Promise<T> {
  await initEngine(p.backend);
  const model = await loadModelFromUri(p.spec.modelUri);
  try {
    const data = await loadDataset(p.spec.dataset, { split: p.spec.split, limit: p.spec.limit });
    return await fn(model, data);
  } finally {
    model.dispose();
  }
}

function shardOptions(p: EvaluateTaskPayload, model: Awaited<ReturnType<typeof loadModelFromUri>>, data: Dataset, ctx: TaskContext) {
  const s = p.spec;
  return { model, modelUri: s.modelUri, data, datasetSpec: s.dataset, suite: s.suite, eps: s.eps, seed: s.seed, id: p.reportId, signal: ctx.signal, onProgress: (e: unknown) => ctx.emit(e) };
}

/** Whether a shard in the store is this very work (same evaluation, slice, model and settings). */
function sameWork(done: EvaluationShard, p: ShardTaskPayload, sha256: string, n: number): boolean {
  const s = p.spec;
  return (
    done.id === p.reportId &&
    done.shard.index === p.shard.index &&
    done.shard.count === p.shard.count &&
    done.model.sha256 === sha256 &&
    done.dataset.spec === s.dataset &&
    done.dataset.split === s.split &&
    done.dataset.n === n &&
    done.suite === s.suite &&
    done.eps === s.eps &&
    done.seed === s.seed
  );
}

function summary(shard: EvaluationShard, uri: string, reused: boolean): ShardTaskResult {
  const n = shard.labels.length;
  const correct = shard.labels.map((l, i): number => (l === shard.clean_predictions[i] ? 1 : 0));
  const robust = correct.map((c, i): number => (c && shard.attacks.every((r) => r.success[i] === 0) ? 1 : 0));
  return {
    shard_uri: uri,
    start: shard.shard.start,
    end: shard.shard.end,
    n,
    clean_accuracy: correct.reduce((a, b) => a + b, 0) / n,
    robust_accuracy: robust.reduce((a, b) => a + b, 0) / n,
    seconds: shard.seconds,
    reused,
  };
}
