/**
 * The slice of the Kubernetes API the Kubernetes runner uses (batch/v1 Jobs and their pods), behind
 * one interface with two implementations:
 *
 * - `createRestKubernetesApi`: HTTPS (or HTTP) with a bearer token and CA, on Node's own `https`;
 *   `inClusterKubernetesApi()` configures it from the pod's service account, the normal case (the
 *   training service creating Jobs from inside the cluster).
 * - `loadClientNodeKubernetesApi`: `@kubernetes/client-node` with a kubeconfig (exec plugins, OIDC,
 *   client certificates), loaded on demand: its 2.x releases need Node ≥ 22.19 (their `undici`
 *   does not load on Node 20), so nothing here imports it at module load.
 *
 * Objects are plain JSON as the API server sends them (timestamps are strings).
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';

/** Where the service account's credentials are mounted in every pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

/** The parts of a container spec the runner writes or copies; other fields pass through untyped. */
export interface ContainerSpec {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, unknown> }>;
  envFrom?: Array<Record<string, unknown>>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  securityContext?: Record<string, unknown>;
  terminationMessagePolicy?: string;
  [field: string]: unknown;
}

export interface PodSpec {
  containers: ContainerSpec[];
  restartPolicy?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  nodeSelector?: Record<string, string>;
  tolerations?: Array<Record<string, unknown>>;
  imagePullSecrets?: Array<{ name: string }>;
  securityContext?: Record<string, unknown>;
  volumes?: Array<Record<string, unknown> & { name: string }>;
  priorityClassName?: string;
  [field: string]: unknown;
}

export interface JobCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface JobObject {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: ObjectMeta;
  spec: {
    backoffLimit?: number;
    activeDeadlineSeconds?: number;
    ttlSecondsAfterFinished?: number;
    completions?: number;
    parallelism?: number;
    completionMode?: 'NonIndexed' | 'Indexed';
    backoffLimitPerIndex?: number;
    maxFailedIndexes?: number;
    podFailurePolicy?: { rules: Array<Record<string, unknown>> };
    template: { metadata?: ObjectMeta; spec: PodSpec };
    [field: string]: unknown;
  };
  status?: {
    active?: number;
    ready?: number;
    succeeded?: number;
    failed?: number;
    terminating?: number;
    startTime?: string;
    completionTime?: string;
    /** Indexed Jobs: e.g. `0,2-3`. */
    completedIndexes?: string;
    failedIndexes?: string;
    conditions?: JobCondition[];
  };
}

export interface ContainerStatus {
  name: string;
  restartCount?: number;
  state?: { terminated?: { exitCode?: number; reason?: string; message?: string }; waiting?: { reason?: string; message?: string }; running?: Record<string, unknown> };
  lastState?: ContainerStatus['state'];
}

export interface PodObject {
  apiVersion?: 'v1';
  kind?: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: { phase?: string; reason?: string; message?: string; containerStatuses?: ContainerStatus[] };
}

/** What the runner needs from the API server. */
export interface KubernetesApi {
  /** Creates a Job; a Job of that name already there is `KubernetesApiError` 409 (`AlreadyExists`). */
  createJob(namespace: string, job: JobObject): Promise<JobObject>;
  /** The Job, or undefined when there is none (404). */
  readJob(namespace: string, name: string): Promise<JobObject | undefined>;
  /** Deletes a Job and (in the background) its pods; a Job already gone is not an error. */
  deleteJob(namespace: string, name: string): Promise<void>;
  /** Pods matching a label selector (e.g. `job-name=harden-job-…`). */
  listPods(namespace: string, labelSelector: string): Promise<PodObject[]>;
  /** The pod, or undefined (404). */
  readPod(namespace: string, name: string): Promise<PodObject | undefined>;
}

