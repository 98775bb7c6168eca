/**
 * Store faults on real file systems, not on errors made up in a test: a store on a tmpfs that fills
 * up, and one remounted read-only, under a running server. A Harden job that meets either fails with
 * its real code and a sentence naming no path; the job database and the store stay usable, and the
 * next job succeeds once there is room (or writes are allowed) again. A server started on a
 * read-only store stays NOT_SERVING until the store takes writes.
 *
 * Mounting needs root with CAP_SYS_ADMIN (a CI container usually has it; a laptop user does not):
 * without it the suite is skipped and says why.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { ServingStatus } from '../libs/rpc/index.js';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import { createLogger } from '../libs/telemetry/index.js';
import { startHardenServer, type HardenServer } from '../services/server/index.js';
import { connectClients, tempDir, waitFor } from './rpc-helpers.js';

/** Mounts a tmpfs of `size` at a new folder, or says why it cannot. */
function mountTmpfs(size: string): { dir: string } | { reason: string } {
  const dir = tempDir('harden-tmpfs');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): ${(r.stderr || r.error?.message || '').trim()}` };
  }
  return { dir };
}

function unmount(dir: string): void {
  spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}

const probe = mountTmpfs('64k');
const skip = 'reason' in probe ? probe.reason : false;
if ('dir' in probe) unmount(probe.dir);

const FINAL = [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED];
const quiet = () => createLogger('serve', { level: 'error' });

async function start(storeDir: string, dbDir: string): Promise<HardenServer> {
  return startHardenServer({
    port: 0,
    storeUri: pathToFileURL(storeDir).href,
    dbPath: join(dbDir, 'jobs.sqlite'),
    backend: 'wasm',
    services: ['training', 'evaluation'],
    dashboard: false,
    shutdownGraceMs: 5000,
    logger: quiet(),
  });
}

/** A tiny Harden job (no evaluation), to its end. */
async function hardenToEnd(server: HardenServer, requestId: string) {
  const { hardening } = connectClients(server.url);
  const job = (await hardening.harden({ model: { case: 'arch', value: 'small-cnn' }, method: 'standard', dataset: 'mnist', limit: 64, epochs: 1, batchSize: 32, evalSize: 16, evaluation: { skip: true }, requestId })).job!;
  await waitFor(async () => FINAL.includes((await hardening.getJob({ jobId: job.jobId })).job!.state), 240_000, `job ${requestId} to end`);
  return (await hardening.getJob({ jobId: job.jobId })).job!;
}

/** Writes zeros to `file` until the file system is full. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

describe('store faults on real file systems', { skip }, () => {
  it('a full store: the job fails as "the artifact store is full", and the next one succeeds once there is room', async () => {
    const fs = mountTmpfs('8m') as { dir: string };
    const dbDir = tempDir('harden-db');
    const storeDir = join(fs.dir, 'store');
    mkdirSync(storeDir);
    const server = await start(storeDir, dbDir);
    try {
      const { health } = connectClients(server.url);
      await waitFor(async () => (await health.check({ service: '' })).status === ServingStatus.SERVING, 30_000, 'SERVING');
      fill(join(fs.dir, 'filler'));
      const failed = await hardenToEnd(server, 'full-1');
      assert.equal(failed.state, JobState.FAILED);
      assert.equal(failed.error?.code, 'unavailable');
      assert.equal(failed.error?.message, 'the artifact store is full');
      unlinkSync(join(fs.dir, 'filler'));
      const done = await hardenToEnd(server, 'full-2');
      assert.equal(done.state, JobState.SUCCEEDED, JSON.stringify(done.error));
    } finally {
      await server.close();
      unmount(fs.dir);
      rmSync(dbDir, { recursive: true, force: true });
    }
  });

  it('a store remounted read-only: the running server’s job fails as read-only; a server started on it stays NOT_SERVING until writes are allowed', async () => {
    const fs = mountTmpfs('16m') as { dir: string };
    const dbDir = tempDir('harden-db');
    const storeDir = join(fs.dir, 'store');
    mkdirSync(storeDir);
    let server = await start(storeDir, dbDir);
    try {
      let { health } = connectClients(server.url);
      await waitFor(async () => (await health.check({ service: '' })).status === ServingStatus.SERVING, 30_000, 'SERVING');
      execFileSync('mount', ['-o', 'remount,ro', fs.dir]);
      const failed = await hardenToEnd(server, 'ro-1');
      assert.equal(failed.state, JobState.FAILED);
      assert.equal(failed.error?.code, 'unavailable');
      assert.equal(failed.error?.message, 'the artifact store is read-only');
      await server.close();

      server = await start(storeDir, dbDir);
      ({ health } = connectClients(server.url));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await health.check({ service: 'robustness.v1.HardeningService' })).status, ServingStatus.NOT_SERVING);
      execFileSync('mount', ['-o', 'remount,rw', fs.dir]);
      await waitFor(async () => (await health.check({ service: '' })).status === ServingStatus.SERVING, 30_000, 'SERVING once the store takes writes');
      const done = await hardenToEnd(server, 'ro-2');
      assert.equal(done.state, JobState.SUCCEEDED, JSON.stringify(done.error));
    } finally {
      await server.close();
      spawnSync('mount', ['-o', 'remount,rw', fs.dir]);
      unmount(fs.dir);
      rmSync(dbDir, { recursive: true, force: true });
    }
  });
});
