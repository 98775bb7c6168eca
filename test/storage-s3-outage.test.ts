/**
 * The S3 server goes away in the middle of a multi-file checkpoint upload (s3rver: killed; Swift: cut
 * off by a loopback proxy that drops every connection). `latest.json` must still name the previous,
 * complete checkpoint, which must verify; after the server comes back, the next attempt succeeds.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  createS3Store,
  jobPaths,
  openLatestCheckpoint,
  readVerified,
  saveCheckpoint,
  StorageError,
  type ArtifactStore,
} from '../libs/storage/index.js';
import { patternBytes } from '../libs/storage/store-contract.fixture.js';
import { startS3Server, type S3TestServer } from './helpers/s3-server.js';

const MiB = 1024 * 1024;
const bytes = (s: string) => new TextEncoder().encode(s);

let server: S3TestServer;
let client: S3Client;
let store: ArtifactStore;

before(async () => {
  server = await startS3Server({ interruptible: true });
  client = server.client({ maxAttempts: 3, connectTimeoutMs: 1000 });
  store = createS3Store({ bucket: await server.createBucket(), prefix: 'outage', client, partSize: 5 * MiB, queueSize: 2 });
});
after(async () => {
  client?.destroy();
  await server?.start().catch(() => undefined);
  await server?.close();
});

/** Writes a checkpoint like training's: two model folders, a large streamed optimizer, state.json. */
function writeEpoch(epoch: number, onOptimizerBytes?: (sent: number) => Promise<void>) {
  return saveCheckpoint(store, {
    jobId: 'run',
    epoch,
    data: { robustAccuracy: epoch / 100 },
    write: async (folder) => {
      for (const role of ['target', 'guidance']) {
        await folder.put(`${role}/group1-shard1of2.bin`, patternBytes(MiB, epoch * 10 + 1));
        await folder.put(`${role}/group1-shard2of2.bin`, patternBytes(MiB, epoch * 10 + 2));
        await folder.put(`${role}/model.json`, bytes(JSON.stringify({ role, epoch })));
      }
      async function* optimizer() {
        for (let sent = 0; sent < 20 * MiB; sent += 256 * 1024) {
          await onOptimizerBytes?.(sent);
          yield patternBytes(256 * 1024, epoch * 1000 + sent / 1024);
        }
      }
      await folder.putStream('optimizer', optimizer());
      await folder.put('state.json', bytes(JSON.stringify({ epoch })));
    },
  });
}

it('a server outage mid-upload leaves latest on the previous complete checkpoint; the next attempt succeeds', async () => {
  await writeEpoch(1);
  const paths = jobPaths('run');

  let stopped = false;
  const started = performance.now();
  await assert.rejects(
    writeEpoch(2, async (sent) => {
      // 8 MiB into the 20 MiB optimizer upload: one part done, the next ones in flight.
      if (!stopped && sent >= 8 * MiB) {
        stopped = true;
        await server.stop();
      }
    }),
    (err: unknown) => {
      assert.ok(StorageError.is(err, 'io'), String(err));
      assert.match(err.message, /cannot reach the S3 server|S3 error/);
      assert.match(err.message, /checkpoints\/epoch-0002\/optimizer/, 'names the key');
      return true;
    },
  );
  assert.ok(stopped, 'the server was stopped during the upload');
  assert.ok(performance.now() - started < 30_000, 'retries are bounded');

  await server.start();
  const latest = await openLatestCheckpoint(store, 'run');
  assert.ok(latest);
  assert.equal(latest.pointer.folder, paths.checkpoint(1));
  assert.deepEqual(latest.pointer.data, { robustAccuracy: 0.01, epoch: 1 });
  await latest.folder.verify();
  await assert.rejects(readVerified(store, paths.checkpoint(2)), (err: unknown) => StorageError.is(err, 'not-found') && /incomplete/.test(err.message));

  const next = await writeEpoch(2);
  assert.equal(next.folder, paths.checkpoint(2));
  const reopened = await openLatestCheckpoint(store, 'run');
  assert.equal(reopened?.pointer.folder, paths.checkpoint(2));
  await reopened!.folder.verify();
  assert.equal(reopened!.folder.manifest.files.length, 8);
  assert.deepEqual(await store.list(`${paths.checkpoint(2)}/`), [
    ...reopened!.folder.manifest.files.map((f) => `${paths.checkpoint(2)}/${f.key}`),
    `${paths.checkpoint(2)}/manifest.json`,
  ].sort());
});
