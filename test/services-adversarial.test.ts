/**
 * AdversarialService.GenerateAdversarial on a loopback server: the requested number of batches,
 * each a float32 [n, 28, 28, 1] tensor within ε of the clean inputs and inside [0, 1], through
 * grpc-js and the Connect client (the same seed gives the same bytes over both); a cancelled call
 * and an expired deadline stop the workers' attacks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { decodeTensor } from '../libs/rpc/index.js';
import type { HardenServer } from '../services/server/index.js';
import { collect, connectClients, grpcClients, saveTinyModel, startTestServer, waitFor, type GrpcClients } from './rpc-helpers.js';

const EPS = 0.1;

interface GrpcTensor {
  shape: number[];
  dtype: string;
  data: Buffer;
}

function floats(t: GrpcTensor): Float32Array {
  assert.equal(t.dtype, 'DATA_TYPE_FLOAT32');
  const copy = new Uint8Array(t.data);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

describe('AdversarialService', () => {
  let server: HardenServer;
  let grpcjs: GrpcClients;
  let model: string;

  before(async () => {
    let dir: string;
    ({ server, dir } = await startTestServer({ services: ['adversarial'] }));
    grpcjs = grpcClients(server.url);
    model = await saveTinyModel(dir);
  });
  after(async () => {
    grpcjs.close();
    await server.close();
  });

  it('streams the requested batches, each within ε and in [0, 1] (grpc-js), and the same bytes over Connect', async () => {
    const request = { modelUri: model, dataset: 'mnist', attack: 'pgd', eps: EPS, steps: 3, seed: 5, batchSize: 12, numBatches: 3, offset: 10, includeClean: true };
    const batches = (await collect(grpcjs.adversarial.GenerateAdversarial(request))).map((r) => r.batch);
    assert.equal(batches.length, 3);
    for (const [i, b] of batches.entries()) {
      assert.equal(b.batchIndex, i);
      assert.equal(b.firstIndex, 10 + 12 * i);
      assert.deepEqual(b.adversarial.shape, [12, 28, 28, 1]);
      assert.deepEqual(b.labels.shape, [12]);
      assert.deepEqual(b.predictions.shape, [12]);
      const adv = floats(b.adversarial);
      const clean = floats(b.clean);
      let worst = 0;
      for (let k = 0; k < adv.length; k++) {
        assert.ok(adv[k] >= 0 && adv[k] <= 1, 'inside [0, 1]');
        worst = Math.max(worst, Math.abs(adv[k] - clean[k]));
      }
      assert.ok(worst <= EPS + 1e-6, `batch ${i}: ‖δ‖∞ = ${worst} ≤ ε`);
      assert.ok(Math.abs(b.maxPerturbation - worst) < 1e-5);
      assert.ok(b.robustAccuracy <= b.cleanAccuracy + 1e-9);
      assert.equal(b.attack, 'pgd');
    }

    const { adversarial } = connectClients(server.url, 'connect');
    const overConnect = [];
    for await (const r of adversarial.generateAdversarial({ ...request, numBatches: 2 })) overConnect.push(r.batch!);
    assert.equal(overConnect.length, 2);
    for (const [i, b] of overConnect.entries()) {
      const t = decodeTensor(b.adversarial, 'adversarial');
      assert.deepEqual(t.shape, [12, 28, 28, 1]);
      assert.deepEqual([...t.values], [...floats(batches[i].adversarial)], `batch ${i}: same seed, same examples over both stacks`);
    }
  });

  it('stops the attack when the client cancels the call (grpc-js)', async () => {
    const call = grpcjs.adversarial.GenerateAdversarial({ modelUri: model, dataset: 'mnist', eps: EPS, steps: 200, batchSize: 32, numBatches: 100 });
    call.on('error', () => {}); // CANCELLED, after our cancel() below
    await waitFor(() => server.adversarial!.inFlight > 0, 30_000, 'the attack to start');
    call.cancel();
    await waitFor(() => server.adversarial!.inFlight === 0, 10_000, 'the workers to stop');
  });

  it('honours the deadline: DEADLINE_EXCEEDED and the workers stop (Connect)', async () => {
    const { adversarial } = connectClients(server.url, 'grpc');
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (const _ of adversarial.generateAdversarial({ modelUri: model, dataset: 'mnist', eps: EPS, steps: 200, batchSize: 32, numBatches: 100 }, { timeoutMs: 1500 })) {
          // reading until the deadline
        }
      })(),
      (e: unknown) => ConnectError.from(e).code === Code.DeadlineExceeded,
    );
    assert.ok(Date.now() - started < 10_000);
    await waitFor(() => server.adversarial!.inFlight === 0, 10_000, 'the workers to stop');
  });
});
