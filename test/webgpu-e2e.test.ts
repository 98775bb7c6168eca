/**
 * The GPU path end to end, as a user runs it, on Dawn's software adapter (OpenGL ES on Mesa
 * llvmpipe, `HARDEN_WEBGPU_SOFTWARE=1`; ARCHITECTURE.md's engine table): a one-epoch D2R job through
 * `harden train` (`HARDEN_BACKEND=webgpu`), `harden attack` and `harden eval` (`--backend webgpu`),
 * and a Harden job on `harden serve` with `HARDEN_BACKEND=webgpu`, submitted with grpc-js and
 * watched until it SUCCEEDS (its training and evaluation run in worker threads).
 *
 * tfjs-backend-webgpu cannot read synchronously in Node (it goes through a browser canvas), so a
 * synchronous read left on any of these paths fails the command; the backend's warning about
 * synchronous reads must not appear either. Each result is checked against the same command on
 * wasm where the two must agree (training loss, clean accuracy). llvmpipe runs a small-cnn forward
 * pass in about 0.3 s whatever the batch, so the workloads are a few images.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CLI, collect, grpcClients, tempDir, tinyHardenRequest, unary, type GrpcClients } from './rpc-helpers.js';

const MESA = 'libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri';
/** tfjs-backend-webgpu's warning when something reads synchronously. */
const SYNC_READ = /synchronously reading data from GPU/;

/** The children's environment: the software adapter, and EGL's platform left to the code to set. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HARDEN_WEBGPU_SOFTWARE: '1', HARDEN_LOG_LEVEL: 'warn' };
  delete env.EGL_PLATFORM;
  delete env.HARDEN_BACKEND;
  return Object.assign(env, extra);
}

interface Run {
  code: number;
  stderr: string;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the commands' JSON summaries
}

function harden(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8', env: childEnv(env), timeout: 300_000 });
  let json = {};
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    // left empty: the exit code assertion reports stderr
  }
  return { code: r.status ?? -1, stderr: r.stderr, json };
}

/** `backend`: where the command's output says which backend ran. */
function assertRanOnWebgpu(r: Run, what: string, backend: (r: Run) => unknown = (x) => x.json.backend): void {
  assert.equal(r.code, 0, `${what} failed on webgpu:\n${r.stderr}`);
  assert.equal(backend(r), 'webgpu', what);
  assert.doesNotMatch(r.stderr, SYNC_READ, `${what} read synchronously`);
}

