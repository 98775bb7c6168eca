/**
 * harden's metrics, on the global meter provider (a no-op until the SDK starts):
 *
 * | name | kind | unit | attributes |
 * |---|---|---|---|
 * | `harden.jobs` | observable gauge: jobs in each state (read from the job store) | `{job}` | `harden.job_kind`, `harden.job_state` |
 * | `harden.jobs.queue_depth` | observable gauge: QUEUED jobs waiting for a runner slot | `{job}` | `harden.job_kind` |
 * | `harden.jobs.transitions` | counter of state changes | `{job}` | `harden.job_kind`, `harden.job_state` (the new one) |
 * | `harden.training.throughput` | histogram of per-epoch training throughput | `{image}/s` | `harden.method`, `harden.backend`, `harden.arch` |
 * | `harden.training.epoch.duration` | histogram of epoch wall time | `s` | same |
 * | `harden.attack.throughput` | histogram of attack/evaluation throughput | `{image}/s` | `harden.attack`, `harden.backend` |
 * | `rpc.server.call.duration`, `rpc.client.call.duration` | histograms, recorded by the tracing interceptor | `s` | `rpc.system`, `rpc.service`, `rpc.method`, `rpc.response.status_code` |
 */
import { metrics, type Attributes, type Meter, type ObservableGauge } from '@opentelemetry/api';
import { ATTR, INSTRUMENTATION_SCOPE } from './attributes.js';
import { cleanAttributes, type SpanAttributes } from './spans.js';

/** Job states, as in the job store. */
export type JobStateName = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** Recorders for harden's metrics; create once per process with `getHardenMetrics()`. */
export interface HardenMetrics {
  /** A job entered state `to` (counts `harden.jobs.transitions`). */
  jobTransition(to: JobStateName, attrs?: SpanAttributes): void;
  /**
   * Feeds `harden.jobs` and `harden.jobs.queue_depth` whenever metrics are collected: `read` returns
   * job counts by kind, then state (e.g. the job store's own counts, so restarts change nothing).
   * @returns unregister
   */
  observeJobs(read: () => Record<string, Partial<Record<JobStateName, number>>>): () => void;
  /** One finished epoch: its wall time (s) and training throughput (img/s). */
  epoch(seconds: number, imagesPerSecond: number, attrs?: SpanAttributes): void;
  /** One attack phase or generation request's throughput (img/s). */
  attackThroughput(imagesPerSecond: number, attrs?: SpanAttributes): void;
  /** One RPC's duration (s), by side. */
  rpcDuration(side: 'server' | 'client', seconds: number, attrs: Attributes): void;
}

const KEY = Symbol.for('harden.telemetry.metrics');
const holder = globalThis as unknown as Record<symbol, { meter: Meter; metrics: HardenMetrics } | undefined>;

// Buckets for seconds-long operations: RPCs from 1 ms to minutes; epochs from seconds to hours.
const RPC_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const EPOCH_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
const IMG_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000];

/** Builds the recorders on `meter`. Prefer `getHardenMetrics()`, which shares one set per process. */
export function createHardenMetrics(meter: Meter): HardenMetrics {
  const jobs: ObservableGauge = meter.createObservableGauge('harden.jobs', { description: 'Jobs in each state', unit: '{job}' });
  const queueDepth: ObservableGauge = meter.createObservableGauge('harden.jobs.queue_depth', { description: 'Jobs waiting in QUEUED', unit: '{job}' });
  const transitions = meter.createCounter('harden.jobs.transitions', { description: 'Job state changes, by new state', unit: '{job}' });
  const throughput = meter.createHistogram('harden.training.throughput', { description: 'Training images per second, per epoch', unit: '{image}/s', advice: { explicitBucketBoundaries: IMG_BUCKETS } });
  const epochDuration = meter.createHistogram('harden.training.epoch.duration', { description: 'Wall time of one training epoch', unit: 's', advice: { explicitBucketBoundaries: EPOCH_BUCKETS } });
  const attack = meter.createHistogram('harden.attack.throughput', { description: 'Attack images per second', unit: '{image}/s', advice: { explicitBucketBoundaries: IMG_BUCKETS } });
  const rpc = {
    server: meter.createHistogram('rpc.server.call.duration', { description: 'Duration of RPCs served', unit: 's', advice: { explicitBucketBoundaries: RPC_BUCKETS } }),
    client: meter.createHistogram('rpc.client.call.duration', { description: 'Duration of RPCs made', unit: 's', advice: { explicitBucketBoundaries: RPC_BUCKETS } }),
  };
  const readers = new Set<() => Record<string, Partial<Record<JobStateName, number>>>>();
  meter.addBatchObservableCallback(
    (result) => {
      for (const read of readers) {
        let counts: Record<string, Partial<Record<JobStateName, number>>>;
        try {
          counts = read();
        } catch {
          continue; // a closed store during shutdown: skip this collection
        }
        for (const [kind, byState] of Object.entries(counts)) {
          for (const [state, n] of Object.entries(byState)) result.observe(jobs, n ?? 0, { [ATTR.JOB_KIND]: kind, [ATTR.JOB_STATE]: state });
          result.observe(queueDepth, byState.QUEUED ?? 0, { [ATTR.JOB_KIND]: kind });
        }
      }
    },
    [jobs, queueDepth],
  );

  return {
    jobTransition(to, attrs) {
      transitions.add(1, { ...cleanAttributes(attrs), [ATTR.JOB_STATE]: to });
    },
    observeJobs(read) {
      readers.add(read);
      return () => void readers.delete(read);
    },
    epoch(seconds, imagesPerSecond, attrs) {
      const a = cleanAttributes(attrs);
      if (Number.isFinite(seconds) && seconds >= 0) epochDuration.record(seconds, a);
      if (Number.isFinite(imagesPerSecond) && imagesPerSecond >= 0) throughput.record(imagesPerSecond, a);
    },
    attackThroughput(imagesPerSecond, attrs) {
      if (Number.isFinite(imagesPerSecond) && imagesPerSecond >= 0) attack.record(imagesPerSecond, cleanAttributes(attrs));
    },
    rpcDuration(side, seconds, attrs) {
      rpc[side].record(seconds, attrs);
    },
  };
}

/**
 * The process's recorders, created on first use from the global meter provider. Call it after the
 * SDK started (instruments made before that stay no-ops), i.e. not at module load time.
 */
export function getHardenMetrics(): HardenMetrics {
  const provider = metrics.getMeterProvider();
  const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
  const held = holder[KEY];
  if (held && held.meter === meter) return held.metrics;
  const created = { meter, metrics: createHardenMetrics(meter) };
  holder[KEY] = created;
  return created.metrics;
}
