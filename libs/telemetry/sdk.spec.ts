import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { startOtlpReceiver } from './otlp-receiver.fixture.js';

const REGISTER = new URL('./register.js', import.meta.url).pathname;

// Each case runs in a child process: the SDK is process-wide state.
function run(env: Record<string, string>, script: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && k !== 'NODE_OPTIONS'));
  return spawnSync(process.execPath, ['--import', REGISTER, '--input-type=module', '-e', script], { env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 });
}

const PROGRAM = `
  const t = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
  const status = t.telemetryStatus();
  await t.withSpan('unit.work', { 'harden.method': 'd2r', 'harden.eps': 0.031 }, async () => {
    t.createLogger('unit').info('inside', { n: 1 });
  });
  t.getHardenMetrics().jobTransition('QUEUED');
  await t.shutdownTelemetry();
  process.stdout.write(JSON.stringify(status));
`;

describe('startTelemetry through register.js', () => {
  it('is off by default (embedded mode) and logs without trace ids', () => {
    const r = run({}, PROGRAM);
    assert.equal(r.status, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { enabled: boolean; started: boolean };
    assert.equal(status.enabled, false);
    assert.equal(status.started, false);
    const line = JSON.parse(r.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(line.msg, 'inside');
    assert.equal(line.trace_id, undefined);
  });

  it('OTEL_SDK_DISABLED=true wins over an endpoint', () => {
    const r = run({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, PROGRAM);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { started: boolean }).started, false);
  });

  it('exports spans and metrics as OTLP/JSON to the endpoint, with trace ids in the logs', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'unit-test' };
      // spawnSync would block the receiver's event loop: run the child asynchronously.
      const { spawn } = await import('node:child_process');
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && k !== 'NODE_OPTIONS'));
      const child = spawn(process.execPath, ['--import', REGISTER, '--input-type=module', '-e', PROGRAM], { env: { ...clean, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, stderr);
      assert.equal((JSON.parse(stdout) as { started: boolean }).started, true);
      const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'unit.work'), 10_000);
      const work = spans.find((s) => s.name === 'unit.work')!;
      assert.equal(work.service, 'unit-test');
      assert.equal(work.attributes['harden.method'], 'd2r');
      assert.equal(work.attributes['harden.eps'], 0.031);
      const log = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'inside')!;
      assert.equal(log.trace_id, work.traceId);
      assert.equal(log.span_id, work.spanId);
      assert.ok(receiver.metricNames().get('unit-test')?.has('harden.jobs.transitions'), 'metrics flushed at shutdown');
    } finally {
      await receiver.close();
    }
  });
});
