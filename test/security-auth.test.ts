/**
 * Authentication and roles over the network, with both client stacks (@grpc/grpc-js from the
 * .proto files, and Connect): a token of each role (and none, and a bad one) against every RPC; a
 * worker token used for its own job and for another; mutual TLS with and without a client
 * certificate (certificates made here with openssl); a wrong Host; the dashboard's token; and a
 * server that refuses to bind beyond loopback without credentials.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Code, ConnectError } from '@connectrpc/connect';
import { createServiceClient, createTransport, Health, readTokenFiles } from '../libs/rpc/index.js';
import { AdversarialService } from '../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import { EvaluationService } from '../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { HardeningService } from '../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { JobWorkerService } from '../libs/rpc/gen/robustness/v1/worker_pb.js';
import { createLogger } from '../libs/telemetry/index.js';
import { startHardenServer, type HardenServer } from '../services/server/index.js';
import { fakeRunnerOptions, startFakeKubeApi, type FakeKubeApi } from './helpers/fake-kube-api.js';
import { PROTO_DIR, tempDir, waitFor } from './rpc-helpers.js';

const READ = 'read-token-0123456789abcdef';
const SUBMIT = 'submit-token-0123456789abcdef';
const SUBMIT_NEW = 'submit-token-rotated-0123456789';

/* eslint-disable @typescript-eslint/no-explicit-any -- grpc-js clients are untyped when loaded dynamically */
function grpcPkg(): any {
  const def = protoLoader.loadSync(
    ['robustness/v1/hardening.proto', 'robustness/v1/evaluation.proto', 'robustness/v1/adversarial.proto', 'robustness/v1/worker.proto', 'grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto'],
    { includeDirs: [PROTO_DIR], longs: Number, enums: String, defaults: true, oneofs: true },
  );
  return grpc.loadPackageDefinition(def);
}

/** Every RPC: service, method, a request the handler refuses or answers cheaply, streaming or not. */
const RPCS: Array<{ service: string; method: string; request: Record<string, unknown>; stream?: boolean; needs: 'none' | 'read' | 'submit' | 'worker' }> = [
  { service: 'grpc.health.v1.Health', method: 'Check', request: {}, needs: 'none' },
  { service: 'robustness.v1.HardeningService', method: 'Harden', request: {}, needs: 'submit' },
  { service: 'robustness.v1.HardeningService', method: 'GetJob', request: { jobId: 'nope' }, needs: 'read' },
  { service: 'robustness.v1.HardeningService', method: 'WatchJob', request: { jobId: 'nope' }, stream: true, needs: 'read' },
  { service: 'robustness.v1.HardeningService', method: 'CancelJob', request: { jobId: 'nope' }, needs: 'submit' },
  { service: 'robustness.v1.HardeningService', method: 'ListJobs', request: {}, needs: 'read' },
  { service: 'robustness.v1.EvaluationService', method: 'Evaluate', request: {}, needs: 'submit' },
  { service: 'robustness.v1.EvaluationService', method: 'GetEvaluation', request: { evaluationId: 'nope' }, needs: 'read' },
  { service: 'robustness.v1.EvaluationService', method: 'WatchEvaluation', request: { evaluationId: 'nope' }, stream: true, needs: 'read' },
  { service: 'robustness.v1.EvaluationService', method: 'CancelEvaluation', request: { evaluationId: 'nope' }, needs: 'submit' },
  { service: 'robustness.v1.EvaluationService', method: 'GetReport', request: { reportId: 'nope' }, needs: 'read' },
  { service: 'robustness.v1.EvaluationService', method: 'ListReports', request: {}, needs: 'read' },
  { service: 'robustness.v1.AdversarialService', method: 'GenerateAdversarial', request: {}, stream: true, needs: 'submit' },
  { service: 'robustness.v1.JobWorkerService', method: 'StartWork', request: { jobId: 'job-w' }, needs: 'worker' },
  { service: 'robustness.v1.JobWorkerService', method: 'ReportProgress', request: { jobId: 'job-w' }, needs: 'worker' },
  { service: 'robustness.v1.JobWorkerService', method: 'FinishWork', request: { jobId: 'job-w' }, needs: 'worker' },
  { service: 'grpc.reflection.v1.ServerReflection', method: 'ServerReflectionInfo', request: { listServices: '' }, stream: true, needs: 'read' },
];