/** A refused or failed API call: `status` is the HTTP status (0 when the server was not reached). */
export class KubernetesApiError extends Error {
  readonly status: number;
  /** The API's `Status.reason` (`AlreadyExists`, `Forbidden`, `NotFound`, …) when it sent one. */
  readonly reason: string | undefined;
  constructor(status: number, message: string, options?: { reason?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KubernetesApiError';
    this.status = status;
    this.reason = options?.reason;
  }

  /** Worth retrying: the server was not reached, is overloaded, or failed (0, 429, 5xx). */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface RestKubernetesApiOptions {
  /** API server URL, e.g. `https://10.0.0.1:443` or, in tests, `http://127.0.0.1:PORT`. */
  server: string;
  /** Bearer token, or a function read before each request (projected tokens rotate). */
  token?: string | (() => string | undefined);
  /** PEM CA bundle for https. @default the system's */
  ca?: string | Buffer;
  /** Per-request timeout, ms. @default 30000 */
  timeoutMs?: number;
}

/** The REST implementation over Node's http/https. */
export function createRestKubernetesApi(options: RestKubernetesApiOptions): KubernetesApi {
  const base = new URL(options.server);
  const secure = base.protocol === 'https:';
  const agent = secure ? new https.Agent({ keepAlive: true, ca: options.ca }) : new http.Agent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const token = typeof options.token === 'function' ? options.token : () => options.token as string | undefined;

  function request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T | undefined }> {
    const url = new URL(path, base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    const bearer = token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.byteLength);
    }
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new KubernetesApiError(0, `${method} ${url.pathname}: ${e.message}`, { cause: e })));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T | undefined });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new KubernetesApiError(0, `${method} ${url.pathname}: ${e.message}`, { cause: e })));
      req.end(payload);
    });
  }

  function fail(method: string, path: string, status: number, body: unknown): never {
    const s = body as { message?: string; reason?: string } | undefined;
    throw new KubernetesApiError(status, `${method} ${path}: ${status} ${s?.reason ?? ''} ${s?.message ?? ''}`.trim(), { reason: s?.reason });
  }

  const ns = (namespace: string) => encodeURIComponent(namespace);
  const jobs = (namespace: string) => `/apis/batch/v1/namespaces/${ns(namespace)}/jobs`;
  const pods = (namespace: string) => `/api/v1/namespaces/${ns(namespace)}/pods`;

  return {
    async createJob(namespace, job) {
      const path = jobs(namespace);
      const r = await request<JobObject>('POST', path, job);
      if (r.status !== 201 && r.status !== 200) fail('POST', path, r.status, r.body);
      return r.body!;
    },
    async readJob(namespace, name) {
      const path = `${jobs(namespace)}/${encodeURIComponent(name)}`;
      const r = await request<JobObject>('GET', path);
      if (r.status === 404) return undefined;
      if (r.status !== 200) fail('GET', path, r.status, r.body);
      return r.body;
    },
    async deleteJob(namespace, name) {
      const path = `${jobs(namespace)}/${encodeURIComponent(name)}`;
      // Background: the Job goes now, the garbage collector removes its pods.
      const r = await request('DELETE', path, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
      if (r.status !== 200 && r.status !== 202 && r.status !== 404) fail('DELETE', path, r.status, r.body);
    },
    async listPods(namespace, labelSelector) {
      const path = `${pods(namespace)}?labelSelector=${encodeURIComponent(labelSelector)}`;
      const r = await request<{ items?: PodObject[] }>('GET', path);
      if (r.status !== 200) fail('GET', path, r.status, r.body);
      return r.body?.items ?? [];
    },
    async readPod(namespace, name) {
      const path = `${pods(namespace)}/${encodeURIComponent(name)}`;
      const r = await request<PodObject>('GET', path);
      if (r.status === 404) return undefined;
      if (r.status !== 200) fail('GET', path, r.status, r.body);
      return r.body;
    },
  };
}

/** Whether this process runs in a pod with a service account token mounted. */
export function inCluster(env: Record<string, string | undefined> = process.env, dir = SERVICE_ACCOUNT_DIR): boolean {
  if (!env.KUBERNETES_SERVICE_HOST) return false;
  try {
    readFileSync(`${dir}/token`);
    return true;
  } catch {
    return false;
  }
}

