/**
 * An evaluation's progress (libs/evaluation `EvaluationEvent`s) as job events and progress: a
 * `phase` event per attack row, the fraction of rows done. Used by the evaluation service for
 * in-process evaluations and by shard workers (`harden worker`), whose fraction is their shard's.
 */
import { describeStep } from '../attacks/index.js';
import type { EvaluationEvent } from './evaluate.js';
import type { JobContext } from '../jobs/index.js';

/** Where relayed events go: a libs/jobs `JobContext`, or a worker's report buffer. */
export type ProgressSink = Pick<JobContext<unknown>, 'emit' | 'progress'>;

export function relayEvaluation(sink: ProgressSink, e: EvaluationEvent): void {
  if (e.type === 'attack-start') {
    sink.emit('phase', { phase: `attack ${e.name}`, message: `${e.index + 1}/${e.total}` });
    sink.progress({ phase: `attack ${e.name}`, fraction: e.index / e.total });
  } else if (e.type === 'attack-step') {
    // A long row's stage and step: progress only (no event per step).
    sink.progress({ phase: `attack ${e.name} (${describeStep(e)})` });
  } else if (e.type === 'attack-done') {
    sink.progress({ fraction: (e.index + 1) / e.total });
  }
}
