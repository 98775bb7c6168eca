/**
 * A fake Kubernetes API server for tests: speaks the JSON of batch/v1 Jobs and v1 Pods (create,
 * get, delete, list by label selector) over HTTP, with `Status` objects for errors, and lets the test
 * play the Job controller (set a Job's status, add pods, delete a Job behind the client's back).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRestKubernetesApi, type JobObject, type PodObject } from '../../libs/jobs/kubernetes/index.js';
import type { WorkerJobSettings } from '../../libs/jobs/kubernetes/index.js';
import type { KubernetesRunnerOptions } from '../../libs/jobs/kubernetes/index.js';

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export interface FakeKubeApi {
  url: string;
  requests: RecordedRequest[];
  jobs: Map<string, JobObject>;
  pods: Map<string, PodObject>;
  /** Makes the next `n` requests fail with 500 (to exercise retries). */
  failNext(n: number): void;
  /** Resolves when a Job `ns/name` exists. */
  waitForJob(namespace: string, name: string, timeoutMs?: number): Promise<JobObject>;
  setStatus(namespace: string, name: string, status: JobObject['status']): void;
  addPod(namespace: string, pod: PodObject): void;
  /** Deletes a Job as `kubectl delete job` would. */
  deleteJob(namespace: string, name: string): void;
  close(): Promise<void>;
}

const key = (ns: string, name: string) => `${ns}/${name}`;

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }));
}

function matches(labels: Record<string, string> | undefined, selector: string): boolean {
  return selector.split(',').filter(Boolean).every((term) => {
    const [k, v] = term.split('=');
    return labels?.[k] === v;
  });
}

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const jobs = new Map<string, JobObject>();
  const pods = new Map<string, PodObject>();
  const requests: RecordedRequest[] = [];
  let failures = 0;
  const waiters = new Set<() => void>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, authorization: req.headers.authorization, body });
    if (failures > 0) {
      failures--;
      return status(res, 500, 'InternalError', 'injected failure');
    }
    const send = (code: number, obj: unknown) => void res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(obj));
    let m = url.pathname.match(/^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/);
    if (m) {
      const [, ns, name] = m;
      if (!name && req.method === 'POST') {
        const job = structuredClone(body) as JobObject;
        const jobName = job.metadata?.name;
        if (!jobName) return status(res, 422, 'Invalid', 'metadata.name: Required value');
        if (jobs.has(key(ns, jobName))) return status(res, 409, 'AlreadyExists', `jobs.batch "${jobName}" already exists`);
        job.metadata = { ...job.metadata, namespace: ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: new Date().toISOString() };
        job.status = {};
        jobs.set(key(ns, jobName), job);
        for (const w of waiters) w();
        return send(201, job);
      }
      const job = name ? jobs.get(key(ns, decodeURIComponent(name))) : undefined;
      if (name && req.method === 'GET') return job ? send(200, job) : status(res, 404, 'NotFound', `jobs.batch "${name}" not found`);
      if (name && req.method === 'DELETE') {
        if (!job) return status(res, 404, 'NotFound', `jobs.batch "${name}" not found`);
        jobs.delete(key(ns, decodeURIComponent(name)));
        return send(200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
    }
    m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/);
    if (m && req.method === 'GET') {
      const [, ns, name] = m;
      if (name) {
        const pod = pods.get(key(ns, decodeURIComponent(name)));
        return pod ? send(200, pod) : status(res, 404, 'NotFound', `pods "${name}" not found`);
      }
      const selector = url.searchParams.get('labelSelector') ?? '';
      const items = [...pods.entries()].filter(([k, p]) => k.startsWith(`${ns}/`) && matches(p.metadata.labels, selector)).map(([, p]) => p);
      return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items });
    }
    status(res, 404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => status(res, 500, 'InternalError', e.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    jobs,
    pods,
    failNext: (n) => void (failures = n),
    waitForJob(ns, name, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const job = jobs.get(key(ns, name));
          if (!job) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(job);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no Job ${ns}/${name} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    setStatus(ns, name, s) {
      const job = jobs.get(key(ns, name));
      if (!job) throw new Error(`no Job ${ns}/${name}`);
      job.status = { ...job.status, ...s };
    },
    addPod(ns, pod) {
      pods.set(key(ns, pod.metadata.name!), { ...pod, metadata: { ...pod.metadata, namespace: ns } });
    },
    deleteJob(ns, name) {
      jobs.delete(key(ns, name));
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const CLI = new URL('../../cli/main.js', import.meta.url).pathname;

/**
 * Plays the kubelet for Job `namespace/name`: runs its pod's container (the harden CLI with the
 * pod's arguments and plain environment values) as a process on the wasm engine, with `extraEnv`
 * (e.g. JOB_COMPLETION_INDEX for an Indexed Job). Resolves with the exit code (137 when killed).
 */
export function runJobPod(fake: FakeKubeApi, namespace: string, name: string, options: { extraEnv?: Record<string, string>; onStart?: (child: ChildProcess) => void } = {}): Promise<number> {
  const job = fake.jobs.get(key(namespace, name));
  if (!job) throw new Error(`no Job ${namespace}/${name}`);
  const container = job.spec.template.spec.containers[0];
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HARDEN_BACKEND: 'wasm', POD_NAME: `${name}-${Math.random().toString(36).slice(2, 7)}` };
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  Object.assign(env, options.extraEnv);
  const child = spawn(process.execPath, [CLI, ...(container.args ?? [])], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  options.onStart?.(child);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      if (code !== 0 && !signal) process.stderr.write(`pod of ${name} exited ${code}: ${stderr.slice(-2000)}\n`);
      resolve(code ?? 137);
    }),
  );
}

/**
 * Options of a Kubernetes runner against `fake`: worker pods run `harden worker` reporting to
 * `serverUrl()` (read when a Job is made: a server's address is known only once it listens) every
 * 0.2 s, 2 retries, 50 ms status polls.
 */
export function fakeRunnerOptions(fake: FakeKubeApi, namespace: string, serverUrl: () => string, extra: { kind?: string; settings?: WorkerJobSettings } = {}): KubernetesRunnerOptions {
  return {
    api: createRestKubernetesApi({ server: fake.url, token: 't' }),
    namespace,
    ...(extra.kind ? { kind: extra.kind } : {}),
    template: { image: 'harden:test', args: (id) => ['worker', '--job', id, '--server', serverUrl(), '--report-every', '0.2'] },
    settings: { backoffLimit: 2, ...extra.settings },
    pollIntervalMs: 50,
  };
}
