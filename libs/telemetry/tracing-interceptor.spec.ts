import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from '@connectrpc/connect';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createLogger } from './logger.js';
import { createLoggingInterceptor } from './logging-interceptor.js';
import { echoService, parentOf, startTestTelemetry } from './testing.fixture.js';
import { createTracingInterceptor, requestAttributes } from './tracing-interceptor.js';
import { withSpan } from './spans.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

const { service } = echoService();
const lines: string[] = [];
const seenTraceparent: string[] = [];

function transport(server: Interceptor[], client: Interceptor[]) {
  return createRouterTransport(
    ({ service: add }) => {
      add(service, {
        async say(req: { text: string }, ctx: { requestHeader: Headers }) {
          seenTraceparent.push(ctx.requestHeader.get('traceparent') ?? '');
          if (req.text === 'boom') throw new ConnectError('broken', Code.Internal);
          if (req.text === 'bad') throw new ConnectError('bad input', Code.InvalidArgument);
          return withSpan('handler.work', {}, () => ({ text: req.text.toUpperCase() }));
        },
        async *count(req: { text: string }) {
          for (let i = 0; i < 3; i++) yield await withSpan('handler.item', { i }, () => ({ text: `${req.text}${i}` }));
        },
      } as never);
    },
    { router: { interceptors: server }, transport: { interceptors: client } },
  );
}

