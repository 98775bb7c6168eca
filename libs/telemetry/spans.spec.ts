import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { context, SpanStatusCode } from '@opentelemetry/api';
import { activeTraceIds, contextFromCarrier, contextFromEnv, traceContextCarrier, traceContextEnv, withSpan } from './spans.js';
import { parentOf, startTestTelemetry } from './testing.fixture.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

describe('withSpan', () => {
  beforeEach(() => telemetry.reset());

  it('nests spans and drops attributes OpenTelemetry would reject', async () => {
    const v = await withSpan('outer', { a: 1, b: undefined, c: Number.NaN, d: 'x' }, () => withSpan('inner', {}, async () => 42));
    assert.equal(v, 42);
    const outer = telemetry.span('outer');
    assert.equal(parentOf(telemetry.span('inner')), outer.spanContext().spanId);
    assert.deepEqual(outer.attributes, { a: 1, d: 'x' });
  });

  it('marks a throw as an error and rethrows; an abort is not an error', async () => {
    await assert.rejects(withSpan('fails', {}, () => { throw new Error('nope'); }), /nope/);
    const failed = telemetry.span('fails');
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.events[0].name, 'exception');
    const abort = new AbortController();
    abort.abort();
    await assert.rejects(withSpan('aborted', {}, () => { abort.signal.throwIfAborted(); }));
    const aborted = telemetry.span('aborted');
    assert.notEqual(aborted.status.code, SpanStatusCode.ERROR);
    assert.equal(aborted.attributes['harden.cancelled'], true);
  });
});

describe('trace context across processes', () => {
  it('round-trips through a carrier (stored with a job) and through TRACEPARENT (a worker pod)', async () => {
    let carrier: Record<string, string> = {};
    let env: Record<string, string> = {};
    await withSpan('submit', {}, () => {
      carrier = traceContextCarrier();
      env = traceContextEnv();
    });
    const submit = telemetry.span('submit');
    assert.match(carrier.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.equal(env.TRACEPARENT, carrier.traceparent);
    await withSpan('resumed', {}, () => assert.equal(activeTraceIds()?.traceId, submit.spanContext().traceId), { parent: contextFromCarrier(carrier) });
    await withSpan('worker', {}, () => undefined, { parent: contextFromEnv(env) });
    assert.equal(parentOf(telemetry.span('resumed')), submit.spanContext().spanId);
    assert.equal(telemetry.span('worker').spanContext().traceId, submit.spanContext().traceId);
  });
  it('gives nothing when not traced', () => {
    assert.deepEqual(traceContextEnv(context.active()), {});
    assert.equal(activeTraceIds(), undefined);
    assert.deepEqual(contextFromEnv({}), contextFromCarrier(undefined));
  });
});
