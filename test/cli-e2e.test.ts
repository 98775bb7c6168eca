/**
 * The `harden` command as a user runs it, in child processes: train → attack → eval → gate on a
 * small slice of the embedded MNIST data, plus info and the error paths (one line, exit code 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { runHarden } from './rpc-helpers.js';


const harden = (args: string[]) => runHarden(args, { HARDEN_WORKERS: '2' });

describe('harden CLI end to end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'harden-cli-'));
  const out = pathToFileURL(join(dir, 'run')).href;

  it('info --json lists every backend', () => {
    const r = harden(['info', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const backends = r.json?.backends as Array<{ name: string; available: boolean; device: string; reason?: string }>;
    assert.deepEqual(backends.map((b) => b.name).sort(), ['cpu', 'native', 'tensorflow', 'wasm', 'webgpu']);
    // native: its ISA and thread count, or why not and the command that enables it.
    const native = backends.find((b) => b.name === 'native')!;
    if (native.available) assert.match(native.device, /^oneDNN \d+\.\d+\.\d+ \w+, \d+ threads?$/);
    else assert.match(native.reason ?? '', /npm run build:native/);
  });

  it('bench --quick --json measures the reference CNN with 1 and 2 workers, PGD-20 and a D2R step', () => {
    const r = harden(['bench', '--quick', '--backend', 'wasm', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const results = r.json?.results as Array<{ model: string; backend: string; workers: number; batch: number; train_img_s: number; input_grad_img_s: number; input_grad_gflop_s: number }>;
    const ref = results.filter((x) => x.model === 'ref-cnn');
    assert.deepEqual(ref.map((x) => [x.backend, x.workers, x.batch]), [['wasm', 1, 64], ['wasm', 2, 64]]);
    for (const x of results) assert.ok(x.train_img_s > 0 && x.input_grad_img_s > 0 && x.input_grad_gflop_s > 0, JSON.stringify(x));
    assert.ok(results.some((x) => x.model === 'preact-resnet18'));
    assert.match(r.stderr, /ref-cnn on wasm .*1 and 2 workers in alternating windows/);
    const attacks = r.json?.attacks as Array<{ attack: string; img_s: number }>;
    const d2r = r.json?.d2r as Array<{ img_s: number }>;
    assert.ok(attacks.length >= 1 && attacks.every((a) => a.img_s > 0));
    assert.ok(d2r.length >= 1 && d2r.every((a) => a.img_s > 0));
    // Per-step counts (countGpuWork): no dispatch counts off webgpu; one worker's steps read nothing back.
    const one = r.json?.results as Array<Record<string, number | null> & { workers: number }>;
    for (const x of one.filter((row) => row.workers === 1)) {
      assert.deepEqual([x.train_dispatches_per_step, x.train_readbacks_per_step, x.input_grad_dispatches_per_step, x.input_grad_readbacks_per_step], [null, 0, null, 0], JSON.stringify(x));
    }
    for (const x of d2r as Array<Record<string, unknown>>) assert.deepEqual([x.dispatches_per_step, x.readbacks_per_step], [null, 0], JSON.stringify(x));
    for (const x of attacks as Array<Record<string, unknown>>) assert.ok(x.dispatches_per_step === null && typeof x.readbacks_per_step === 'number', JSON.stringify(x));
  });

  it('trains, attacks the saved model, evaluates it and gates on the report', () => {
    const t = harden(['train', '--method', 'standard', '--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '256', '--epochs', '1', '--batch', '32', '--lr', '0.05',
      '--eval-size', '32', '--eval-steps', '2', '--out', out, '--json']);
    assert.equal(t.code, 0, t.stderr);
    for (const key of ['method', 'epochs', 'clean_accuracy', 'robust_accuracy', 'model_uri']) assert.ok(key in (t.json ?? {}), `train --json has ${key}`);
    assert.match(t.stderr, /img\/s/, 'progress lines on stderr');

    const modelUri = String(t.json?.model_uri);
    const a = harden(['attack', '--model', modelUri, '--dataset', 'mnist', '--limit', '40', '--attack', 'pgd', '--steps', '5', '--out', `${out}/adv`, '--json']);
    assert.equal(a.code, 0, a.stderr);
    for (const key of ['attack', 'eps', 'n', 'clean_accuracy', 'robust_accuracy', 'max_perturbation']) assert.ok(key in (a.json ?? {}), `attack --json has ${key}`);
    assert.equal(a.json?.n, 40);
    assert.ok((a.json?.max_perturbation as number) <= 0.3 + 1e-6);
    assert.ok((a.json?.robust_accuracy as number) <= (a.json?.clean_accuracy as number));
    const manifest = JSON.parse(readFileSync(join(dir, 'run', 'adv', 'adversarial.json'), 'utf8')) as { shape: number[] };
    assert.deepEqual(manifest.shape, [40, 28, 28, 1]);
    assert.equal(readFileSync(join(dir, 'run', 'adv', 'images.f32')).byteLength, 40 * 28 * 28 * 4);

    const e = harden(['eval', '--model', modelUri, '--dataset', 'mnist', '--limit', '24', '--out', `${out}/eval`, '--json']);
    assert.equal(e.code, 0, e.stderr);
    const attacks = e.json?.attacks as Array<{ name: string; eps: number; robust_accuracy: number }>;
    assert.deepEqual(attacks.map((x) => x.name), ['fgsm', 'pgd-20', 'cw-20']);
    const robust = e.json?.robust_accuracy as number;
    for (const row of attacks) assert.ok(robust <= row.robust_accuracy, 'worst case ≤ every attack');

    const pass = harden(['gate', '--report', `${out}/eval`, '--min-robust-accuracy', String(Math.max(0, robust - 0.01))]);
    assert.equal(pass.code, 0, pass.stdout + pass.stderr);
    const fail = harden(['gate', '--report', `${out}/eval/report.json`, '--min-robust-accuracy', String(Math.min(1, robust + 0.5))]);
    assert.equal(fail.code, 1);
    assert.match(fail.stdout, /short by/);
  });

  it('gate: a missing or malformed report exits 2 with one line', () => {
    const missing = harden(['gate', '--report', pathToFileURL(join(dir, 'none')).href, '--min-robust-accuracy', '0.5']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^harden: no report at .*report\.json\n$/);
    writeFileSync(join(dir, 'bad.json'), '{"version": 1, "clean_accuracy": 2}');
    const bad = harden(['gate', '--report', pathToFileURL(join(dir, 'bad.json')).href, '--min-robust-accuracy', '0.5']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /clean_accuracy/);
  });

  it('bad input: one readable line naming what was wrong, exit 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['attack', '--model', out, '--dataset', 'mnist', '--attack', 'nope'], /unknown attack "nope"/],
      [['eval', '--model', pathToFileURL(join(dir, 'missing')).href, '--dataset', 'mnist'], /no model\.json/],
      [['eval', '--model', `${out}/model`, '--dataset', 'cifar10:/nonexistent', '--limit', '5'], /cifar10/],
      [['bench', '--backend', 'quantum'], /unknown backend "quantum"/],
      [['info', '--bogus'], /bogus/],
    ];
    for (const [args, pattern] of cases) {
      const r = harden(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    }
  });
});
