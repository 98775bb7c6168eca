/**
 * Jobs survive their server. `harden serve` runs as a child process; a Harden job is killed with it
 * (SIGKILL) after its first checkpoint, and the restarted server resumes it from that checkpoint;
 * then that server is stopped gracefully (SIGTERM) after the second checkpoint and a third one
 * finishes the job. A watcher reconnects after each restart from the last sequence number it saw:
 * across three servers it sees every event exactly once, in order.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { JobState, type JobEvent } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import { CLI, connectClients, grpcClients, tempDir, tinyHardenRequest, unary } from './rpc-helpers.js';

interface Child {
  process: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

async function serve(store: string): Promise<Child> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', store, '--backend', 'wasm', '--grace', '20', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HARDEN_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    void exited.then((code) => reject(new Error(`harden serve exited (${code}) before listening: ${stderr}`)));
  });
  return { process: child, url: (JSON.parse(line) as { url: string }).url, exited };
}

describe('jobs across server restarts', () => {
  it('resumes a killed job from its checkpoint, drains on SIGTERM, and a reconnecting watcher loses no event', async () => {
    const store = pathToFileURL(tempDir('harden-restart')).href;
    const events: JobEvent[] = [];
    const servers: Child[] = [];
    try {
      // Server 1: start the job, follow it to its first checkpoint, then kill the server.
      servers.push(await serve(store));
      const grpcjs = grpcClients(servers[0].url);
      const { job } = await unary(grpcjs.hardening, 'Harden', tinyHardenRequest({ limit: 192, epochs: 3, evaluation: { suite: 'quick', limit: 16 } }));
      grpcjs.close();
      const jobId: string = job.jobId;

      /** Follows the job on `url` from the last event seen until `stop` says so (or the stream ends). */
      const follow = async (url: string, stop: (e: JobEvent) => boolean) => {
        const { hardening } = connectClients(url, 'grpc');
        const after = BigInt(events.at(-1)?.sequence ?? 0);
        for await (const r of hardening.watchJob({ jobId, afterSequence: after })) {
          events.push(r.event!);
          if (stop(r.event!)) return;
        }
      };
      const checkpoint = (epoch: number) => (e: JobEvent) => e.kind.case === 'checkpointSaved' && e.kind.value.epoch === epoch;

      await follow(servers[0].url, checkpoint(1));
      servers[0].process.kill('SIGKILL');
      await servers[0].exited;

      // Server 2: the job resumes from epoch 1; stop this server gracefully after the next checkpoint.
      servers.push(await serve(store));
      await follow(servers[1].url, checkpoint(2));
      const before = events.length;
      servers[1].process.kill('SIGTERM');
      assert.equal(await servers[1].exited, 0, 'a graceful shutdown exits 0');

      // Server 3: resumes from epoch 2 and finishes, evaluation included.
      servers.push(await serve(store));
      await follow(servers[2].url, () => false);
      assert.ok(events.length > before);

      const sequences = events.map((e) => Number(e.sequence));
      assert.deepEqual(sequences, sequences.map((_, i) => i + 1), 'every event exactly once, in order, across three servers');
      const resumed = events.filter((e) => e.kind.case === 'resumed').map((e) => (e.kind.value as { epoch: number }).epoch);
      assert.deepEqual(resumed, [1, 2], 'each restart resumed from the latest checkpoint');
      const epochs = events.filter((e) => e.kind.case === 'epochCompleted').map((e) => (e.kind.value as { epoch: number }).epoch);
      assert.deepEqual(epochs, [1, 2, 3], 'no epoch was trained twice');
      const restarts = events.filter((e) => e.kind.case === 'stateChanged' && e.kind.value.state === JobState.RUNNING && /restart/.test(e.kind.value.message));
      assert.equal(restarts.length, 2);
      assert.ok(events.some((e) => e.kind.case === 'warning' && e.kind.value.id === 'interrupted'), 'the graceful shutdown recorded the interruption');
      const last = events.at(-1)!;
      assert.equal(last.kind.case === 'stateChanged' && last.kind.value.state, JobState.SUCCEEDED);

      const c = connectClients(servers[2].url, 'connect');
      const done = (await c.hardening.getJob({ jobId })).job!;
      assert.equal(done.state, JobState.SUCCEEDED);
      const report = (await c.evaluation.getReport({ reportId: done.reportId })).report!;
      assert.ok(report.robustAccuracy <= report.cleanAccuracy);
    } finally {
      for (const s of servers) if (s.process.exitCode === null) s.process.kill('SIGKILL');
    }
  });
});
