/**
 * Following a job's event stream: the stored events after a sequence number, then the new ones as
 * they are committed, until the job is final and every event was delivered. The database is read
 * again on every wake-up, so a watcher never misses or reorders an event, however slowly it reads.
 */
import type { JobStore } from './job-store.js';
import { isFinal, type JobEvent } from './types.js';

export interface WatchOptions {
  /** Deliver events with a greater sequence number. @default 0 (all) */
  after?: number;
  /** Stops the watch; the iterator then throws the signal's reason. */
  signal?: AbortSignal;
  /** Events read per query. @default 500 */
  batch?: number;
}

/** Throws `not-found` (on the first `next()`) when the job does not exist. */
export async function* watchEvents(store: JobStore, id: string, options: WatchOptions = {}): AsyncGenerator<JobEvent> {
  const { signal } = options;
  const batch = options.batch ?? 500;
  store.get(id);
  let last = options.after ?? 0;
  let dirty = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const unsubscribe = store.subscribe(id, poke);
  signal?.addEventListener('abort', poke);
  try {
    for (;;) {
      signal?.throwIfAborted();
      dirty = false;
      const events = store.events(id, last, batch);
      for (const event of events) {
        yield event;
        last = event.sequence;
      }
      if (events.length === batch) continue;
      const job = store.get(id);
      if (isFinal(job.state) && last >= job.lastSequence) return;
      if (!dirty) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', poke);
  }
}
