/**
 * Fair sharing of a fixed number of slots (a pool's workers) among several sources of queued jobs
 * (open GenerateAdversarial streams). Each source's jobs start in the order it queued them; across
 * sources, a free slot goes to the source served longest ago that has a job waiting (a new source
 * counts as never served). So a stream opened while another holds every worker waits for one slot
 * to free, not for the other's queued batches.
 */

export interface RoundRobin {
  /** A new source of jobs, added to the rotation. */
  source(): RoundRobinSource;
  /** Jobs started and not yet settled. */
  readonly running: number;
  /** Jobs queued and not yet started, over all sources. */
  readonly waiting: number;
}

export interface RoundRobinSource {
  /** Queues a job; the promise settles as the job's does, once a slot has run it. */
  submit<T>(job: () => Promise<T>): Promise<T>;
  /** Leaves the rotation: jobs not started are dropped (their promises reject with `reason`); started ones run on. */
  close(reason: unknown): void;
}

interface Queued {
  start(): void;
  drop(reason: unknown): void;
}

interface Source {
  queue: Queued[];
  closed: boolean;
}

export function createRoundRobin(slots: number): RoundRobin {
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`round robin needs a positive whole number of slots, got ${slots}`);
  // Least recently served first.
  const sources: Source[] = [];
  let running = 0;

  function nextSource(): Source | undefined {
    const k = sources.findIndex((s) => s.queue.length > 0);
    if (k < 0) return undefined;
    const [source] = sources.splice(k, 1);
    sources.push(source);
    return source;
  }

  function pump(): void {
    while (running < slots) {
      const source = nextSource();
      if (!source) return;
      running++;
      source.queue.shift()!.start();
    }
  }

  return {
    get running() {
      return running;
    },
    get waiting() {
      return sources.reduce((n, s) => n + s.queue.length, 0);
    },
    source() {
      const self: Source = { queue: [], closed: false };
      sources.unshift(self);
      return {
        submit<T>(job: () => Promise<T>): Promise<T> {
          if (self.closed) return Promise.reject(new Error('this source of jobs is closed'));
          return new Promise<T>((resolve, reject) => {
            const settle = () => {
              running--;
              pump();
            };
            self.queue.push({
              start() {
                let started: Promise<T>;
                try {
                  started = job();
                } catch (error) {
                  started = Promise.reject(error);
                }
                started.then(
                  (value) => {
                    settle();
                    resolve(value);
                  },
                  (error: unknown) => {
                    settle();
                    reject(error);
                  },
                );
              },
              drop: reject,
            });
            pump();
          });
        },
        close(reason: unknown) {
          if (self.closed) return;
          self.closed = true;
          sources.splice(sources.indexOf(self), 1);
          for (const job of self.queue.splice(0)) job.drop(reason);
        },
      };
    },
  };
}
