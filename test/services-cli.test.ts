/**
 * The command-line client as a user runs it, against `harden serve` in a child process:
 * submit → watch (exit 0, JSON with job_id, state, report_id) → report → generate --out, and the
 * exit codes of a job that fails (watch exits 1) and of bad requests (exit 2, one line naming the field).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { initEngine, tfl } from '../libs/engine/index.js';
import { buildModel, resolveModelConfig, saveModelToUri } from '../libs/models/index.js';
import { CLI, tempDir } from './rpc-helpers.js';

function harden(args: string[]): { code: number; stdout: string; stderr: string; json: Record<string, unknown> | undefined } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 240_000 });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

describe('harden submit | watch | report | generate', () => {
  const dir = tempDir('harden-cli-rpc');
  let server: ReturnType<typeof spawn>;
  let address = '';

  before(async () => {
    server = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', pathToFileURL(dir).href, '--backend', 'wasm', '--json'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, HARDEN_LOG_LEVEL: 'warn' },
    });
    const line = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve));
    address = (JSON.parse(line) as { url: string }).url.replace('http://', '');
  });
  after(() => {
    server.kill('SIGTERM');
  });

  it('submits, watches to SUCCEEDED, shows the report, and generates adversarial examples', () => {
    const s = harden(['submit', '--server', address, '--arch', 'small-cnn', '--method', 'standard', '--dataset', 'mnist', '--limit', '64', '--epochs', '1', '--batch', '32', '--eval-size', '8', '--eval-limit', '8', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const jobId = String(s.json?.job_id);
    assert.match(jobId, /^[0-9a-f-]{36}$/);

    const w = harden(['watch', '--server', address, jobId, '--json']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.json?.job_id, jobId);
    assert.equal(w.json?.state, 'SUCCEEDED');
    assert.ok(w.json?.report_id);
    assert.match(w.stderr, /#1 QUEUED/);
    assert.match(w.stderr, /SUCCEEDED/);

    const r = harden(['report', '--server', address, '--job', jobId, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json?.report_id, w.json?.report_id);
    for (const key of ['clean_accuracy', 'robust_accuracy', 'attacks']) assert.ok(key in (r.json ?? {}), `report --json has ${key}`);
    const attacks = r.json?.attacks as Array<{ name: string; eps: number; robust_accuracy: number }>;
    assert.deepEqual(attacks.map((a) => a.name), ['fgsm', 'pgd-20', 'cw-20']);

    const out = join(dir, 'adv');
    const g = harden(['generate', '--server', address, '--model', String(w.json?.model_uri), '--dataset', 'mnist', '--batch', '8', '--batches', '2', '--steps', '2', '--eps', '0.2', '--out', pathToFileURL(out).href, '--json']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.json?.n, 16);
    assert.equal(g.json?.batches, 2);
    assert.ok((g.json?.max_perturbation as number) <= 0.2 + 1e-6);
    const manifest = JSON.parse(readFileSync(join(out, 'adversarial.json'), 'utf8')) as { shape: number[] };
    assert.deepEqual(manifest.shape, [16, 28, 28, 1]);
    assert.equal(readFileSync(join(out, 'images.f32')).byteLength, 16 * 28 * 28 * 4);
  });

  it('exits 1 when the job fails, 2 for a bad request naming the field, 1 when the server is unreachable', async () => {
    await initEngine('cpu');
    const built = buildModel(resolveModelConfig({ arch: 'small-cnn', inputShape: [32, 32, 3], numClasses: 10, seed: 1 }));
    const wrongShape = (await saveModelToUri(built, pathToFileURL(join(dir, 'rgb-model')).href)).uri;
    built.dispose();
    // A stock model whose 5 outputs come from pooling (no Dense says how many): only the job finds out.
    const pooled = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 5, kernelSize: 3 }), tfl.layers.globalAveragePooling2d({})] });
    const fiveClasses = (await saveModelToUri(pooled, pathToFileURL(join(dir, 'five-model')).href)).uri;
    pooled.dispose();
    // The data set's folder does not exist: refused before anything is queued (NOT_FOUND, exit 2).
    const refused = harden(['submit', '--server', address, '--arch', 'small-cnn', '--method', 'standard', '--dataset', `idx:${join(dir, 'no-such-folder')}`, '--no-eval']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /NotFound: data set not found/);
    // A model for 32×32×3 images on 28×28 digits: refused before queueing too (INVALID_ARGUMENT, exit 2).
    const shape = harden(['submit', '--server', address, '--model', wrongShape, '--method', 'standard', '--dataset', 'mnist', '--limit', '64', '--batch', '32', '--no-eval']);
    assert.equal(shape.code, 2, shape.stderr);
    assert.match(shape.stderr, /InvalidArgument: dataset: the model takes 32×32×3 inputs but mnist has 28×28×1 images/);
    // A model whose class count only the job can see passes the checks before queueing; the job FAILS.
    const s = harden(['submit', '--server', address, '--model', fiveClasses, '--method', 'standard', '--dataset', 'mnist', '--limit', '64', '--batch', '32', '--no-eval']);
    assert.equal(s.code, 0, s.stderr);
    const jobId = s.stdout.trim();
    const w = harden(['watch', '--server', address, jobId, '--json']);
    assert.equal(w.code, 1);
    assert.equal(w.json?.state, 'FAILED');
    assert.equal((w.json?.error as { code: string }).code, 'invalid-argument');

    const bad = harden(['submit', '--server', address, '--arch', 'small-cnn', '--dataset', 'mnist', '--eps', '3']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^harden: InvalidArgument: eps: /);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    const missing = harden(['report', '--server', address, 'no-such-report']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /NotFound: report_id/);
    const down = harden(['watch', '--server', '127.0.0.1:1', jobId, '--timeout', '2']);
    assert.notEqual(down.code, 0);
  });
});