/** The namespace this pod runs in (from the service account mount), if any. */
export function inClusterNamespace(dir = SERVICE_ACCOUNT_DIR): string | undefined {
  try {
    return readFileSync(`${dir}/namespace`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The REST client configured from the pod's service account (token re-read each minute). */
export function inClusterKubernetesApi(env: Record<string, string | undefined> = process.env, dir = SERVICE_ACCOUNT_DIR): KubernetesApi {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new KubernetesApiError(0, 'not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)');
  let cached: { token: string; at: number } | undefined;
  const token = () => {
    if (!cached || Date.now() - cached.at > 60_000) cached = { token: readFileSync(`${dir}/token`, 'utf8').trim(), at: Date.now() };
    return cached.token;
  };
  return createRestKubernetesApi({ server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, token, ca: readFileSync(`${dir}/ca.crt`) });
}

/**
 * `@kubernetes/client-node` behind the same interface, from a kubeconfig (default: `$KUBECONFIG` or
 * `~/.kube/config`). Rejects with a clear message when the package cannot load on this Node.
 */
export async function loadClientNodeKubernetesApi(options: { kubeconfigYaml?: string } = {}): Promise<KubernetesApi> {
  let k8s: typeof import('@kubernetes/client-node');
  try {
    // Importing it on a Node its HTTP client does not support fails late and noisily (unhandled
    // rejections from inside undici): check the engine first.
    const needs = httpClientNodeRequirement();
    if (needs && !nodeAtLeast(needs)) throw new Error(`its HTTP client (undici) needs Node ${needs}`);
    k8s = await import('@kubernetes/client-node');
  } catch (error) {
    throw new KubernetesApiError(0, `@kubernetes/client-node does not load on Node ${process.versions.node} (${(error as Error).message}); run in a pod (service account) or on a Node the package supports`, { cause: error });
  }
  const kc = new k8s.KubeConfig();
  if (options.kubeconfigYaml !== undefined) kc.loadFromString(options.kubeconfigYaml);
  else kc.loadFromDefault();
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  // client-node returns class instances with Date fields; the runner wants the wire JSON (the
  // classes' property names are the wire names, dates stringify to RFC 3339).
  const plain = <T>(value: unknown): T => JSON.parse(JSON.stringify(value)) as T;
  const wrap = async <T>(what: string, call: () => Promise<T>, notFound?: T): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      const e = error as { code?: number; body?: unknown; message?: string };
      if (typeof e.code === 'number') {
        if (e.code === 404 && notFound !== undefined) return notFound;
        let reason: string | undefined;
        try {
          reason = (typeof e.body === 'string' ? (JSON.parse(e.body) as { reason?: string }) : (e.body as { reason?: string }))?.reason;
        } catch {
          reason = undefined;
        }
        throw new KubernetesApiError(e.code, `${what}: ${e.code} ${reason ?? ''}`.trim(), { reason, cause: error });
      }
      throw new KubernetesApiError(0, `${what}: ${e.message ?? String(error)}`, { cause: error });
    }
  };
  const GONE = Symbol('gone');
  return {
    createJob: (namespace, job) => wrap('create Job', async () => plain<JobObject>(await batch.createNamespacedJob({ namespace, body: job as never }))),
    readJob: async (namespace, name) => {
      const r = await wrap<JobObject | typeof GONE>('read Job', async () => plain<JobObject>(await batch.readNamespacedJob({ namespace, name })), GONE);
      return r === GONE ? undefined : r;
    },
    deleteJob: async (namespace, name) => {
      await wrap<unknown>('delete Job', () => batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' }), GONE);
    },
    listPods: (namespace, labelSelector) => wrap('list pods', async () => (await core.listNamespacedPod({ namespace, labelSelector })).items.map((p) => plain<PodObject>(p))),
    readPod: async (namespace, name) => {
      const r = await wrap<PodObject | typeof GONE>('read pod', async () => plain<PodObject>(await core.readNamespacedPod({ namespace, name })), GONE);
      return r === GONE ? undefined : r;
    },
  };
}

/** The minimum Node version (`22.19.0`) of the `undici` that `@kubernetes/client-node` uses, if any. */
function httpClientNodeRequirement(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const undici = createRequire(require.resolve('@kubernetes/client-node')).resolve('undici/package.json');
    const engines = (JSON.parse(readFileSync(undici, 'utf8')) as { engines?: { node?: string } }).engines?.node ?? '';
    return /^>=\s*(\d+(?:\.\d+){0,2})/.exec(engines.trim())?.[1];
  } catch {
    return undefined;
  }
}

function nodeAtLeast(version: string): boolean {
  const want = version.split('.').map(Number);
  const have = process.versions.node.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) !== (want[i] ?? 0)) return (have[i] ?? 0) > (want[i] ?? 0);
  }
  return true;
}