describe('createTracingInterceptor', () => {
  beforeEach(() => {
    telemetry.reset();
    lines.length = 0;
    seenTraceparent.length = 0;
  });
  const logger = createLogger('rpc', { write: (l) => void lines.push(l) });
  const client = createClient(service, transport([createTracingInterceptor({ side: 'server' }), createLoggingInterceptor(logger)], [createTracingInterceptor({ side: 'client' })])) as unknown as {
    say(m: { text: string }): Promise<{ text: string }>;
    count(m: { text: string }): AsyncIterable<{ text: string }>;
  };

  it('nests caller → client span → server span → handler span in one trace, via the traceparent header', async () => {
    const res = await withSpan('caller', {}, () => client.say({ text: 'hi' }));
    assert.equal(res.text, 'HI');
    const caller = telemetry.span('caller');
    const clientSpan = telemetry.spans().find((s) => s.name === 'test.v1.Echo/Say' && s.kind === SpanKind.CLIENT)!;
    const serverSpan = telemetry.spans().find((s) => s.name === 'test.v1.Echo/Say' && s.kind === SpanKind.SERVER)!;
    const work = telemetry.span('handler.work');
    assert.ok(clientSpan && serverSpan);
    for (const s of [clientSpan, serverSpan, work]) assert.equal(s.spanContext().traceId, caller.spanContext().traceId);
    assert.equal(parentOf(clientSpan), caller.spanContext().spanId);
    assert.equal(parentOf(serverSpan), clientSpan.spanContext().spanId);
    assert.equal(parentOf(work), serverSpan.spanContext().spanId);
    assert.equal(seenTraceparent[0], `00-${caller.spanContext().traceId}-${clientSpan.spanContext().spanId}-01`);
    assert.equal(serverSpan.attributes['rpc.service'], 'test.v1.Echo');
    assert.equal(serverSpan.attributes['rpc.method'], 'Say');
    assert.equal(serverSpan.attributes['rpc.response.status_code'], 'OK');
  });

  it('keeps a streaming RPC span open until the stream ends, with the handler inside it', async () => {
    const got: string[] = [];
    for await (const m of client.count({ text: 'n' })) got.push(m.text);
    assert.deepEqual(got, ['n0', 'n1', 'n2']);
    const serverSpan = telemetry.spans().find((s) => s.name === 'test.v1.Echo/Count' && s.kind === SpanKind.SERVER)!;
    const items = telemetry.spans().filter((s) => s.name === 'handler.item');
    assert.equal(items.length, 3);
    for (const item of items) assert.equal(parentOf(item), serverSpan.spanContext().spanId);
    const end = (t: [number, number]) => t[0] * 1e9 + t[1];
    // Each SDK span anchors its clock to Date.now() when it starts (millisecond precision), so the
    // times of two spans can be off by up to 1 ms against each other.
    assert.ok(end(serverSpan.endTime) + 1e6 >= Math.max(...items.map((i) => end(i.endTime))), 'server span ends after the last item');
  });

  it('marks server faults as errors on both sides, caller errors only on the client', async () => {
    await assert.rejects(client.say({ text: 'boom' }), (e: ConnectError) => e.code === Code.Internal);
    const [c1, s1] = [SpanKind.CLIENT, SpanKind.SERVER].map((k) => telemetry.spans().find((s) => s.kind === k)!);
    assert.equal(s1.status.code, SpanStatusCode.ERROR);
    assert.equal(c1.status.code, SpanStatusCode.ERROR);
    assert.equal(s1.attributes['rpc.response.status_code'], 'INTERNAL');
    telemetry.reset();
    await assert.rejects(client.say({ text: 'bad' }), (e: ConnectError) => e.code === Code.InvalidArgument);
    const [c2, s2] = [SpanKind.CLIENT, SpanKind.SERVER].map((k) => telemetry.spans().find((s) => s.kind === k)!);
    assert.notEqual(s2.status.code, SpanStatusCode.ERROR);
    assert.equal(s2.attributes['rpc.response.status_code'], 'INVALID_ARGUMENT');
    assert.equal(c2.status.code, SpanStatusCode.ERROR);
  });

  it('logs one line per RPC with the server span’s trace id', async () => {
    await client.say({ text: 'log' });
    await assert.rejects(client.say({ text: 'boom' }));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(records.length, 2);
    assert.equal(records[0].rpc, 'test.v1.Echo/Say');
    assert.equal(records[0].code, 'OK');
    assert.equal(records[1].level, 'error');
    assert.equal(records[1].code, 'INTERNAL');
    const servers = telemetry.spans().filter((s) => s.kind === SpanKind.SERVER);
    assert.deepEqual(records.map((r) => r.span_id), servers.map((s) => s.spanContext().spanId));
  });

  it('records RPC durations by method and status', async () => {
    await client.say({ text: 'm' });
    const points = await telemetry.points('rpc.server.call.duration');
    const ok = points.find((p) => p.attributes['rpc.method'] === 'Say' && p.attributes['rpc.response.status_code'] === 'OK');
    assert.ok(ok, 'a server duration point for Say/OK');
    assert.ok(((ok.value as { count: number }).count) >= 1);
    assert.ok((await telemetry.points('rpc.client.call.duration')).length > 0);
  });

  it('copies the request fields users filter on, from unary and streaming requests', async () => {
    await client.say({ text: 'x' });
    assert.deepEqual(requestAttributes({ model: { case: 'modelUri', value: 'file:///m' }, eps: 0.3, attack: 'pgd', steps: 0, dataset: '', other: 'x' }), { 'harden.model_uri': 'file:///m', 'harden.eps': 0.3, 'harden.attack': 'pgd' });
    const header = new Headers();
    const stream = async function* () {
      yield { modelUri: 'file:///n', eps: 0.1 };
    };
    const interceptor = createTracingInterceptor({ side: 'server' });
    const req = { service, method: service.methods[1], header, stream: true, message: stream(), url: 'http://x/test.v1.Echo/Count', requestMethod: 'POST', signal: new AbortController().signal, contextValues: undefined } as never;
    await interceptor(async (r) => {
      for await (const _ of (r as { message: AsyncIterable<unknown> }).message) void _;
      return { stream: true, message: (async function* () {})(), header: new Headers(), trailer: new Headers() } as never;
    })(req).then(async (res) => {
      for await (const _ of (res as { message: AsyncIterable<unknown> }).message) void _;
    });
    const span = telemetry.spans().at(-1)!;
    assert.equal(span.attributes['harden.model_uri'], 'file:///n');
    assert.equal(span.attributes['harden.eps'], 0.1);
  });

  it('auto side: a request with a traceparent and no active span is served as a child of it', async () => {
    const auto = createTracingInterceptor();
    const header = new Headers({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const req = { service, method: service.methods[0], header, stream: false, message: {}, url: 'http://x/test.v1.Echo/Say', requestMethod: 'POST', signal: new AbortController().signal, contextValues: undefined } as never;
    await auto(async () => ({ stream: false, message: {}, header: new Headers(), trailer: new Headers() }) as never)(req);
    const span = telemetry.spans().at(-1)!;
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(parentOf(span), 'b7ad6b7169203331');
  });
});
