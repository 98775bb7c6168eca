import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLogger } from './logger.js';
import { withSpan } from './spans.js';
import { startTestTelemetry } from './testing.fixture.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

function capture(level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  const logger = createLogger('unit', { level, write: (l) => void lines.push(l), now: () => new Date('2025-01-02T03:04:05.000Z') });
  return { logger, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>), lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, component and message first', () => {
    const { logger, lines } = capture();
    logger.info('started', { port: 8080 });
    assert.equal(lines[0], '{"time":"2025-01-02T03:04:05.000Z","level":"info","component":"unit","msg":"started","port":8080}\n');
  });
  it('adds the active span’s trace and span ids', async () => {
    const { logger, records } = capture();
    await withSpan('op', {}, () => logger.warn('inside'));
    const span = telemetry.span('op');
    assert.equal(records()[0].trace_id, span.spanContext().traceId);
    assert.equal(records()[0].span_id, span.spanContext().spanId);
  });
  it('filters by level and serialises errors with code and cause', () => {
    const { logger, records } = capture('warn');
    logger.info('dropped');
    logger.debug('dropped');
    const err = Object.assign(new Error('outer', { cause: new Error('inner') }), { code: 'not-found' });
    logger.error('failed', { error: err });
    assert.equal(records().length, 1);
    const e = records()[0].error as Record<string, unknown>;
    assert.equal(e.message, 'outer');
    assert.equal(e.code, 'not-found');
    assert.equal((e.cause as Record<string, unknown>).message, 'inner');
    assert.equal(logger.enabled('info'), false);
  });
  it('child loggers carry their fields; reserved keys are not overwritten', () => {
    const { logger, records } = capture();
    logger.child({ job_id: 'j1' }).info('x', { msg: 'nope', n: 2 });
    const r = records()[0];
    assert.equal(r.job_id, 'j1');
    assert.equal(r.msg, 'x');
    assert.equal(r.n, 2);
  });
  it('survives unserialisable fields', () => {
    const { logger, records } = capture();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    logger.info('cyclic', { cyclic });
    assert.equal(records()[0].msg, 'cyclic');
  });
});
