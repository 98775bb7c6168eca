/**
 * Span helpers: `withSpan` runs a function inside a child span of the active one, and the trace
 * context helpers carry a trace across a process boundary that is not an RPC (a Kubernetes worker
 * pod gets `TRACEPARENT` in its environment; a job record keeps the context it was submitted in).
 *
 * All of it is cheap when telemetry is off: the API's no-op tracer makes non-recording spans.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { INSTRUMENTATION_SCOPE } from './attributes.js';
import { TELEMETRY_ENV } from './config.js';

/** Attribute values as callers have them; `undefined` and non-finite numbers are dropped. */
export type SpanAttributes = Record<string, AttributeValue | undefined | null>;

/** Options of `withSpan`. */
export interface WithSpanOptions {
  /** @default SpanKind.INTERNAL */
  kind?: SpanKind;
  /** Parent context. @default the active context */
  parent?: Context;
  links?: Link[];
}

/** The tracer harden's own spans are made with. */
export function getTracer(): Tracer {
  return trace.getTracer(INSTRUMENTATION_SCOPE);
}

/** `attrs` without the values OpenTelemetry would reject (`undefined`, `null`, NaN, ±Infinity). */
export function cleanAttributes(attrs: SpanAttributes | undefined): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null) continue;
    if (typeof v === 'number' && !Number.isFinite(v)) continue;
    out[k] = v;
  }
  return out;
}

/** Whether an error means "cancelled", which is not a failure of the span's work. */
export function isAbortError(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | undefined;
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR' || e?.code === 'cancelled';
}

/** Marks `span` as failed by `error` (an abort only gets `harden.cancelled = true`). */
export function recordError(span: Span, error: unknown): void {
  if (isAbortError(error)) {
    span.setAttribute('harden.cancelled', true);
    return;
  }
  const e = error instanceof Error ? error : new Error(String(error));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

/**
 * Runs `fn` inside a new span named `name`, child of the active span (or `options.parent`), and ends
 * the span when `fn` settles. A throw marks the span as failed (status ERROR, exception event) and is
 * rethrown. `fn` gets the span to add attributes found on the way (e.g. `harden.img_per_s`).
 *
 * @example await withSpan(SPAN.EPOCH, { [ATTR.EPOCH]: 3 }, async (span) => { …; span.setAttribute(ATTR.IMG_PER_S, 212) })
 */
export async function withSpan<T>(name: string, attrs: SpanAttributes, fn: (span: Span) => Promise<T> | T, options: WithSpanOptions = {}): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = getTracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: cleanAttributes(attrs), links: options.links }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * The active trace context as W3C headers (`traceparent`, and `tracestate`/`baggage` when present),
 * or `{}` when nothing is traced. Store it with a job to continue the trace later or elsewhere.
 */
export function traceContextCarrier(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** A context whose parent is the span a carrier (from `traceContextCarrier`) names. */
export function contextFromCarrier(carrier: Record<string, string | undefined> | undefined): Context {
  if (!carrier) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier, {
    get: (c, key) => c[key] ?? undefined,
    keys: (c) => Object.keys(c),
  });
}

/**
 * The active trace context as environment variables (`TRACEPARENT`, `TRACESTATE`) for a child
 * process or pod, or `{}` when nothing is traced.
 */
export function traceContextEnv(ctx: Context = context.active()): Record<string, string> {
  const carrier = traceContextCarrier(ctx);
  const env: Record<string, string> = {};
  if (carrier.traceparent) env[TELEMETRY_ENV.TRACEPARENT] = carrier.traceparent;
  if (carrier.tracestate) env[TELEMETRY_ENV.TRACESTATE] = carrier.tracestate;
  return env;
}

/** The context `traceContextEnv` handed to this process, or the root context. */
export function contextFromEnv(env: Record<string, string | undefined> = process.env): Context {
  const traceparent = env[TELEMETRY_ENV.TRACEPARENT];
  if (!traceparent) return ROOT_CONTEXT;
  return contextFromCarrier({ traceparent, tracestate: env[TELEMETRY_ENV.TRACESTATE] });
}

/** Trace and span id of the active span, for logs and error details; undefined when not traced. */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return undefined;
  return { traceId: sc.traceId, spanId: sc.spanId };
}
