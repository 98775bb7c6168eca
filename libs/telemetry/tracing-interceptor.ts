/**
 * The Connect interceptor that traces RPCs: for servers it continues the caller's W3C trace context
 * (`traceparent` header) and runs the handler inside a SERVER span; for clients it starts a CLIENT
 * span under the active one and injects its context into the request headers. Each RPC's duration
 * goes to `rpc.server.call.duration` / `rpc.client.call.duration`.
 *
 * Use it first in the interceptor list, so later interceptors (logging) see the span:
 *
 *   connectNodeAdapter({ routes, interceptors: [createTracingInterceptor({ side: 'server' })] })
 *   createGrpcTransport({ baseUrl, interceptors: [createTracingInterceptor({ side: 'client' })] })
 *
 * Streaming responses keep their span open until the stream ends, and the handler's generator runs
 * inside it. Request fields users filter on (`model_uri`, `eps`, `attack`, `method`, `dataset`,
 * `suite`, `job_id`, …; see `REQUEST_ATTRIBUTES`) are copied onto the span as `harden.*` attributes,
 * from the first request message (streams too).
 */
import { Code, ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from '@connectrpc/connect';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { ATTR } from './attributes.js';
import { getHardenMetrics } from './metrics.js';
import { cleanAttributes, getTracer } from './spans.js';

/** Request fields (protobuf-es names) copied onto RPC spans, and their attribute keys. */
export const REQUEST_ATTRIBUTES: Readonly<Record<string, string>> = {
  modelUri: ATTR.MODEL_URI,
  arch: ATTR.ARCH,
  eps: ATTR.EPS,
  norm: ATTR.NORM,
  attack: ATTR.ATTACK,
  steps: ATTR.STEPS,
  method: ATTR.METHOD,
  dataset: ATTR.DATASET,
  suite: ATTR.SUITE,
  epochs: ATTR.EPOCHS,
  jobId: ATTR.JOB_ID,
  evaluationId: 'harden.evaluation_id',
  reportId: ATTR.REPORT_ID,
};

/** The span attributes of a request message: its listed scalar fields (zero values are defaults, skipped) and oneof members. */
export function requestAttributes(message: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (typeof message !== 'object' || message === null) return out;
  for (const [field, value] of Object.entries(message as Record<string, unknown>)) {
    // A oneof (`model: { case: 'modelUri', value }`) counts as its member.
    const oneof = value as { case?: unknown; value?: unknown } | null;
    const [name, v] = oneof && typeof oneof === 'object' && typeof oneof.case === 'string' ? [oneof.case, oneof.value] : [field, value];
    const key = REQUEST_ATTRIBUTES[name];
    if (!key || v === '' || v === 0) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = v;
  }
  return out;
}

async function* tapFirst<T>(source: AsyncIterable<T>, onFirst: (message: T) => void): AsyncGenerator<T> {
  let first = true;
  for await (const m of source) {
    if (first) {
      first = false;
      onFirst(m);
    }
    yield m;
  }
}

/** Which end of the call this interceptor sits on. */
export type RpcSide = 'server' | 'client';

export interface TracingInterceptorOptions {
  /**
   * `server` for a server's `interceptors`, `client` for a transport's. `auto` takes a call made
   * while a span is active for a client call, and anything else (a request arriving with or without
   * a `traceparent`) for a served one — right for our services, whose outgoing calls are made inside
   * job or RPC spans; name the side when that does not hold.
   * @default 'auto'
   */
  side?: RpcSide | 'auto';
  /** Record the RPC duration histograms. @default true */
  metrics?: boolean;
  /** Copy request fields onto the span (`REQUEST_ATTRIBUTES`). @default true */
  requestAttributes?: boolean;
}

const headerGetter = {
  get: (h: Headers, key: string) => h.get(key) ?? undefined,
  keys: (h: Headers) => [...h.keys()],
};
const headerSetter = { set: (h: Headers, key: string, value: string) => h.set(key, value) };

/**
 * The status codes that are the server's fault, not the caller's (OpenTelemetry's gRPC conventions
 * for servers): their spans are errors and their log lines carry the cause. The one list.
 */
export const SERVER_FAULT_CODES: ReadonlySet<Code> = new Set<Code>([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

/** `InvalidArgument` → `INVALID_ARGUMENT`, as gRPC spells status codes. */
export function codeName(code: Code | undefined): string {
  if (code === undefined) return 'OK';
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

function rpcSystem(header: Headers): string {
  const type = header.get('content-type') ?? '';
  if (type.startsWith('application/grpc-web')) return 'grpc_web';
  if (type.startsWith('application/grpc')) return 'grpc';
  return 'connect_rpc';
}

/** Ends `span` once (when the stream ends, fails or is abandoned) and reports the outcome. */
type Finish = (error: unknown) => void;

async function* traced<T>(source: AsyncIterable<T>, ctx: Context, finish: Finish): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let failure: unknown;
  try {
    for (;;) {
      // Each step of a server handler's generator runs inside the RPC span.
      const r = await context.with(ctx, () => it.next());
      if (r.done) return;
      yield r.value;
    }
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    if (failure === undefined) await it.return?.();
    finish(failure);
  }
}

/** Creates the tracing interceptor for one side of Connect calls. */
export function createTracingInterceptor(options: TracingInterceptorOptions = {}): Interceptor {
  const side = options.side ?? 'auto';
  const withMetrics = options.metrics !== false;
  return (next) => async (req) => {
    const isServer = side === 'server' || (side === 'auto' && trace.getSpan(context.active()) === undefined);
    const parent = isServer ? propagation.extract(context.active(), req.header, headerGetter) : context.active();
    const attributes: Attributes = {
      'rpc.system': rpcSystem(req.header),
      'rpc.service': req.service.typeName,
      'rpc.method': req.method.name,
    };
    const span: Span = getTracer().startSpan(`${req.service.typeName}/${req.method.name}`, { kind: isServer ? SpanKind.SERVER : SpanKind.CLIENT, attributes }, parent);
    const ctx = trace.setSpan(parent, span);
    if (!isServer) propagation.inject(ctx, req.header, headerSetter);
    if (options.requestAttributes !== false) {
      if (!req.stream) span.setAttributes(cleanAttributes(requestAttributes(req.message)));
      else req = { ...req, message: tapFirst(req.message, (m) => span.setAttributes(cleanAttributes(requestAttributes(m)))) };
    }
    const started = performance.now();
    let finished = false;
    const finish: Finish = (error) => {
      if (finished) return;
      finished = true;
      const code = error === undefined ? undefined : ConnectError.from(error).code;
      const status = codeName(code);
      span.setAttribute('rpc.response.status_code', status);
      if (attributes['rpc.system'] === 'grpc') span.setAttribute('rpc.grpc.status_code', code ?? 0);
      if (error !== undefined) {
        const err = ConnectError.from(error);
        if (!isServer || SERVER_FAULT_CODES.has(err.code)) {
          span.recordException(err);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err.rawMessage });
        }
      }
      span.end();
      if (withMetrics) getHardenMetrics().rpcDuration(isServer ? 'server' : 'client', (performance.now() - started) / 1000, { ...attributes, 'rpc.response.status_code': status });
    };
    let res: UnaryResponse | StreamResponse;
    try {
      res = await context.with(ctx, () => next(req));
    } catch (error) {
      finish(error);
      throw error;
    }
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    return { ...res, message: traced(res.message, ctx, finish) } as StreamResponse;
  };
}