function grpcCall(pkg: any, target: string, creds: grpc.ChannelCredentials, rpc: (typeof RPCS)[number], token: string | undefined, options: Record<string, unknown> = {}): Promise<number> {
  const path = rpc.service.split('.');
  let ctor = pkg;
  for (const p of path) ctor = ctor[p];
  const client = new ctor(target, creds, options) as grpc.Client & Record<string, any>;
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  const name = rpc.method.charAt(0).toLowerCase() + rpc.method.slice(1);
  return new Promise<number>((resolve) => {
    const done = (code: number) => {
      client.close();
      resolve(code);
    };
    if (rpc.service.endsWith('ServerReflection')) {
      const call = client[name](md, { deadline: new Date(Date.now() + 5000) });
      call.on('data', () => undefined);
      call.on('error', (e: grpc.ServiceError) => done(e.code));
      call.on('end', () => done(0));
      call.write(rpc.request);
      call.end();
    } else if (rpc.stream) {
      const call = client[name](rpc.request, md, { deadline: new Date(Date.now() + 5000) });
      call.on('data', () => call.cancel());
      call.on('error', (e: grpc.ServiceError) => done(e.code === grpc.status.CANCELLED ? 0 : e.code));
      call.on('end', () => done(0));
    } else {
      client[name](rpc.request, md, { deadline: new Date(Date.now() + 5000) }, (e: grpc.ServiceError | null) => done(e ? e.code : 0));
    }
  });
}

const CONNECT_SERVICES = { 'grpc.health.v1.Health': Health, 'robustness.v1.HardeningService': HardeningService, 'robustness.v1.EvaluationService': EvaluationService, 'robustness.v1.AdversarialService': AdversarialService, 'robustness.v1.JobWorkerService': JobWorkerService } as const;

async function connectCall(url: string, rpc: (typeof RPCS)[number], token: string | undefined, protocol: 'connect' | 'grpc' | 'grpc-web' = 'connect'): Promise<number> {
  const service = CONNECT_SERVICES[rpc.service as keyof typeof CONNECT_SERVICES];
  if (!service) return -1;
  const client = createServiceClient(service as any, createTransport({ address: url, protocol, ...(token ? { token } : {}), defaultTimeoutMs: 5000 })) as any;
  const name = rpc.method.charAt(0).toLowerCase() + rpc.method.slice(1);
  try {
    if (rpc.stream) {
      for await (const _ of client[name](rpc.request)) break;
    } else await client[name](rpc.request);
    return 0;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

/** What a caller of `role` must get from `rpc`: 0 (or any code but the two auth ones) when allowed. */
function expected(rpc: (typeof RPCS)[number], role: 'none' | 'bad' | 'read' | 'submit' | 'worker-own' | 'worker-other'): 'allowed' | number {
  if (rpc.needs === 'none') return 'allowed';
  if (role === 'none' || role === 'bad') return grpc.status.UNAUTHENTICATED;
  if (rpc.needs === 'worker') return role === 'worker-own' ? 'allowed' : grpc.status.PERMISSION_DENIED;
  if (role === 'worker-own' || role === 'worker-other') return grpc.status.PERMISSION_DENIED;
  if (rpc.needs === 'read') return 'allowed';
  return role === 'submit' ? 'allowed' : grpc.status.PERMISSION_DENIED;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, a server certificate for localhost signed by it, client certificates (OU submit, OU read) and one from another CA. */
function makeCertificates(dir: string): void {
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=harden test CA'], dir);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=someone else'], dir);
  const sign = (name: string, subject: string, ca = 'ca', extFile?: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...(extFile ? ['-extfile', extFile] : [])], dir);
  };
  sign('server', '/CN=localhost', 'ca', ext);
  sign('client-submit', '/CN=alice/OU=submit');
  sign('client-read', '/CN=bob/OU=read');
  sign('client-stranger', '/CN=mallory/OU=submit', 'other-ca');
}

