/**
 * Spans from compute threads. A job's training or evaluation runs in a worker thread (libs/jobs
 * `runWorkerTask`), which has its own JavaScript realm and so no SDK: `withTaskSpan` starts one there
 * (traces only; the main thread exports the metrics), runs the task inside a span whose parent is
 * the trace context the caller put in the task's payload (`traceContextCarrier()`), and flushes the
 * thread's spans when the task ends. In the main thread it is a plain `withSpan`. So checkpoint
 * uploads and report writes (`traceStore`) land in the job's trace.
 */
import { isMainThread } from 'node:worker_threads';
import { contextFromCarrier, withSpan, type SpanAttributes } from './spans.js';
import { shutdownTelemetry, startTelemetry } from './sdk.js';
import { context } from '@opentelemetry/api';

/** Runs `fn` in a span named `name`, child of `carrier`'s span (see the module comment). */
export async function withTaskSpan<T>(name: string, attrs: SpanAttributes, carrier: Record<string, string> | undefined, fn: () => Promise<T>): Promise<T> {
  const inThread = !isMainThread;
  if (inThread) startTelemetry({ metrics: false, grpcInstrumentation: false });
  try {
    return await withSpan(name, attrs, fn, { parent: carrier?.traceparent ? contextFromCarrier(carrier) : context.active() });
  } finally {
    if (inThread) await shutdownTelemetry();
  }
}
