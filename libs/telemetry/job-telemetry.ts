/**
 * Jobs in traces and metrics without tracing code in the job compute:
 *
 * - `traceJobExecutor(execute)` wraps a job runner's `execute` function: each attempt runs inside a
 *   `harden.job` span. Its parent is the trace context the job was submitted in, when the job
 *   carries one — so a job that waited in the queue, or resumes after a restart, still belongs to
 *   the caller's trace — else the active context.
 * - `rememberTraceContext(store, id)` keeps the active trace context with a job just created, in its
 *   outputs under `traceContext` (not in the spec: the spec is compared for idempotent retries, and
 *   a retry carries another trace context). Clients never see it (the RPC maps named outputs only).
 * - `instrumentJobStore(store, kinds)` feeds the job gauges from the store's own counts and counts
 *   state transitions from its events.
 *
 * Types are structural, so libs/jobs does not depend on this module or the other way round.
 */
import { ATTR, SPAN } from './attributes.js';
import { getHardenMetrics, type HardenMetrics, type JobStateName } from './metrics.js';
import { contextFromCarrier, traceContextCarrier, withSpan, type SpanAttributes } from './spans.js';
import { context } from '@opentelemetry/api';

/** What `traceJobExecutor` reads of a job context (libs/jobs `JobContext`). */
export interface TracedJobContext {
  readonly job: { readonly id: string; readonly kind: string; readonly spec: unknown; readonly outputs?: unknown; readonly attempts: number };
  readonly resumed: boolean;
}

/** Outputs key under which `rememberTraceContext` keeps a job's trace context. */
export const TRACE_CONTEXT_KEY = 'traceContext';

/** The trace context a job carries (in its outputs, or its spec), if any. */
export function jobTraceContext(job: { spec?: unknown; outputs?: unknown }): Record<string, string> | undefined {
  for (const holder of [job.outputs, job.spec]) {
    const carrier = (holder as Record<string, unknown> | null | undefined)?.[TRACE_CONTEXT_KEY];
    if (!carrier || typeof carrier !== 'object') continue;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(carrier)) if (typeof v === 'string') out[k] = v;
    if (out.traceparent) return out;
  }
  return undefined;
}

/** Stores the active trace context with job `id` (call right after creating it); no-op when untraced. */
export function rememberTraceContext(store: { setOutputs(id: string, outputs: Record<string, unknown>): void }, id: string): void {
  const carrier = traceContextCarrier();
  if (carrier.traceparent) store.setOutputs(id, { [TRACE_CONTEXT_KEY]: carrier });
}

/**
 * Wraps `execute` so each attempt is a `harden.job` span (job id, kind, attempt, resumed, and
 * `attrs(ctx)`, e.g. method, ε, data set).
 */
export function traceJobExecutor<C extends TracedJobContext, R>(execute: (ctx: C) => Promise<R>, attrs?: (ctx: C) => SpanAttributes): (ctx: C) => Promise<R> {
  return (ctx) => {
    const carrier = jobTraceContext(ctx.job);
    const parent = carrier ? contextFromCarrier(carrier) : context.active();
    return withSpan(
      SPAN.JOB,
      { [ATTR.JOB_ID]: ctx.job.id, [ATTR.JOB_KIND]: ctx.job.kind, 'harden.attempt': ctx.job.attempts, 'harden.resumed': ctx.resumed, ...attrs?.(ctx) },
      () => execute(ctx),
      { parent },
    );
  };
}

/** What `instrumentJobStore` reads of a job store (libs/jobs `JobStore`). */
export interface ObservableJobStore {
  counts(kind: string): Record<string, number>;
  subscribe(id: string, listener: (event: { jobId: string; type: string; data: Record<string, unknown> }) => void): () => void;
  find(id: string): { kind: string } | undefined;
}

/** Feeds `harden.jobs`, `harden.jobs.queue_depth` and `harden.jobs.transitions` from `store`. @returns stop */
export function instrumentJobStore(store: ObservableJobStore, kinds: readonly string[], metrics: HardenMetrics = getHardenMetrics()): () => void {
  const stopObserving = metrics.observeJobs(() => Object.fromEntries(kinds.map((k) => [k, store.counts(k) as Partial<Record<JobStateName, number>>])));
  const unsubscribe = store.subscribe('*', (event) => {
    if (event.type !== 'state' || typeof event.data.state !== 'string') return;
    const kind = store.find(event.jobId)?.kind;
    metrics.jobTransition(event.data.state as JobStateName, { [ATTR.JOB_KIND]: kind });
  });
  return () => {
    stopObserving();
    unsubscribe();
  };
}
