/**
 * One error type crosses threads: a bad model found inside a worker thread (the attack workers, a
 * Harden job's training thread, an evaluation job's thread) reaches the caller with the same code as
 * the same kind of bad model found on the main thread — FAILED_PRECONDITION over RPC, the job error
 * `failed-precondition` — never INTERNAL. Real server, Connect clients over the network.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import type { HardenServer } from '../services/server/index.js';
import { CLI, connectClients, startTestServer, waitFor, type ConnectClients } from './rpc-helpers.js';

/** A model folder whose model.json is `json` (no weights). */
function modelFolder(dir: string, name: string, json: string): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'model.json'), json);
  return pathToFileURL(folder).href;
}

async function failsWith(call: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(call, (e: unknown) => {
    const c = ConnectError.from(e);
    assert.equal(Code[c.code], Code[code], c.rawMessage);
    return true;
  });
}

describe('errors across threads', () => {
  let server: HardenServer;
  let dir: string;
  let rpc: ConnectClients;
  /** Not JSON: refused on the main thread, where the bytes are read. */
  let notJson: string;
  /** Valid model.json whose layer tfjs does not know: refused where the model is built, in a worker. */
  let unknownLayer: string;

  before(async () => {
    ({ server, dir } = await startTestServer());
    rpc = connectClients(server.url);
    notJson = modelFolder(dir, 'not-json', '{ this is not json');
    unknownLayer = modelFolder(
      dir,
      'unknown-layer',
      JSON.stringify({
        format: 'layers-model',
        modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'NoSuchLayer', config: { name: 'x', batch_input_shape: [null, 28, 28, 1] } }] } },
        weightsManifest: [{ paths: [], weights: [] }],
      }),
    );
  });
  after(async () => {
    await server.close();
  });

  it('GenerateAdversarial: FAILED_PRECONDITION whether the main thread or an attack worker finds the bad model', async () => {
    const request = { dataset: 'mnist', attack: 'fgsm', batchSize: 4, numBatches: 1 };
    const drain = async (modelUri: string) => {
      for await (const _ of rpc.adversarial.generateAdversarial({ ...request, modelUri })) void _;
    };
    await failsWith(drain(notJson), Code.FailedPrecondition);
    await failsWith(drain(unknownLayer), Code.FailedPrecondition);
  });

  it('Harden: the training thread’s ModelError is the job error failed-precondition', async () => {
    const { job } = await rpc.hardening.harden({ model: { case: 'modelUri', value: unknownLayer }, method: 'standard', dataset: 'mnist', limit: 32, epochs: 1, batchSize: 16, evalSize: 8, evaluation: { skip: true } });
    let state = job!.state;
    let error = job!.error;
    await waitFor(async () => {
      const r = await rpc.hardening.getJob({ jobId: job!.jobId });
      state = r.job!.state;
      error = r.job!.error;
      return state === JobState.FAILED || state === JobState.SUCCEEDED;
    }, 120_000, 'the Harden job to end');
    assert.equal(state, JobState.FAILED);
    assert.equal(error?.code, 'failed-precondition', error?.message);
  });

  it('Evaluate: the evaluation thread’s ModelError is the job error failed-precondition', async () => {
    const { evaluation } = await rpc.evaluation.evaluate({ modelUri: unknownLayer, dataset: 'mnist', limit: 8, suite: 'quick' });
    let state = evaluation!.state;
    let error = evaluation!.error;
    await waitFor(async () => {
      const r = await rpc.evaluation.getEvaluation({ evaluationId: evaluation!.evaluationId });
      state = r.evaluation!.state;
      error = r.evaluation!.error;
      return state === JobState.FAILED || state === JobState.SUCCEEDED;
    }, 120_000, 'the evaluation to end');
    assert.equal(state, JobState.FAILED);
    assert.equal(error?.code, 'failed-precondition', error?.message);
  });

  it('the CLI: exit 2 (bad input) for either bad model, with the reason on one line', () => {
    for (const model of [notJson, unknownLayer]) {
      const r = spawnSync(process.execPath, [CLI, 'attack', '--model', model, '--dataset', 'mnist', '--attack', 'fgsm', '--limit', '4', '--workers', '2'], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^harden: .*(not valid JSON|cannot build the model)/m);
    }
  });
});