describe('authentication and roles', () => {
  let fake: FakeKubeApi;
  let server: HardenServer;
  let dir: string;
  let url = '';
  let pkg: any;
  let tokensFile = '';

  before(async () => {
    fake = await startFakeKubeApi();
    dir = tempDir('harden-auth');
    tokensFile = join(dir, 'tokens');
    writeFileSync(tokensFile, `# role token name\nread ${READ} dashboard\nsubmit ${SUBMIT} ci\nsubmit ${SUBMIT_NEW} ci-rotated\n`);
    server = await startHardenServer({
      port: 0,
      storeUri: pathToFileURL(join(dir, 'store')).href,
      backend: 'wasm',
      shutdownGraceMs: 5000,
      logger: createLogger('serve', { level: 'error' }),
      runner: 'kubernetes',
      kubernetes: fakeRunnerOptions(fake, 'ml', () => url),
      auth: { tokens: readTokenFiles([tokensFile]) },
    });
    url = server.url;
    pkg = grpcPkg();
  });
  after(async () => {
    await server?.close();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers each role on every RPC as the table says, over grpc-js and Connect', async () => {
    const tokens = { none: undefined, bad: 'not-a-token-0123456789abcdef', read: READ, submit: SUBMIT, 'worker-own': server.auth.workerToken('job-w'), 'worker-other': server.auth.workerToken('job-x') } as const;
    const failures: string[] = [];
    for (const rpc of RPCS) {
      for (const [role, token] of Object.entries(tokens) as Array<[keyof typeof tokens, string | undefined]>) {
        const want = expected(rpc, role);
        const check = (stack: string, code: number) => {
          if (code === -1) return;
          const ok = want === 'allowed' ? code !== grpc.status.UNAUTHENTICATED && code !== grpc.status.PERMISSION_DENIED : code === want;
          if (!ok) failures.push(`${stack} ${rpc.method} as ${role}: got ${code}, want ${want}`);
        };
        check('grpc-js', await grpcCall(pkg, url.replace(/^http:\/\//, ''), grpc.credentials.createInsecure(), rpc, token));
        check('connect', await connectCall(url, rpc, token));
      }
    }
    assert.deepEqual(failures, []);
  });

  it('takes either of two submit tokens (rotation) and names no token in its refusals', async () => {
    const client = createServiceClient(HardeningService, createTransport({ address: url, token: SUBMIT_NEW }));
    await client.listJobs({});
    const denied = createServiceClient(HardeningService, createTransport({ address: url, token: READ }));
    await assert.rejects(denied.cancelJob({ jobId: 'x' }), (e: unknown) => {
      const c = ConnectError.from(e);
      assert.equal(c.code, Code.PermissionDenied);
      assert.match(c.rawMessage, /the read role may not call CancelJob/);
      assert.ok(!c.rawMessage.includes(READ));
      return true;
    });
  });

  it('gives a Kubernetes worker pod a token for its own job, which works for that job only', async () => {
    const submit = createServiceClient(HardeningService, createTransport({ address: url, token: SUBMIT }));
    const a = (await submit.harden({ model: { case: 'arch', value: 'small-cnn' }, dataset: 'mnist', method: 'standard', limit: 64, epochs: 1, batchSize: 32 })).job!.jobId;
    const b = (await submit.harden({ model: { case: 'arch', value: 'small-cnn' }, dataset: 'mnist', method: 'standard', limit: 64, epochs: 1, batchSize: 32, requestId: 'second' })).job!.jobId;
    await waitFor(async () => (await submit.getJob({ jobId: a })).job?.state === 2, 20_000, 'job a RUNNING');
    const manifest = await fake.waitForJob('ml', `harden-job-${a}`);
    const env = manifest.spec.template.spec.containers[0]!.env ?? [];
    const token = env.find((e) => e.name === 'HARDEN_WORKER_TOKEN')?.value;
    assert.ok(token, 'the worker pod gets HARDEN_WORKER_TOKEN');
    const worker = createServiceClient(JobWorkerService, createTransport({ address: url, token }));
    const started = await worker.startWork({ jobId: a, worker: 'pod-a' });
    assert.equal(started.jobId, a);
    for (const call of [() => worker.startWork({ jobId: b }), () => worker.finishWork({ jobId: b, outputsJson: '{"modelUri":"file:///etc"}' }), () => worker.reportProgress({ jobId: b })]) {
      await assert.rejects(call(), (e: unknown) => ConnectError.from(e).code === Code.PermissionDenied && /another job/.test(ConnectError.from(e).rawMessage));
    }
    // A submit token is no worker credential either.
    const notWorker = createServiceClient(JobWorkerService, createTransport({ address: url, token: SUBMIT }));
    await assert.rejects(notWorker.startWork({ jobId: a }), (e: unknown) => ConnectError.from(e).code === Code.PermissionDenied);
    await submit.cancelJob({ jobId: a });
    await submit.cancelJob({ jobId: b });
  });

  it('refuses a request naming another Host (DNS rebinding), on RPCs and the dashboard', async () => {
    const code = await grpcCall(pkg, url.replace(/^http:\/\//, ''), grpc.credentials.createInsecure(), RPCS[2]!, READ, { 'grpc.default_authority': 'evil.example:80' });
    assert.equal(code, grpc.status.PERMISSION_DENIED);
    // Health still answers (probes name the pod IP).
    assert.equal(await grpcCall(pkg, url.replace(/^http:\/\//, ''), grpc.credentials.createInsecure(), RPCS[0]!, undefined, { 'grpc.default_authority': 'evil.example:80' }), 0);
    // A raw HTTP/1.1 request, so that the Host header is exactly this one.
    const status = await rawHttpStatus(url, '/', { host: 'evil.example', authorization: `Bearer ${READ}` });
    assert.equal(status, 421);
  });

  it('opens the dashboard with a read token (header, or ?token= once, then a cookie), not without', async () => {
    assert.equal((await fetch(`${url}/`)).status, 401);
    assert.equal((await fetch(`${url}/`, { headers: { authorization: `Bearer ${READ}` } })).status, 200);
    assert.equal((await fetch(`${url}/`, { headers: { authorization: `Bearer ${server.auth.workerToken('job-w')}` } })).status, 403);
    const login = await fetch(`${url}/jobs?token=${READ}`, { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/jobs');
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.equal((await fetch(`${url}/jobs`, { headers: { cookie: cookie.split(';')[0]! } })).status, 200);
    assert.equal((await fetch(`${url}/jobs?token=wrong-wrong-wrong-wrong`, { redirect: 'manual' })).status, 401);
  });

  it('the CLI takes --token-file and HARDEN_TOKEN', async () => {
    const cli = new URL('../cli/main.js', import.meta.url).pathname;
    const server_ = url.replace(/^http:\/\//, '');
    const clientTokenFile = join(dir, 'my-token');
    writeFileSync(clientTokenFile, `${READ}\n`);
    // Asynchronously: the server runs in this process.
    const run = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(process.execPath, [cli, ...args], { env: { ...process.env, HARDEN_TOKEN: '', HARDEN_TOKEN_FILE: '', ...env } }, (error, _stdout, stderr) => {
          resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, out: stderr });
        });
      });
    const list = ['report', '--server', server_, '--list', '--json'];
    assert.match((await run(list)).out, /Unauthenticated/);
    assert.equal((await run([...list, '--token-file', clientTokenFile])).code, 0);
    assert.equal((await run(list, { HARDEN_TOKEN: READ })).code, 0);
    const submitted = await run(['submit', '--server', server_, '--arch', 'small-cnn', '--dataset', 'mnist', '--limit', '32', '--epochs', '1'], { HARDEN_TOKEN: READ });
    assert.notEqual(submitted.code, 0);
    assert.match(submitted.out, /PermissionDenied/);
  });
});

/** A raw HTTP/1.1 request (so that the Host header is exactly what the test says); resolves with the status. */
async function rawHttpStatus(url: string, path: string, headers: Record<string, string>): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('mutual TLS', () => {
  let server: HardenServer;
  let dir: string;
  let pkg: any;

  before(async () => {
    dir = tempDir('harden-mtls');
    makeCertificates(dir);
    server = await startHardenServer({
      port: 0,
      storeUri: pathToFileURL(join(dir, 'store')).href,
      backend: 'wasm',
      shutdownGraceMs: 5000,
      services: ['training', 'evaluation'],
      tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), clientCaFile: join(dir, 'ca.crt') },
    });
    pkg = grpcPkg();
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ssl = (client?: string) => grpc.credentials.createSsl(readFileSync(join(dir, 'ca.crt')), client ? readFileSync(join(dir, `${client}.key`)) : null, client ? readFileSync(join(dir, `${client}.crt`)) : null);
  const target = () => `localhost:${server.port}`;
  const listJobs = RPCS.find((r) => r.method === 'ListJobs')!;
  const cancel = RPCS.find((r) => r.method === 'CancelJob')!;

  it('takes a client certificate from the CA as a credential, its OU as the role', async () => {
    assert.equal(await grpcCall(pkg, target(), ssl('client-submit'), listJobs, undefined), 0);
    assert.equal(await grpcCall(pkg, target(), ssl('client-submit'), cancel, undefined), grpc.status.NOT_FOUND);
    assert.equal(await grpcCall(pkg, target(), ssl('client-read'), listJobs, undefined), 0);
    assert.equal(await grpcCall(pkg, target(), ssl('client-read'), cancel, undefined), grpc.status.PERMISSION_DENIED);
    // The Connect client with a certificate too.
    const client = createServiceClient(HardeningService, createTransport({ address: `https://localhost:${server.port}`, tls: { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'client-submit.crt'), keyFile: join(dir, 'client-submit.key') } }));
    await client.listJobs({});
  });

  it('is UNAUTHENTICATED without a certificate, or with one another CA signed; health still answers', async () => {
    assert.equal(await grpcCall(pkg, target(), ssl(), listJobs, undefined), grpc.status.UNAUTHENTICATED);
    assert.equal(await grpcCall(pkg, target(), ssl('client-stranger'), listJobs, undefined), grpc.status.UNAUTHENTICATED);
    assert.equal(await grpcCall(pkg, target(), ssl(), RPCS[0]!, undefined), 0);
    const client = createServiceClient(HardeningService, createTransport({ address: `https://localhost:${server.port}`, tls: { caFile: join(dir, 'ca.crt') } }));
    await assert.rejects(client.listJobs({}), (e: unknown) => ConnectError.from(e).code === Code.Unauthenticated);
  });

  it('raw HTTP/2 without a certificate: the dashboard says 401', async () => {
    const session = http2.connect(`https://localhost:${server.port}`, { ca: readFileSync(join(dir, 'ca.crt')) });
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.end();
    });
    session.close();
    assert.equal(status, 401);
  });
});

describe('binding beyond loopback', () => {
  it('refuses to start without credentials unless insecure', async () => {
    const dir = tempDir('harden-bind');
    try {
      await assert.rejects(startHardenServer({ host: '0.0.0.0', port: 0, storeUri: pathToFileURL(dir).href, dashboard: false }), /without authentication/);
      const cli = new URL('../cli/main.js', import.meta.url).pathname;
      let stderr = '';
      try {
        execFileSync(process.execPath, [cli, 'serve', '--host', '0.0.0.0', '--port', '0', '--store', pathToFileURL(dir).href], { stdio: 'pipe', env: { ...process.env, HARDEN_AUTH_TOKENS: '' } });
      } catch (error) {
        stderr = (error as { stderr: Buffer }).stderr.toString();
      }
      assert.match(stderr, /refusing to serve beyond loopback without authentication/);
      const open = await startHardenServer({ host: '0.0.0.0', port: 0, storeUri: pathToFileURL(dir).href, dashboard: false, insecure: true, services: ['evaluation'] });
      await open.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the deploy overlays’ shape: TLS and tokens from files named in the environment, a plaintext health port', () => {
  it('serves the health check alone in plaintext on --health-port, and everything on the RPC port behind TLS and a token', async () => {
    const dir = tempDir('harden-deploy-shape');
    makeCertificates(dir);
    writeFileSync(join(dir, 'tokens'), `submit ${SUBMIT} ci\n`);
    const cli = new URL('../cli/main.js', import.meta.url).pathname;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cli, 'serve', '--service', 'evaluation', '--host', '0.0.0.0', '--port', '0', '--store', pathToFileURL(join(dir, 'store')).href, '--backend', 'wasm', '--json'], {
      env: {
        ...process.env,
        HARDEN_TLS_CERT: join(dir, 'server.crt'),
        HARDEN_TLS_KEY: join(dir, 'server.key'),
        HARDEN_AUTH_TOKENS: join(dir, 'tokens'),
        HARDEN_HEALTH_PORT: '0',
        HARDEN_ALLOWED_HOSTS: 'localhost',
        HARDEN_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const pkg = grpcPkg();
    try {
      await waitFor(() => stdout.includes('\n') || child.exitCode !== null, 60_000, `harden serve to listen (stderr: ${stderr})`);
      const summary = JSON.parse(stdout.split('\n')[0]!) as { url: string; port: number; health_port: number; auth_required: boolean };
      assert.equal(summary.auth_required, true);
      assert.match(summary.url, /^https:/);
      assert.ok(summary.health_port > 0 && summary.health_port !== summary.port);
      const plain = grpc.credentials.createInsecure();
      const health = `127.0.0.1:${summary.health_port}`;
      // The kubelet's probe: plaintext, no token, naming the service's health entry.
      const check = (service: string) =>
        new Promise<string>((resolve, reject) => {
          const client = new pkg.grpc.health.v1.Health(health, plain);
          client.check({ service }, { deadline: new Date(Date.now() + 5000) }, (e: grpc.ServiceError | null, r: { status: string }) => {
            client.close();
            if (e) reject(e);
            else resolve(r.status);
          });
        });
      await waitFor(async () => (await check('robustness.v1.EvaluationService')) === 'SERVING', 30_000, 'the health port to say SERVING');
      await assert.rejects(check('robustness.v1.NoSuchService'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
      // Nothing but health there, with or without a token.
      const listReports = RPCS.find((r) => r.method === 'ListReports')!;
      assert.equal(await grpcCall(pkg, health, plain, listReports, SUBMIT), grpc.status.UNIMPLEMENTED);
      // The RPC port: no plaintext, no call without a token, the call with one.
      const target = `localhost:${summary.port}`;
      assert.equal(await grpcCall(pkg, `127.0.0.1:${summary.port}`, plain, listReports, SUBMIT), grpc.status.UNAVAILABLE);
      const ssl = grpc.credentials.createSsl(readFileSync(join(dir, 'ca.crt')));
      assert.equal(await grpcCall(pkg, target, ssl, listReports, undefined), grpc.status.UNAUTHENTICATED);
      assert.equal(await grpcCall(pkg, target, ssl, listReports, SUBMIT), 0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names what is wrong with the TLS and health-port settings, exit 2', () => {
    const cli = new URL('../cli/main.js', import.meta.url).pathname;
    const run = (args: string[], env: Record<string, string>) => {
      try {
        execFileSync(process.execPath, [cli, 'serve', '--port', '0', ...args], { stdio: 'pipe', env: { ...process.env, HARDEN_AUTH_TOKENS: '', ...env } });
        return { status: 0, stderr: '' };
      } catch (error) {
        const e = error as { status: number; stderr: Buffer };
        return { status: e.status, stderr: e.stderr.toString() };
      }
    };
    const missing = run([], { HARDEN_TLS_CERT: '/nonexistent/tls.crt', HARDEN_TLS_KEY: '/nonexistent/tls.key' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--tls-cert \/nonexistent\/tls\.crt: ENOENT/);
    const half = run([], { HARDEN_TLS_CERT: '/nonexistent/tls.crt' });
    assert.equal(half.status, 2);
    assert.match(half.stderr, /--tls-cert and --tls-key go together/);
    const badPort = run(['--health-port', '70000'], {});
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /--health-port must be at most 65535/);
  });
});
