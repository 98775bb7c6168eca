/**
 * `harden train` end to end on real MNIST digits (a few dozen, small-cnn, wasm): the JSON summary,
 * the model folder (loadable for attacks), report.json, checkpoints, --resume, and bad flags.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { initEngine, tf } from '../libs/engine/index.js';
import { loadModelFromUri } from '../libs/models/index.js';

const command = new URL('../cli/commands/train.js', import.meta.url).href;
const script = `import(${JSON.stringify(command)}).then((m) => m.trainCommand(process.argv.slice(1))).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e) => { process.stderr.write('harden: ' + e.message + '\\n'); process.exit(e.exitCode ?? 1); })`;

function harden(args: string[]) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { encoding: 'utf8', timeout: 120_000 });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: lines.at(-1) ?? '' };
}

const dir = mkdtempSync(join(tmpdir(), 'harden-train-'));
const out = pathToFileURL(dir).href;
const common = ['--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '64', '--batch', '32', '--lr', '0.05', '--eps', '0.1'];
const quick = ['--steps', '2', '--eval-size', '32', '--eval-steps', '2', '--backend', 'wasm', '--progress-every', '1'];

describe('harden train', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains d2r, prints the JSON summary last, writes model/, report.json and checkpoints, and resumes', async () => {
    const first = harden(['--method', 'd2r', ...common, ...quick, '--epochs', '2', '--out', out, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const summary = JSON.parse(first.last);
    for (const key of ['method', 'epochs', 'clean_accuracy', 'robust_accuracy', 'model_uri', 'history', 'collapsed', 'seconds', 'backend']) {
      assert.ok(key in summary, `summary has ${key}`);
    }
    assert.equal(summary.method, 'd2r');
    assert.equal(summary.epochs, 2);
    assert.equal(summary.guidance_arch, 'small-cnn');
    assert.equal(summary.backend, 'wasm');
    assert.equal(summary.history.length, 2);
    assert.equal(summary.model_uri, `${out}/model`);
    assert.match(first.stderr, /epoch 1\/2 {2}batch 1\/2 {2}loss [\d.]+ {2}lr [\d.]+ {2}eps 0\.100 {2}[\d.]+ img\/s {2}eta /);
    assert.match(first.stderr, /epoch 2 done: .*clean [\d.]+ {2}pgd-2 [\d.]+/);
    if (summary.collapsed) assert.match(first.stderr, /WARNING .*collapsed/);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    assert.equal(report.robust_accuracy, summary.robust_accuracy);
    // The per-epoch check that picks the best checkpoint is held out of the training split.
    assert.equal(report.held_out.split, 'train');
    assert.equal(report.held_out.size, 32);
    assert.equal(report.train_size, 64, '--limit counts the images trained on, besides the held-out ones');
    assert.match(first.stderr, /held-out \(train split, n=32\)/);
    const latest = JSON.parse(readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8'));
    assert.equal(latest.key, 'epoch-0002');
    assert.ok(existsSync(join(dir, 'checkpoints', 'epoch-0002', 'guidance', 'model.json')));

    await initEngine('wasm');
    const model = await loadModelFromUri(summary.model_uri);
    assert.deepEqual(model.inputs[0].shape, [null, 28, 28, 1]);
    const logits = tf.tidy(() => model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor);
    assert.deepEqual(logits.shape, [2, 10]);
    tf.dispose(logits);
    model.dispose();

    const resumed = harden(['--method', 'd2r', ...common, ...quick, '--epochs', '3', '--resume', '--out', out, '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const again = JSON.parse(resumed.last);
    assert.equal(again.resumed_from, 2);
    assert.equal(again.epochs, 3);
    assert.deepEqual(again.history.slice(0, 2), summary.history);
    assert.match(resumed.stderr, /resumed from .*epoch-0002 \(2 epochs done\)/);
  });

  it('rejects bad flags before training, naming the flag', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--method', 'd2r', '--eps', '0'], /--eps must be a number in \(0, 1\]/],
      [['--method', 'fgsm-at'], /--method: unknown method "fgsm-at"/],
      [['--method', 'd2r', '--batch', '100'], /--batch: 100 is larger than the training data \(64 examples\)/],
      [['--method', 'd2r', '--epochs', '0'], /--epochs must be an integer ≥ 1/],
      [['--method', 'pgd-at', '--guidance-arch', 'small-cnn'], /--guidance-arch: method pgd-at uses no guidance model/],
    ];
    const rerun = harden(['--method', 'd2r', ...common, ...quick, '--epochs', '1', '--out', out]);
    assert.equal(rerun.code, 2, rerun.stderr);
    assert.match(rerun.stderr, /--out: .*already holds a run \(3 epochs done\); resume it or write elsewhere/);
    for (const [flags, message] of cases) {
      const args = [...common, ...quick, '--out', pathToFileURL(join(dir, 'bad')).href, ...flags];
      const r = harden(args);
      assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!existsSync(join(dir, 'bad', 'checkpoints')), 'nothing written');
    }
  });
});
