/**
 * An OTLP/HTTP receiver for tests: accepts `POST /v1/traces` and `/v1/metrics` in the JSON encoding
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`, gzip or not) and keeps the spans, flattened, with the
 * `service.name` of the process that sent them.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

/** One received span. Ids are lowercase hex, as OTLP/JSON writes them. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean | undefined>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export interface OtlpReceiver {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  spans(): ReceivedSpan[];
  /** Names of the metrics received, by service. */
  metricNames(): Map<string, Set<string>>;
  /** Resolves when `predicate` holds for the spans received, or rejects after `timeoutMs`. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

function value(v: AnyValue | undefined): string | number | boolean | undefined {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return undefined;
}

function attrs(list: KeyValue[] | undefined): Record<string, string | number | boolean | undefined> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/** Starts the receiver on a free loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics = new Map<string, Set<string>>();
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    body(req).then(
      (buf) => {
        if (req.method === 'POST' && !String(req.headers['content-type'] ?? '').includes('json')) {
          res.writeHead(415).end('this receiver speaks OTLP/JSON only');
          return;
        }
        const doc = buf.length ? (JSON.parse(buf.toString('utf8')) as Record<string, unknown>) : {};
        if (req.url === '/v1/traces') {
          for (const rs of (doc.resourceSpans as Array<Record<string, unknown>>) ?? []) {
            const service = String(attrs((rs.resource as { attributes?: KeyValue[] })?.attributes)['service.name'] ?? '');
            for (const ss of (rs.scopeSpans as Array<{ spans?: Array<Record<string, unknown>> }>) ?? []) {
              for (const s of ss.spans ?? []) {
                spans.push({
                  service,
                  traceId: String(s.traceId).toLowerCase(),
                  spanId: String(s.spanId).toLowerCase(),
                  parentSpanId: s.parentSpanId ? String(s.parentSpanId).toLowerCase() : undefined,
                  name: String(s.name),
                  kind: Number(s.kind ?? 0),
                  startNs: BigInt(String(s.startTimeUnixNano ?? 0)),
                  endNs: BigInt(String(s.endTimeUnixNano ?? 0)),
                  attributes: attrs(s.attributes as KeyValue[]),
                  statusCode: Number((s.status as { code?: number } | undefined)?.code ?? 0),
                });
              }
            }
          }
        } else if (req.url === '/v1/metrics') {
          for (const rm of (doc.resourceMetrics as Array<Record<string, unknown>>) ?? []) {
            const service = String(attrs((rm.resource as { attributes?: KeyValue[] })?.attributes)['service.name'] ?? '');
            const names = metrics.get(service) ?? new Set<string>();
            metrics.set(service, names);
            for (const sm of (rm.scopeMetrics as Array<{ metrics?: Array<{ name: string }> }>) ?? []) for (const m of sm.metrics ?? []) names.add(m.name);
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        for (const w of waiters) w();
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...spans],
    metricNames: () => metrics,
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(spans)) return false;
          cleanup();
          resolve([...spans]);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for spans; got ${spans.map((s) => `${s.service}:${s.name}`).join(', ') || 'none'}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(onData);
        };
        const onData = () => void check();
        waiters.add(onData);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
