/**
 * `harden train/attack/eval` with s3:// URIs, as a user runs them: the CLI reads the endpoint and
 * credentials from the standard AWS variables (set here for the test server), trains into S3,
 * resumes from the S3 checkpoint, and attacks and evaluates the model it saved there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Store } from '../libs/storage/index.js';
import { startS3Server, type S3TestServer } from './helpers/s3-server.js';

const CLI = new URL('../cli/main.js', import.meta.url).pathname;

let server: S3TestServer;
let client: S3Client;
let bucket: string;

before(async () => {
  server = await startS3Server();
  client = server.client();
  bucket = await server.createBucket();
});
after(async () => {
  client?.destroy();
  await server?.close();
});

function harden(args: string[]): { code: number; stderr: string; json: Record<string, unknown> | undefined } {
  const env = {
    ...process.env,
    HARDEN_WORKERS: '2',
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: server.region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: 240_000 });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stderr: r.stderr, json };
}

it('trains into s3://, resumes from the S3 checkpoint, then attacks and evaluates the model there', async () => {
  const out = `s3://${bucket}/runs/r1`;
  const train = ['train', '--method', 'standard', '--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '64', '--batch', '32', '--lr', '0.05',
    '--eval-size', '16', '--eval-steps', '2', '--backend', 'wasm', '--out', out, '--json'];
  const first = harden([...train, '--epochs', '1']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.json?.model_uri, `${out}/model`);
  const resumed = harden([...train, '--epochs', '2', '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.json?.resumed_from, 1);
  assert.match(resumed.stderr, /resumed from s3:\/\/.*epoch-0001/);

  const keys = await createS3Store({ bucket, prefix: 'runs/r1', client }).list();
  assert.ok(keys.includes('model/model.json'), keys.join(' '));
  assert.ok(keys.some((k) => /^checkpoints\/epoch-0002\/manifest\.json$/.test(k)), keys.join(' '));

  const attack = harden(['attack', '--model', `${out}/model`, '--dataset', 'mnist', '--limit', '16', '--attack', 'fgsm', '--out', `${out}/adv`, '--json']);
  assert.equal(attack.code, 0, attack.stderr);
  assert.equal(attack.json?.n, 16);
  const evaluation = harden(['eval', '--model', `${out}/model`, '--dataset', 'mnist', '--limit', '8', '--out', `${out}/eval`, '--json']);
  assert.equal(evaluation.code, 0, evaluation.stderr);
  assert.ok(typeof evaluation.json?.robust_accuracy === 'number');
});

it('a missing bucket is one readable line naming it', () => {
  const r = harden(['attack', '--model', 's3://harden-no-such-bucket/m', '--dataset', 'mnist', '--limit', '4', '--attack', 'fgsm']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /bucket "harden-no-such-bucket" does not exist/);
});
