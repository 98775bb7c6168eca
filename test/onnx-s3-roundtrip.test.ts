/**
 * The round trip a user runs (issue 17): a PyTorch-exported ONNX classifier and an ImageFolder data
 * set (PNG digits) uploaded to an S3 server → `harden submit --model s3://…/digits.onnx --dataset
 * folder:s3://…` → the job hardens it (tiny budget) → the `model.onnx` it writes, run by ONNX
 * Runtime on the same images, gives exactly the clean accuracy of the job's report.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { PNG } from 'pngjs';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadDataset } from '../libs/data/index.js';
import { FIXTURE_DIR, runOrt } from '../libs/models/onnx/onnx-oracle.fixture.js';
import { createS3Store } from '../libs/storage/index.js';
import type { HardenServer } from '../services/server/index.js';
import { CLI, startTestServer, tempDir } from './rpc-helpers.js';
import { startS3Server, type S3TestServer } from './helpers/s3-server.js';

const EVAL_LIMIT = 24;

let s3: S3TestServer;
let client: S3Client;
let bucket: string;
let server: HardenServer;
let storeDir: string;

before(async () => {
  s3 = await startS3Server();
  client = s3.client();
  bucket = await s3.createBucket();
  // The server (and its worker threads) and this process read s3:// through the standard variables.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    HARDEN_DATA_CACHE: tempDir('harden-data-cache'),
  });
  ({ server, dir: storeDir } = await startTestServer());
});
after(async () => {
  await server?.close();
  client?.destroy();
  await s3?.close();
});

/** Runs the CLI without blocking this process's event loop (the server under test runs in it). */
function harden(args: string[]): Promise<{ code: number; stderr: string; json: Record<string, unknown> | undefined }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: process.env, timeout: 300_000 }, (error, stdout, stderr) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stderr, json });
    });
  });
}

it('ONNX model + folder: data set in S3 → harden submit → model.onnx in ONNX Runtime agrees with the report', async () => {
  const store = createS3Store({ bucket, prefix: 'user', client });
  await store.put('models/digits.onnx', new Uint8Array(readFileSync(`${FIXTURE_DIR}small-cnn-op11.onnx`)));
  // 440 real digits as grey PNGs, one folder per class: 28×28, and every fifth one 32×32 (as a
  // user's folder often mixes sizes), so the job needs --size 28x28.
  const digits = await loadDataset('mnist', { split: 'test', limit: 440 });
  for (let i = 0; i < digits.size; i++) {
    const side = i % 5 === 0 ? 32 : 28;
    const png = new PNG({ width: side, height: side });
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = Math.round(digits.images[i * 784 + Math.floor((y * 28) / side) * 28 + Math.floor((x * 28) / side)] * 255);
        png.data.set([v, v, v, 255], (y * side + x) * 4);
      }
    }
    await store.put(`digits/${digits.labels[i]}/${String(i).padStart(4, '0')}.png`, new Uint8Array(PNG.sync.write(png)));
  }
  const modelUri = `s3://${bucket}/user/models/digits.onnx`;
  const dataset = `folder:s3://${bucket}/user/digits`;
  const address = server.url.replace(/^https?:\/\//, '');

  const submitted = await harden(['submit', '--server', address, '--model', modelUri, '--dataset', dataset, '--size', '28x28', '--method', 'pgd-at', '--limit', '400', '--epochs', '4',
    '--batch', '32', '--lr', '0.05', '--steps', '2', '--eval-size', '16', '--suite', 'quick', '--eval-limit', String(EVAL_LIMIT), '--json']);
  assert.equal(submitted.code, 0, submitted.stderr);
  const jobId = String(submitted.json?.job_id);
  const watched = await harden(['watch', '--server', address, jobId, '--quiet', '--json']);
  assert.equal(watched.code, 0, watched.stderr);
  assert.equal(watched.json?.state, 'SUCCEEDED');
  const report = await harden(['report', '--server', address, String(watched.json?.report_id), '--json']);
  assert.equal(report.code, 0, report.stderr);
  const clean = report.json?.clean_accuracy as number;

  // The hardened model as the user downloads it, on the report's images (the test split's first N).
  const onnx = new Uint8Array(readFileSync(join(storeDir, 'jobs', jobId, 'model', 'model.onnx')));
  assert.equal(report.json?.dataset, `${dataset}?size=28x28`, 'the report names the data set with its size');
  const images = await loadDataset(`${dataset}?size=28x28`, { split: 'test', limit: EVAL_LIMIT });
  assert.deepEqual(images.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const out = await runOrt(onnx, images.images, [EVAL_LIMIT, 1, 28, 28]); // 1 channel: NHWC = NCHW
  assert.deepEqual([out.inputName, out.outputName], ['input', 'logits']);
  const correct = new Array<number>(10).fill(0);
  const count = new Array<number>(10).fill(0);
  for (let i = 0; i < EVAL_LIMIT; i++) {
    const row = Array.from(out.data.subarray(i * 10, i * 10 + 10));
    const label = images.labels[i];
    count[label]++;
    if (row.indexOf(Math.max(...row)) === label) correct[label]++;
  }
  const total = correct.reduce((a, b) => a + b, 0);
  assert.equal(Math.round((total / EVAL_LIMIT) * 1e6) / 1e6, clean, `ORT on model.onnx: ${total}/${EVAL_LIMIT}; report: ${clean}`);
  // Class by class too (the report's per-class rows, in the sorted folder order).
  const perClass = report.json?.per_class as { class: number; name: string; n: number; clean_accuracy: number }[];
  for (const row of perClass) {
    assert.equal(row.name, String(row.class));
    assert.equal(row.n, count[row.class]);
    assert.equal(row.clean_accuracy, count[row.class] ? Math.round((correct[row.class] / count[row.class]) * 1e6) / 1e6 : 0, `class ${row.class}`);
  }
  // The hardened model's outputs depend on the image (not a degenerate constant).
  assert.ok(Math.max(...out.data.subarray(0, 10).map((v, j) => Math.abs(v - out.data[10 + j]))) > 1e-4);
});
