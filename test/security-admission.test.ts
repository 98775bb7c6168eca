/**
 * Admission over the network: per-caller limits on concurrent GenerateAdversarial streams (grpc-js
 * and Connect clients, two callers with their own tokens), the server-wide attack memory bound,
 * and the per-caller limit on queued jobs; past each, RESOURCE_EXHAUSTED at once with a retry hint.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Code, ConnectError } from '@connectrpc/connect';
import { createServiceClient, createTransport } from '../libs/rpc/index.js';
import { AdversarialService } from '../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import { HardeningService } from '../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { createLogger } from '../libs/telemetry/index.js';
import type { HardenServer } from '../services/server/index.js';
import { grpcClients, saveTinyModel, startTestServer, waitFor } from './rpc-helpers.js';

const ALICE = 'submit-alice-0123456789abcdef';
const BOB = 'submit-bob-0123456789abcdef0';

describe('admission', () => {
  let server: HardenServer;
  let dir: string;
  let model = '';

  before(async () => {
    ({ server, dir } = await startTestServer({
      logger: createLogger('serve', { level: 'error' }),
      auth: { tokens: [{ role: 'submit', token: ALICE, name: 'alice' }, { role: 'submit', token: BOB, name: 'bob' }] },
      // 32 images of 28×28: 4 × 32 × 784 × 4 bytes ≈ 401 KB each; three streams fit, a fourth does not.
      admission: { maxStreamsPerCaller: 2, maxAttackBytes: 3 * 401_408 + 1000, maxQueuedPerCaller: 1, retryAfterMs: 3000 },
      trainingConcurrency: 1,
    }));
    model = await saveTinyModel(dir);
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Long in batches (200), short per batch (PGD-10): the streams stay open for minutes, and each answers its first batch quickly.
  const longRequest = () => ({ modelUri: model, dataset: 'mnist', attack: 'pgd', eps: 0.1, steps: 10, batchSize: 32, numBatches: 200 });

  it('refuses a caller past its concurrent streams and the server past its attack memory, at once, with a retry hint', async () => {
    const alice = createServiceClient(AdversarialService, createTransport({ address: server.url, token: ALICE }));
    const bob = createServiceClient(AdversarialService, createTransport({ address: server.url, token: BOB }));
    const stop = new AbortController();
    const open: Array<Promise<unknown>> = [];
    const hold = (client: typeof alice) => {
      const firstBatch = (async () => {
        const it = client.generateAdversarial(longRequest(), { signal: stop.signal })[Symbol.asyncIterator]();
        const first = it.next();
        open.push(first.then(async () => {
          try {
            while (!(await it.next()).done) {
              // reading until stopped
            }
          } catch {
            // cancelled at the end of the test
          }
        }));
        return first;
      })();
      return firstBatch;
    };
    try {
      // Two streams of alice's, both admitted (they answer their first batch).
      await Promise.all([hold(alice), hold(alice)]);
      // A third of alice's, over grpc-js: RESOURCE_EXHAUSTED at once, with the pushback trailer.
      const clients = grpcClients(server.url);
      const started = Date.now();
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${ALICE}`);
      const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
        const call = clients.adversarial.generateAdversarial(longRequest(), md);
        call.on('data', () => reject(new Error('a third stream was admitted')));
        call.on('error', resolve);
      });
      clients.close();
      assert.equal(error.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(error.details, /at most 2 GenerateAdversarial streams at once per caller; retry in 3 s/);
      assert.equal(error.metadata.get('grpc-retry-pushback-ms')[0], '3000');
      assert.ok(Date.now() - started < 3000, 'refused at once');
      // Bob is another caller: his first stream goes (the third of the server's memory bound)…
      await hold(bob);
      // …and his second would pass his own limit but not the server's attack memory bound.
      await assert.rejects(
        (async () => {
          for await (const _ of bob.generateAdversarial(longRequest())) break;
        })(),
        (e: unknown) => {
          const c = ConnectError.from(e);
          assert.equal(c.code, Code.ResourceExhausted);
          assert.match(c.rawMessage, /attack memory bound; retry in 3 s/);
          return true;
        },
      );
    } finally {
      stop.abort();
      await Promise.allSettled(open);
    }
    // Once the streams end, their room is free again.
    await waitFor(async () => {
      try {
        for await (const _ of alice.generateAdversarial({ ...longRequest(), numBatches: 1, steps: 1 })) break;
        return true;
      } catch {
        return false;
      }
    }, 20_000, 'admission after the streams ended');
  });

  it('refuses a caller past its queued jobs, not another caller', async () => {
    const alice = createServiceClient(HardeningService, createTransport({ address: server.url, token: ALICE }));
    const bob = createServiceClient(HardeningService, createTransport({ address: server.url, token: BOB }));
    const job = (n: number) => ({ model: { case: 'arch' as const, value: 'small-cnn' }, method: 'standard', dataset: 'mnist', limit: 64, epochs: 50, batchSize: 32, evalSize: 0, evaluation: { skip: true }, requestId: `q-${n}` });
    const first = (await alice.harden(job(1))).job!.jobId;
    await waitFor(() => server.jobs.get(first).state === 'RUNNING', 30_000, 'the first job running');
    const second = (await alice.harden(job(2))).job!.jobId; // queued: alice's one
    await assert.rejects(alice.harden(job(3)), (e: unknown) => {
      const c = ConnectError.from(e);
      assert.equal(c.code, Code.ResourceExhausted);
      assert.match(c.rawMessage, /at most 1 queued jobs per caller; retry in/);
      return true;
    });
    const bobs = (await bob.harden(job(4))).job!.jobId;
    for (const id of [first, second, bobs]) await alice.cancelJob({ jobId: id });
  });
});
