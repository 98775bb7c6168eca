/**
 * ONNX at the edges, as users meet it: an `.onnx` model URI works wherever a model URI is taken
 * (Harden, Evaluate, GenerateAdversarial over RPC; `harden eval` and `harden export` in the CLI), a
 * Harden job leaves `model.onnx` beside its tfjs model — run by ONNX Runtime, it gives the hardened
 * model's logits, under the caller's input and output names — and an operator the importer does not
 * take is refused before any work: INVALID_ARGUMENT over RPC, exit 2 in the CLI, naming the
 * operator, the node and the opset.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { initEngine, tf } from '../libs/engine/index.js';
import { loadModelFromUri } from '../libs/models/index.js';
import { FIXTURE_DIR, imagesNchw, maxAbsDiff, runOrt, toNhwc } from '../libs/models/onnx/onnx-oracle.fixture.js';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import type { HardenServer } from '../services/server/index.js';
import { CLI, connectClients, startTestServer, tempDir } from './rpc-helpers.js';

const UNSUPPORTED = /unsupported ONNX operator "Erf" \(node "[^"]+"\).*opset 13/;

function harden(args: string[]): { code: number; stderr: string; json: Record<string, unknown> | undefined } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, HARDEN_WORKERS: '1' }, timeout: 240_000 });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stderr: r.stderr, json };
}

describe('ONNX models through the services and the CLI', () => {
  let server: HardenServer;
  const dir = tempDir('harden-onnx');
  const onnx = pathToFileURL(join(dir, 'digits.onnx')).href;
  const gelu = pathToFileURL(join(dir, 'gelu.onnx')).href;

  before(async () => {
    copyFileSync(`${FIXTURE_DIR}small-cnn-op11.onnx`, join(dir, 'digits.onnx'));
    copyFileSync(`${FIXTURE_DIR}unsupported-gelu-op13.onnx`, join(dir, 'gelu.onnx'));
    ({ server } = await startTestServer());
  });
  after(async () => {
    await server.close();
  });

  it('Harden takes an .onnx model_uri and writes model.onnx beside the hardened model: ORT runs it to our logits', async () => {
    const c = connectClients(server.url, 'connect');
    const { job } = await c.hardening.harden({
      model: { case: 'modelUri', value: onnx },
      method: 'standard',
      dataset: 'mnist',
      limit: 96,
      epochs: 1,
      batchSize: 32,
      learningRate: 0.05,
      evalSize: 16,
      evaluation: { suite: 'quick', limit: 16 },
    });
    for await (const _ of c.hardening.watchJob({ jobId: job!.jobId, afterSequence: 0n })) {
      // drain until the job ends
    }
    const done = (await c.hardening.getJob({ jobId: job!.jobId })).job!;
    assert.equal(done.state, JobState.SUCCEEDED, done.error?.message);
    const onnxFile = `${done.modelUri}/model.onnx`;
    assert.ok(existsSync(new URL(onnxFile)), `${onnxFile} written`);

    await initEngine('cpu');
    const hardened = await loadModelFromUri(done.modelUri);
    try {
      const x = imagesNchw(4, [1, 28, 28], 31);
      const r = await runOrt(new Uint8Array(readFileSync(new URL(onnxFile))), x, [4, 1, 28, 28]);
      assert.deepEqual([r.inputName, r.outputName], ['input', 'logits'], "the caller's names");
      const ours = tf.tidy(() => (hardened.predict(toNhwc(x, 4, [1, 28, 28])) as tf.Tensor).dataSync());
      const d = maxAbsDiff(r.data, ours);
      assert.ok(d <= 1e-4, `max |ORT(model.onnx) − ours| = ${d}`);
      // The job trained the imported weights: the hardened model is not the original file.
      const original = await runOrt(new Uint8Array(readFileSync(`${FIXTURE_DIR}small-cnn-op11.onnx`)), x, [4, 1, 28, 28]);
      assert.ok(maxAbsDiff(original.data, r.data) > 1e-3);
    } finally {
      hardened.dispose();
    }
  });

  it('GenerateAdversarial and Evaluate take an .onnx model_uri', async () => {
    const c = connectClients(server.url, 'connect');
    let batches = 0;
    for await (const r of c.adversarial.generateAdversarial({ modelUri: onnx, dataset: 'mnist', attack: 'pgd', eps: 0.3, steps: 2, seed: 1, batchSize: 4, numBatches: 2 })) {
      if (r.batch) batches++;
    }
    assert.ok(batches >= 2, `streamed ${batches} batches`);
    const { evaluation } = await c.evaluation.evaluate({ modelUri: onnx, dataset: 'mnist', limit: 8, suite: 'quick', seed: 2 });
    for await (const _ of c.evaluation.watchEvaluation({ evaluationId: evaluation!.evaluationId, afterSequence: 0n })) {
      // drain
    }
    const e = (await c.evaluation.getEvaluation({ evaluationId: evaluation!.evaluationId })).evaluation!;
    assert.equal(e.state, JobState.SUCCEEDED, e.error?.message);
    const { report } = await c.evaluation.getReport({ reportId: e.reportId });
    assert.equal(report?.model?.uri, onnx);
  });

  it('refuses an unsupported operator with INVALID_ARGUMENT naming it, the node and the opset, on every RPC', async () => {
    const c = connectClients(server.url, 'connect');
    const refused = (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && e.rawMessage.startsWith('model_uri: ') && UNSUPPORTED.test(e.rawMessage);
    await assert.rejects(c.hardening.harden({ model: { case: 'modelUri', value: gelu }, method: 'standard', dataset: 'mnist', limit: 96, batchSize: 32, epochs: 1 }), refused);
    await assert.rejects(c.evaluation.evaluate({ modelUri: gelu, dataset: 'mnist', limit: 8 }), refused);
    await assert.rejects(
      (async () => {
        for await (const _ of c.adversarial.generateAdversarial({ modelUri: gelu, dataset: 'mnist', eps: 0.3, batchSize: 4, numBatches: 1 })) {
          // never reached
        }
      })(),
      refused,
    );
    await assert.rejects(c.evaluation.evaluate({ modelUri: pathToFileURL(join(dir, 'missing.onnx')).href, dataset: 'mnist' }), (e) => e instanceof ConnectError && e.code === Code.NotFound);
  });

  it('refuses a model whose input size does not fit the data set before a job is queued, on Harden and Evaluate', async () => {
    copyFileSync(`${FIXTURE_DIR}resnet-op13.onnx`, join(dir, 'colour.onnx'));
    const colour = pathToFileURL(join(dir, 'colour.onnx')).href;
    const c = connectClients(server.url, 'connect');
    const before = server.jobs.counts('harden').QUEUED + server.jobs.counts('evaluate').QUEUED;
    const refused = (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && /^dataset: the model takes 32×32×3 inputs but mnist has 28×28×1 images/.test(e.rawMessage);
    await assert.rejects(c.hardening.harden({ model: { case: 'modelUri', value: colour }, method: 'standard', dataset: 'mnist', limit: 96, batchSize: 32, epochs: 1 }), refused);
    await assert.rejects(c.evaluation.evaluate({ modelUri: colour, dataset: 'mnist', limit: 8 }), refused);
    assert.equal(server.jobs.counts('harden').QUEUED + server.jobs.counts('evaluate').QUEUED, before, 'nothing was queued');
  });

  it('keeps onnxruntime-node a dev dependency that no runtime code imports', () => {
    const root = new URL('../../', import.meta.url);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.ok(pkg.devDependencies['onnxruntime-node'] && !pkg.dependencies['onnxruntime-node']);
    assert.match(readFileSync(new URL('.npmrc', root), 'utf8'), /^onnxruntime-node-install=skip$/m);
    const hits = spawnSync('grep', ['-rlE', "from 'onnxruntime-node'|import\\('onnxruntime-node'\\)", '--include=*.ts', 'libs', 'cli', 'services'], { cwd: root, encoding: 'utf8' }).stdout.split('\n');
    assert.ok(hits.includes('libs/models/onnx/onnx-oracle.fixture.ts'), 'the search finds the test oracle');
    const offenders = hits.filter((f) => f !== '' && !/\.(spec|fixture)\.ts$/.test(f));
    assert.deepEqual(offenders, []);
  });

  it('CLI: eval takes --model FILE.onnx; export writes ONNX that ORT runs; an unsupported operator exits 2 naming it', async () => {
    const e = harden(['eval', '--model', onnx, '--dataset', 'mnist', '--limit', '8', '--suite', 'quick', '--json']);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(typeof e.json?.clean_accuracy === 'number');

    const out = pathToFileURL(join(dir, 'exported')).href;
    const x = harden(['export', '--model', onnx, '--format', 'onnx', '--out', out, '--json']);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(x.json?.out_uri, `${out}/model.onnx`);
    const input = imagesNchw(3, [1, 28, 28], 4);
    const exported = await runOrt(new Uint8Array(readFileSync(new URL(`${out}/model.onnx`))), input, [3, 1, 28, 28]);
    const original = await runOrt(new Uint8Array(readFileSync(`${FIXTURE_DIR}small-cnn-op11.onnx`)), input, [3, 1, 28, 28]);
    assert.ok(maxAbsDiff(exported.data, original.data) <= 1e-4);

    const bad = harden(['attack', '--model', gelu, '--dataset', 'mnist', '--limit', '4', '--attack', 'fgsm']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, UNSUPPORTED);
    assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
    assert.equal(harden(['export', '--model', onnx, '--format', 'tflite', '--out', out]).code, 2);
  });
});
