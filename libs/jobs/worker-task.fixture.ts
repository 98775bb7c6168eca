/** Task functions for worker-task.spec.ts (they run inside a worker thread). */
import type { TaskContext } from './worker-task.js';

export async function countTo(payload: { n: number; ms: number }, ctx: TaskContext): Promise<{ counted: number }> {
  let i = 0;
  for (; i < payload.n; i++) {
    if (ctx.signal.aborted) throw Object.assign(new Error('stopped at ' + i), { name: 'TrainingError', code: 'aborted' });
    ctx.emit({ i });
    await new Promise((r) => setTimeout(r, payload.ms));
  }
  return { counted: i };
}

export async function failTyped(): Promise<never> {
  throw Object.assign(new Error('eps: must be in (0, 1]'), { name: 'AttackError', code: 'invalid-argument', field: 'eps' });
}

export async function ignoreAbort(): Promise<never> {
  for (;;) await new Promise((r) => setTimeout(r, 10));
}
