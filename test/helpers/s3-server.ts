/**
 * A real S3 server for tests and benchmarks.
 *
 * - When `HARDEN_S3_ENDPOINT` (or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`) is set, that server is
 *   used (in CI: OpenStack Swift's s3api, started by scripts/start-swift.sh), with the credentials in
 *   `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` and region `AWS_REGION` (default us-east-1).
 * - Otherwise an s3rver process is started on a free loopback port with a temp directory, so the S3
 *   code path runs on a fresh clone with no system packages.
 *
 * Each test file makes its own buckets (`createBucket`) and removes them (`close`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client, type S3ClientOptions } from '../../libs/storage/index.js';

export type S3ServerKind = 's3rver' | 'external';

export interface S3TestServer {
  /** `external` (HARDEN_S3_ENDPOINT / AWS_ENDPOINT_URL: Swift in CI) or `s3rver` (started here). */
  readonly kind: S3ServerKind;
  /** The URL clients use. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** A client for this server (fewer attempts than the default unless overridden, to keep tests quick). */
  client(overrides?: S3ClientOptions): S3Client;
  /** Creates a bucket with a fresh name (`harden-test-<hex>`), removed again by `close`. */
  createBucket(): Promise<string>;
  /**
   * Makes the server unreachable at once, cutting connections mid-request: s3rver is killed
   * (SIGKILL); an external server is cut off by closing the loopback proxy in front of it (only
   * when started with `interruptible`).
   */
  stop(): Promise<void>;
  /** Brings it back on the same endpoint, with the same data. */
  start(): Promise<void>;
  /** Removes the buckets made here and stops what was started here. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Allow `stop`/`start` (an external server then gets a TCP proxy in front). @default false */
  interruptible?: boolean;
}

/** The external endpoint configured in the environment, if any. */
export function externalEndpoint(): string | undefined {
  return process.env.HARDEN_S3_ENDPOINT || process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
}

export async function startS3Server(options: StartOptions = {}): Promise<S3TestServer> {
  const external = externalEndpoint();
  return external ? useExternal(external, options) : startS3rver();
}

interface Backend {
  kind: S3ServerKind;
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function wrap(backend: Backend): S3TestServer {
  const buckets: string[] = [];
  const client = (overrides: S3ClientOptions = {}) =>
    createS3Client({ endpoint: backend.endpoint, region: backend.region, credentials: backend.credentials, maxAttempts: 3, ...overrides });
  let admin: S3Client | undefined;
  return {
    kind: backend.kind,
    endpoint: backend.endpoint,
    region: backend.region,
    credentials: backend.credentials,
    client,
    async createBucket() {
      const name = `harden-test-${randomBytes(6).toString('hex')}`;
      admin ??= client();
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      buckets.push(name);
      return name;
    },
    stop: () => backend.stop(),
    start: () => backend.start(),
    async close() {
      if (admin) {
        for (const bucket of buckets) await emptyAndDelete(admin, bucket).catch(() => undefined);
        admin.destroy();
      }
      await backend.close();
    },
  };
}

async function emptyAndDelete(client: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
    // One DeleteObject each: DeleteObjects needs Content-MD5, which WHEN_REQUIRED checksums do not send to older servers.
    for (const o of page.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function useExternal(endpoint: string, options: StartOptions): Promise<S3TestServer> {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(`S3 endpoint ${endpoint} is set but AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not (Swift: test:tester / testing; see scripts/start-swift.sh env)`);
  }
  const region = process.env.AWS_REGION || 'us-east-1';
  const credentials = { accessKeyId, secretAccessKey };
  if (!options.interruptible) {
    return wrap({ kind: 'external', endpoint, region, credentials, stop: notInterruptible, start: notInterruptible, close: async () => undefined });
  }
  const target = new URL(endpoint);
  const proxy = await startProxy(target.hostname, Number(target.port || (target.protocol === 'https:' ? 443 : 80)));
  return wrap({
    kind: 'external',
    endpoint: `${target.protocol}//127.0.0.1:${proxy.port}`,
    region,
    credentials,
    stop: () => proxy.stop(),
    start: () => proxy.start(),
    close: () => proxy.stop(),
  });
}

async function notInterruptible(): Promise<void> {
  throw new Error('start the S3 test server with { interruptible: true } to stop and restart it');
}

async function startS3rver(): Promise<S3TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'harden-s3rver-'));
  const script = fileURLToPath(new URL('./s3rver-process.js', import.meta.url));
  let child: ChildProcess | undefined;
  let port = 0;
  const launch = async () => {
    const proc = spawn(process.execPath, ['--openssl-legacy-provider', script, dir, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    child = proc;
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${err}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n')) {
          clearTimeout(timer);
          try {
            resolve((JSON.parse(line) as { port: number }).port);
          } catch (e) {
            reject(new Error(`s3rver printed ${JSON.stringify(line)}: ${(e as Error).message}`));
          }
        }
      });
      proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code} while starting: ${err}`));
      });
    });
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };
  await launch();
  return wrap({
    kind: 's3rver',
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    stop: kill,
    start: async () => {
      if (!child) await launch();
    },
    async close() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

/** A loopback TCP proxy to host:port that can drop every connection and refuse new ones, then come back on the same port. */
async function startProxy(host: string, targetPort: number): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, host);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        s.unref();
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async stop() {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async start() {
      if (!server) await listen();
    },
  };
}

/** Counts the HTTP requests a client sends (every attempt, retries included), by command name. */
export function countRequests(client: S3Client): { total(): number; byCommand: Map<string, number> } {
  const byCommand = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? 'unknown');
      byCommand.set(name, (byCommand.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'deserialize', name: 'hardenCountRequests' },
  );
  return { total: () => [...byCommand.values()].reduce((a, b) => a + b, 0), byCommand };
}
