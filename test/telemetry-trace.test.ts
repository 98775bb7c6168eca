/**
 * One trace across processes: the training and evaluation services run as separate `harden serve`
 * processes (started through the telemetry register module, as the container does) exporting
 * OTLP/JSON to a receiver this test runs. A Harden call carrying a known `traceparent` must produce
 * one trace: the training process's Harden server span → its job span → epoch spans and the
 * Evaluate client span → the evaluation process's Evaluate server span → its job span → one span
 * per attack; the checkpoint and report uploads (made in worker threads) nest inside. Metrics arrive
 * too, and the services' log lines carry the trace id.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createServiceClient, createTransport } from '../libs/rpc/index.js';
import { HardeningService } from '../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../libs/telemetry/otlp-receiver.fixture.js';
import { tinyHardenRequest } from './rpc-helpers.js';

const CLI = new URL('../cli/main.js', import.meta.url).pathname;
const REGISTER = new URL('../libs/telemetry/register.js', import.meta.url).pathname;
const SERVER = 2; // OTLP span kinds
const CLIENT = 3;

interface Service {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
}

function serve(args: string[], env: Record<string, string>): Promise<Service> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && k !== 'NODE_OPTIONS'));
  const child = spawn(process.execPath, ['--import', REGISTER, CLI, 'serve', '--port', '0', '--json', '--backend', 'wasm', '--no-dashboard', ...args], { env: { ...clean, HARDEN_WORKERS: '1', ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`harden serve ${args.join(' ')} did not start: ${stderr}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      resolve({ child, url: (JSON.parse(line) as { url: string }).url, stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`harden serve exited with ${code}: ${stderr}`)));
  });
}

async function stop(s: Service | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.on('exit', resolve));
  s.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
  if (s.child.exitCode === null) s.child.kill('SIGKILL');
}

describe('one trace across the training and evaluation processes', () => {
  let receiver: OtlpReceiver;
  let dir: string;
  let evaluation: Service | undefined;
  let training: Service | undefined;

  before(async () => {
    receiver = await startOtlpReceiver();
    dir = mkdtempSync(join(tmpdir(), 'harden-trace-'));
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_METRIC_EXPORT_INTERVAL: '1000' };
    const store = pathToFileURL(join(dir, 'store')).href;
    evaluation = await serve(['--service', 'evaluation', '--store', store, '--state', join(dir, 'evaluation')], env);
    training = await serve(['--service', 'training', '--store', store, '--state', join(dir, 'training'), '--evaluation-url', evaluation.url], env);
  });
  after(async () => {
    await Promise.all([stop(training), stop(evaluation)]);
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('links Harden, the job, its epochs, the Evaluate call and the attacks in one trace', { timeout: 300_000 }, async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const client = createServiceClient(HardeningService, createTransport({ address: training!.url, protocol: 'grpc' }));
    const { arch, ...rest } = tinyHardenRequest({ requestId: 'traced-1' });
    const request = { ...rest, model: { case: 'arch', value: arch } };
    const { job } = await client.harden(request as never, { headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } });
    const jobId = job!.jobId;
    let state = job!.state;
    const deadline = Date.now() + 240_000;
    while (state !== JobState.SUCCEEDED && state !== JobState.FAILED && state !== JobState.CANCELLED) {
      assert.ok(Date.now() < deadline, 'the job ends within 4 minutes');
      await new Promise((r) => setTimeout(r, 500));
      state = (await client.getJob({ jobId })).job!.state;
    }
    assert.equal(state, JobState.SUCCEEDED);
    // SIGTERM: each server drains, then flushes its spans and a last metric export.
    await Promise.all([stop(training), stop(evaluation)]);

    const spans = receiver.spans().filter((s) => s.traceId === traceId);
    const services = new Set(spans.map((s) => s.service));
    assert.ok(services.has('harden-training') && services.has('harden-evaluation'), `spans of both processes share the trace; got ${[...services].join(', ')}`);
    const find = (service: string, name: string, kind?: number, predicate: (s: ReceivedSpan) => boolean = () => true) => {
      const s = spans.find((x) => x.service === service && x.name === name && (kind === undefined || x.kind === kind) && predicate(x));
      assert.ok(s, `a ${name} span from ${service}; have ${spans.map((x) => `${x.service}:${x.name}`).join(', ')}`);
      return s;
    };
    const harden = find('harden-training', 'robustness.v1.HardeningService/Harden', SERVER);
    assert.equal(harden.parentSpanId, callerSpanId, 'Harden continues the caller’s trace context');
    assert.equal(harden.attributes['harden.method'], 'standard', 'request fields are span attributes');
    assert.equal(harden.attributes['harden.arch'], 'small-cnn');
    const trainJob = find('harden-training', 'harden.job', undefined, (s) => s.attributes['harden.job_id'] === jobId);
    assert.equal(trainJob.parentSpanId, harden.spanId);
    assert.equal(trainJob.attributes['harden.method'], 'standard');
    assert.equal(trainJob.attributes['harden.dataset'], 'mnist');
    const epoch = find('harden-training', 'harden.epoch');
    assert.equal(epoch.parentSpanId, trainJob.spanId);
    assert.ok(Number(epoch.attributes['harden.img_per_s']) > 0, 'epochs carry img/s');
    // The training thread's spans (its own SDK in the worker thread): checkpoint uploads in the job's trace.
    const trainTask = find('harden-training', 'harden.train');
    assert.equal(trainTask.parentSpanId, trainJob.spanId);
    const checkpointPut = find('harden-training', 'storage.put', CLIENT, (s) => String(s.attributes['harden.store_uri']).includes('/checkpoints'));
    const ancestors = (s: ReceivedSpan): string[] => {
      const parent = spans.find((x) => x.spanId === s.parentSpanId);
      return parent ? [parent.spanId, ...ancestors(parent)] : [];
    };
    assert.ok(ancestors(checkpointPut).includes(trainTask.spanId), 'checkpoint uploads nest under the training task');
    const evalClient = find('harden-training', 'robustness.v1.EvaluationService/Evaluate', CLIENT);
    assert.equal(evalClient.parentSpanId, trainJob.spanId);
    const evalServer = find('harden-evaluation', 'robustness.v1.EvaluationService/Evaluate', SERVER);
    assert.equal(evalServer.parentSpanId, evalClient.spanId, 'the evaluation process continues the training process’s span');
    const evalJob = find('harden-evaluation', 'harden.job', undefined, (s) => s.attributes['harden.job_kind'] === 'evaluate');
    assert.equal(evalJob.parentSpanId, evalServer.spanId);
    const attacks = spans.filter((s) => s.service === 'harden-evaluation' && s.name === 'harden.attack');
    assert.deepEqual(attacks.map((a) => a.attributes['harden.attack']).sort(), ['cw-20', 'fgsm', 'pgd-20']);
    for (const a of attacks) assert.equal(a.parentSpanId, evalJob.spanId);
    const reportPut = find('harden-evaluation', 'storage.put', CLIENT, (s) => String(s.attributes['harden.storage.key']).endsWith('report.json'));
    assert.ok(ancestors(reportPut).includes(evalJob.spanId), 'the report upload nests under the evaluation job');
    for (const s of [trainJob, epoch, evalJob, ...attacks]) assert.ok(s.startNs >= harden.startNs, `${s.name} starts after Harden`);

    const metrics = receiver.metricNames();
    for (const name of ['harden.jobs', 'harden.jobs.transitions', 'harden.training.epoch.duration', 'rpc.server.call.duration']) assert.ok(metrics.get('harden-training')?.has(name), `harden-training exports ${name}`);
    assert.ok(metrics.get('harden-evaluation')?.has('harden.attack.throughput'), 'harden-evaluation exports attack throughput');

    const logged = training!.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(logged.some((l) => l.trace_id === traceId && l.rpc === 'robustness.v1.HardeningService/Harden'), 'the Harden log line carries the trace id');
  });
});
