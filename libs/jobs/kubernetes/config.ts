/**
 * Configuration of the Kubernetes runner from the environment of the training service's pod, as the
 * manifests in deploy/k8s set it (the deploy test checks both sides use these names):
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `HARDEN_RUNNER` | `in-process` (worker threads) or `kubernetes` | `in-process` |
 * | `HARDEN_K8S_NAMESPACE` | namespace of the worker Jobs | this pod's (`POD_NAMESPACE`, else the service account's) |
 * | `HARDEN_K8S_WORKER_IMAGE` | worker image | this pod's own image (read from the API: `POD_NAME`) |
 * | `HARDEN_K8S_WORKER_GPUS` | `nvidia.com/gpu` per worker | `0` |
 * | `HARDEN_K8S_WORKER_CPU`, `HARDEN_K8S_WORKER_MEMORY` | requests per worker | `1`, `2Gi` |
 * | `HARDEN_K8S_WORKER_SERVICE_ACCOUNT` | service account of workers | the namespace default (no token mounted) |
 * | `HARDEN_K8S_BACKOFF_LIMIT` | pod failures retried | `3` |
 * | `HARDEN_K8S_ACTIVE_DEADLINE_SECONDS` | limit per Job | none |
 * | `HARDEN_K8S_TTL_SECONDS` | finished Jobs kept for | `86400` |
 * | `HARDEN_K8S_POLL_MS` | status poll interval | `2000` |
 * | `HARDEN_TRAINING_URL` | where training workers report (`--server`) | `http://harden-training:50051` |
 * | `HARDEN_EVAL_SHARDS` | evaluation service: run each evaluation as an Indexed Job of this many pods (each one slice of the test set); `0` evaluates in the service's own threads | `0` |
 * | `HARDEN_EVALUATION_URL` | where evaluation shard workers report | `http://harden-evaluation:50051` |
 * | `HARDEN_K8S_EVAL_WORKER_GPUS` | `nvidia.com/gpu` per evaluation shard worker | `0` |
 * | `HARDEN_CA_FILE` | the CA workers trust when they report over https | none |
 *
 * From its own pod the runner also copies to the workers: `envFrom` (the ConfigMap and Secret), the
 * plain `env` values, `nodeSelector`, `tolerations` and `imagePullSecrets`, so a GPU overlay that
 * places the training pod on GPU nodes places its workers there too. When `HARDEN_CA_FILE` lies in a
 * Secret this pod mounts, the workers mount that one key of the Secret at the same place.
 */
import { inCluster, inClusterKubernetesApi, inClusterNamespace, KubernetesApiError, loadClientNodeKubernetesApi, type KubernetesApi, type PodObject } from './api.js';
import type { WorkerTemplate } from './job-spec.js';
import type { KubernetesRunnerOptions } from './runner.js';

export const K8S_ENV = {
  RUNNER: 'HARDEN_RUNNER',
  NAMESPACE: 'HARDEN_K8S_NAMESPACE',
  WORKER_IMAGE: 'HARDEN_K8S_WORKER_IMAGE',
  WORKER_GPUS: 'HARDEN_K8S_WORKER_GPUS',
  WORKER_CPU: 'HARDEN_K8S_WORKER_CPU',
  WORKER_MEMORY: 'HARDEN_K8S_WORKER_MEMORY',
  WORKER_SERVICE_ACCOUNT: 'HARDEN_K8S_WORKER_SERVICE_ACCOUNT',
  BACKOFF_LIMIT: 'HARDEN_K8S_BACKOFF_LIMIT',
  ACTIVE_DEADLINE_SECONDS: 'HARDEN_K8S_ACTIVE_DEADLINE_SECONDS',
  TTL_SECONDS: 'HARDEN_K8S_TTL_SECONDS',
  POLL_MS: 'HARDEN_K8S_POLL_MS',
  TRAINING_URL: 'HARDEN_TRAINING_URL',
  EVAL_SHARDS: 'HARDEN_EVAL_SHARDS',
  EVALUATION_URL: 'HARDEN_EVALUATION_URL',
  EVAL_WORKER_GPUS: 'HARDEN_K8S_EVAL_WORKER_GPUS',
  CA_FILE: 'HARDEN_CA_FILE',
  /** Downward API: this pod's name and namespace. */
  POD_NAME: 'POD_NAME',
  POD_NAMESPACE: 'POD_NAMESPACE',
} as const;

export type RunnerKind = 'in-process' | 'kubernetes';

type Env = Record<string, string | undefined>;

/** Which runner `HARDEN_RUNNER` asks for; anything else is a configuration error. */
export function runnerKindFromEnv(env: Env = process.env): RunnerKind {
  const v = (env[K8S_ENV.RUNNER] ?? '').trim() || 'in-process';
  if (v !== 'in-process' && v !== 'kubernetes') throw new KubernetesApiError(0, `${K8S_ENV.RUNNER} must be in-process or kubernetes; got "${v}"`, { reason: 'Invalid' });
  return v;
}

function int(env: Env, key: string, fallback: number | undefined, min: number): number | undefined {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min) throw new KubernetesApiError(0, `${key} must be an integer ≥ ${min}; got "${raw}"`, { reason: 'Invalid' });
  return v;
}

