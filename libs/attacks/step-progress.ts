/**
 * Step events (`onStep`) as progress a person can read: which stage, which pass of it (another
 * target class, a restart), which step — at most one report every `everyMs`, and at once when the
 * stage changes. Used by `harden eval` and `harden attack`, and by the evaluator's job progress.
 */
import type { StepEvent } from './types.js';

export interface StepProgress {
  /** The attack or AutoAttack stage taking steps. */
  stage: string;
  /** 1 for the stage's first run; counts up each time it starts again from step 0. */
  pass: number;
  step: number;
  /** The shard the steps come from, when a worker pool splits the batch. */
  shard?: { index: number; count: number };
}

/** An `onStep` handler that calls `report` throttled; `firstStage` is the attack named at the start. */
export function throttledSteps(report: (p: StepProgress) => void, everyMs = 5000, firstStage = ''): (e: StepEvent) => void {
  let stage = firstStage;
  let shard = 0;
  let pass = 1;
  let last = performance.now();
  return (e) => {
    const now = performance.now();
    // Another shard leading is a new start too: its stages begin again from the first.
    const newStage = e.attack !== stage || (e.shard?.index ?? 0) !== shard;
    if (newStage) pass = 1;
    else if (e.step === 0) pass++;
    stage = e.attack;
    shard = e.shard?.index ?? 0;
    if (!newStage && now - last < everyMs) return;
    last = now;
    report({ stage, pass, step: e.step, ...(e.shard ? { shard: { ...e.shard } } : {}) });
  };
}

/** `apgd-t pass 3, step 40`, and `(shard 2 of 4)` when the batch is split. */
export function describeStep(p: StepProgress): string {
  const shard = p.shard && p.shard.count > 1 ? ` (shard ${p.shard.index + 1} of ${p.shard.count})` : '';
  return `${p.stage}${p.pass > 1 ? ` pass ${p.pass}` : ''}, step ${p.step}${shard}`;
}