describe('the webgpu path end to end (software adapter: llvmpipe)', () => {
  const dir = tempDir('harden-webgpu');
  const uri = (name: string) => pathToFileURL(join(dir, name)).href;
  let modelUri = '';

  before(() => {
    const info = harden(['info']);
    const webgpu = (info.json.backends as Array<{ name: string; available: boolean; reason?: string }> | undefined)?.find((b) => b.name === 'webgpu');
    assert.ok(webgpu?.available, `webgpu unavailable: ${webgpu?.reason ?? info.stderr} (CI installs ${MESA}; apt-get install -y ${MESA})`);
    // A model worth attacking (≈ 0.5 clean accuracy), trained quickly on wasm.
    const t = harden(['train', '--method', 'standard', '--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '512', '--batch', '16', '--lr', '0.05',
      '--schedule', 'constant', '--epochs', '1', '--eval-size', '8', '--eval-steps', '1', '--backend', 'wasm', '--out', uri('victim')]);
    assert.equal(t.code, 0, t.stderr);
    modelUri = t.json.model_uri;
  });

  it('trains one D2R epoch through harden train (HARDEN_BACKEND=webgpu), with the loss wasm computes', () => {
    const args = ['train', '--method', 'd2r', '--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '8', '--batch', '8', '--epochs', '1', '--steps', '1',
      '--lr', '0.05', '--eps', '0.1', '--eval-size', '4', '--eval-steps', '1'];
    const gpu = harden([...args, '--out', uri('d2r-webgpu')], { HARDEN_BACKEND: 'webgpu' });
    assertRanOnWebgpu(gpu, 'harden train');
    assert.match(gpu.json.device, /llvmpipe/);
    assert.equal(gpu.json.method, 'd2r');
    assert.equal(gpu.json.epochs, 1);
    assert.equal(gpu.json.guidance_arch, 'small-cnn');
    assert.equal(gpu.json.history.length, 1);
    assert.ok(gpu.json.clean_accuracy >= 0 && gpu.json.clean_accuracy <= 1);
    assert.ok(gpu.json.robust_accuracy >= 0 && gpu.json.robust_accuracy <= gpu.json.clean_accuracy);
    assert.ok(existsSync(join(dir, 'd2r-webgpu', 'model', 'model.json')));
    assert.equal(JSON.parse(readFileSync(join(dir, 'd2r-webgpu', 'checkpoints', 'latest.json'), 'utf8')).key, 'epoch-0001');
    assert.ok(existsSync(join(dir, 'd2r-webgpu', 'checkpoints', 'epoch-0001', 'guidance', 'model.json')));

    // Same seed, data and steps on wasm: the same loss up to float rounding.
    const wasm = harden([...args, '--out', uri('d2r-wasm')], { HARDEN_BACKEND: 'wasm' });
    assert.equal(wasm.code, 0, wasm.stderr);
    const [g, w] = [gpu.json.history[0].loss, wasm.json.history[0].loss];
    assert.ok(Number.isFinite(g) && Math.abs(g - w) < 1e-3, `D2R loss on webgpu ${g}, on wasm ${w}`);
  });

  it('attacks (PGD) and evaluates (quick suite) a saved model with --backend webgpu', () => {
    const attackArgs = ['attack', '--model', modelUri, '--dataset', 'mnist', '--limit', '8', '--attack', 'pgd', '--steps', '3'];
    const gpu = harden([...attackArgs, '--backend', 'webgpu', '--out', uri('adv')]);
    assertRanOnWebgpu(gpu, 'harden attack');
    const wasm = harden([...attackArgs, '--backend', 'wasm', '--workers', '1']);
    assert.equal(wasm.code, 0, wasm.stderr);
    assert.equal(gpu.json.n, 8);
    assert.equal(gpu.json.clean_accuracy, wasm.json.clean_accuracy, 'clean predictions agree with wasm');
    assert.ok(gpu.json.clean_accuracy > 0, 'the model classifies some images');
    assert.ok(gpu.json.robust_accuracy < gpu.json.clean_accuracy, `PGD at ε = 0.3 fools the model: ${JSON.stringify(gpu.json.stages)}`);
    assert.ok(gpu.json.max_perturbation <= 0.3 + 1e-6);
    assert.equal(readFileSync(join(dir, 'adv', 'images.f32')).byteLength, 8 * 28 * 28 * 4);
    assert.equal(readFileSync(join(dir, 'adv', 'predictions.i32')).byteLength, 8 * 4);

    const evalArgs = ['eval', '--model', modelUri, '--dataset', 'mnist', '--limit', '4'];
    const e = harden([...evalArgs, '--backend', 'webgpu', '--out', uri('eval')]);
    assert.equal(e.code, 0, `harden eval failed on webgpu:\n${e.stderr}`);
    const report = JSON.parse(readFileSync(join(dir, 'eval', 'report.json'), 'utf8'));
    assertRanOnWebgpu(e, 'harden eval', () => report.environment.backend);
    const ew = harden([...evalArgs, '--backend', 'wasm', '--workers', '1']);
    assert.equal(ew.code, 0, ew.stderr);
    assert.equal(e.json.clean_accuracy, ew.json.clean_accuracy, 'clean predictions agree with wasm');
    const rows = e.json.attacks as Array<{ name: string; robust_accuracy: number }>;
    assert.deepEqual(rows.map((r) => r.name), ['fgsm', 'pgd-20', 'cw-20']);
    for (const row of rows) assert.ok(e.json.robust_accuracy <= row.robust_accuracy && row.robust_accuracy <= e.json.clean_accuracy, JSON.stringify(row));
    assert.equal(report.robust_accuracy, e.json.robust_accuracy);
  });

  describe('harden serve with HARDEN_BACKEND=webgpu', () => {
    let server: ReturnType<typeof spawn>;
    let stderr = '';
    let grpcjs: GrpcClients;

    before(async () => {
      server = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', uri('store'), '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: childEnv({ HARDEN_BACKEND: 'webgpu' }),
      });
      server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: server.stdout! }).once('line', resolve);
        server.once('exit', (code) => reject(new Error(`harden serve exited (${code}):\n${stderr}`)));
      });
      grpcjs = grpcClients((JSON.parse(line) as { url: string }).url);
    });
    after(() => {
      grpcjs?.close();
      server.kill('SIGTERM');
    });

    it('runs a small D2R Harden job (grpc-js) to SUCCEEDED, with its report', async () => {
      const request = tinyHardenRequest({ method: 'd2r', limit: 8, batchSize: 8, steps: 1, evalSize: 2, evaluation: { suite: 'quick', limit: 2 } });
      const { job } = await unary(grpcjs.hardening, 'Harden', request);
      const events = (await collect(grpcjs.hardening.WatchJob({ jobId: job.jobId, afterSequence: 0 }))).map((r: { event: { kind: string } & Record<string, any> }) => r.event); // eslint-disable-line @typescript-eslint/no-explicit-any
      const done = (await unary(grpcjs.hardening, 'GetJob', { jobId: job.jobId })).job;
      assert.equal(done.state, 'JOB_STATE_SUCCEEDED', `job ended ${done.state}: ${JSON.stringify(done.error)}\n${stderr}`);
      const kinds = new Set(events.map((e) => e.kind));
      for (const k of ['batchProgress', 'epochCompleted', 'checkpointSaved', 'reportLinked']) assert.ok(kinds.has(k), `a ${k} event`);
      assert.ok(done.cleanAccuracy >= 0 && done.cleanAccuracy <= 1);
      const { report } = await unary(grpcjs.evaluation, 'GetReport', { reportId: done.reportId });
      assert.deepEqual(report.attacks.map((a: { name: string }) => a.name), ['fgsm', 'pgd-20', 'cw-20']);
      assert.equal(report.dataset.size, 2);
      assert.ok(report.robustAccuracy >= 0 && report.robustAccuracy <= report.cleanAccuracy);
      assert.doesNotMatch(stderr, SYNC_READ, 'the job read synchronously');
    });
  });
});