/** The parts of this pod's spec the workers inherit. */
export function templateFromPod(pod: PodObject): Partial<WorkerTemplate> {
  const container = pod.spec.containers.find((c) => c.name === 'harden') ?? pod.spec.containers[0];
  // Plain values only: fieldRef entries (POD_NAME…) are set by the Job itself; secretKeyRef ones are kept.
  const env = (container?.env ?? []).filter((e) => !(e.valueFrom && 'fieldRef' in e.valueFrom) && !['OTEL_SERVICE_NAME', K8S_ENV.RUNNER].includes(e.name));
  return {
    ...(container?.image ? { image: container.image } : {}),
    ...(container?.imagePullPolicy ? { imagePullPolicy: container.imagePullPolicy } : {}),
    env,
    ...(container?.envFrom ? { envFrom: container.envFrom } : {}),
    ...(pod.spec.nodeSelector ? { nodeSelector: pod.spec.nodeSelector } : {}),
    ...(pod.spec.tolerations ? { tolerations: pod.spec.tolerations } : {}),
    ...(pod.spec.imagePullSecrets ? { imagePullSecrets: pod.spec.imagePullSecrets } : {}),
  };
}

/**
 * Where `caFile` comes from, when it lies in a Secret volume of this pod: that Secret, the key and
 * the mount folder. A CA outside a Secret (baked into the image) needs nothing mounted.
 */
export function caSecretFromPod(pod: PodObject, caFile: string): WorkerTemplate['caSecret'] {
  const container = pod.spec.containers.find((c) => c.name === 'harden') ?? pod.spec.containers[0];
  for (const mount of container?.volumeMounts ?? []) {
    const dir = mount.mountPath.replace(/\/+$/, '');
    if (!caFile.startsWith(`${dir}/`)) continue;
    const key = caFile.slice(dir.length + 1);
    const volume = pod.spec.volumes?.find((v) => v.name === mount.name) as { secret?: { secretName?: string } } | undefined;
    if (volume?.secret?.secretName && key && !key.includes('/')) return { secretName: volume.secret.secretName, key, mountPath: dir };
  }
  return undefined;
}

/**
 * How many shards `HARDEN_EVAL_SHARDS` asks for (0: evaluate in-process). Sharding needs the
 * Kubernetes runner: a count without `HARDEN_RUNNER=kubernetes` is a configuration error.
 */
export function evalShardsFromEnv(env: Env = process.env): number {
  const shards = int(env, K8S_ENV.EVAL_SHARDS, 0, 0)!;
  if (shards > 0 && runnerKindFromEnv(env) !== 'kubernetes') {
    throw new KubernetesApiError(0, `${K8S_ENV.EVAL_SHARDS}=${shards} runs evaluations as Kubernetes Jobs: it needs ${K8S_ENV.RUNNER}=kubernetes`, { reason: 'Invalid' });
  }
  return shards;
}

/** Whose workers a runner starts: the training service's (one pod per job) or the evaluation service's (shards). */
export type RunnerRole = 'training' | 'evaluation';

/**
 * Runner options from the environment; `api` defaults to the in-cluster client (else a kubeconfig
 * through `@kubernetes/client-node`). Reads this pod (`POD_NAME`) to inherit image and placement.
 * `role` picks where workers report, their GPUs, job kind and Job name prefix.
 */
export async function kubernetesRunnerOptionsFromEnv(env: Env = process.env, api?: KubernetesApi, role: RunnerRole = 'training'): Promise<KubernetesRunnerOptions> {
  const client = api ?? (inCluster(env) ? inClusterKubernetesApi(env) : await loadClientNodeKubernetesApi());
  const ownNamespace = env[K8S_ENV.POD_NAMESPACE]?.trim() || inClusterNamespace();
  const namespace = env[K8S_ENV.NAMESPACE]?.trim() || ownNamespace || 'default';
  const podName = env[K8S_ENV.POD_NAME]?.trim();
  const own = podName && ownNamespace ? await client.readPod(ownNamespace, podName).catch(() => undefined) : undefined;
  const inherited = own ? templateFromPod(own) : {};
  const image = env[K8S_ENV.WORKER_IMAGE]?.trim() || inherited.image;
  if (!image) throw new KubernetesApiError(0, `set ${K8S_ENV.WORKER_IMAGE} (or ${K8S_ENV.POD_NAME} and ${K8S_ENV.POD_NAMESPACE}, so the worker image is read from this pod)`, { reason: 'Invalid' });
  const evaluation = role === 'evaluation';
  const serverUrl = evaluation ? env[K8S_ENV.EVALUATION_URL]?.trim() || 'http://harden-evaluation:50051' : env[K8S_ENV.TRAINING_URL]?.trim() || 'http://harden-training:50051';
  const caFile = env[K8S_ENV.CA_FILE]?.trim();
  const caSecret = own && caFile ? caSecretFromPod(own, caFile) : undefined;
  const template: WorkerTemplate = {
    ...inherited,
    ...(caSecret ? { caSecret } : {}),
    image,
    extraArgs: ['--server', serverUrl],
    gpus: int(env, evaluation ? K8S_ENV.EVAL_WORKER_GPUS : K8S_ENV.WORKER_GPUS, 0, 0),
    resources: { requests: { cpu: env[K8S_ENV.WORKER_CPU]?.trim() || '1', memory: env[K8S_ENV.WORKER_MEMORY]?.trim() || '2Gi' } },
    ...(env[K8S_ENV.WORKER_SERVICE_ACCOUNT]?.trim() ? { serviceAccountName: env[K8S_ENV.WORKER_SERVICE_ACCOUNT]!.trim() } : {}),
  };
  return {
    api: client,
    namespace,
    template,
    kind: evaluation ? 'evaluate' : 'harden',
    settings: {
      namePrefix: evaluation ? 'harden-eval-' : 'harden-job-',
      backoffLimit: int(env, K8S_ENV.BACKOFF_LIMIT, 3, 0),
      activeDeadlineSeconds: int(env, K8S_ENV.ACTIVE_DEADLINE_SECONDS, undefined, 1),
      ttlSecondsAfterFinished: int(env, K8S_ENV.TTL_SECONDS, 86_400, 0),
    },
    pollIntervalMs: int(env, K8S_ENV.POLL_MS, 2000, 10),
  };
}
