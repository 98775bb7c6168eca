/**
 * The batch/v1 Job that runs one harden job in its own pod: `harden worker --job <id>`; or, for a
 * sharded job (an evaluation over slices of its test set), an Indexed Job of `shards` pods, each
 * told its slice by Kubernetes (`JOB_COMPLETION_INDEX`).
 *
 * - Retries: a failed pod is replaced up to `backoffLimit` times (the worker resumes from the job's
 *   latest checkpoint). Exit code 2 (bad input: retrying cannot help) fails the Job at once, and pods
 *   evicted or preempted (`DisruptionTarget`) do not count against the limit (`podFailurePolicy`,
 *   which needs `restartPolicy: Never`).
 * - Indexed Jobs: each index (shard) is retried up to `backoffLimit` times on its own
 *   (`backoffLimitPerIndex`, Kubernetes ≥ 1.29), and the Job fails as soon as one index has
 *   failed for good (`maxFailedIndexes: 0`): a report needs every shard.
 * - Names: `harden-job-<id>` (another prefix per kind, e.g. `harden-eval-`) when the id is DNS-safe,
 *   else a slug plus a hash, ≤ 63 characters; the exact id is in the `harden.io/job-id` annotation
 *   (ids may hold `:` and `.`, labels may not).
 * - The pod runs non-root with no privilege escalation, no service account token, and the image's
 *   entrypoint (which starts telemetry first).
 */
import { createHash } from 'node:crypto';
import type { ContainerSpec, JobObject, PodSpec } from './api.js';

/** Labels and annotations the runner puts on its Jobs and pods. */
export const K8S_LABELS = {
  NAME: 'app.kubernetes.io/name',
  COMPONENT: 'app.kubernetes.io/component',
  PART_OF: 'app.kubernetes.io/part-of',
  MANAGED_BY: 'app.kubernetes.io/managed-by',
  JOB_KIND: 'harden.io/job-kind',
  /** Annotation holding the exact harden job id. */
  JOB_ID: 'harden.io/job-id',
} as const;

/** Container name of the worker in the Job's pod. */
export const WORKER_CONTAINER = 'worker';

/** Exit code of `harden` for bad usage or input: the Job fails without retrying. */
export const EXIT_BAD_INPUT = 2;

/** What every worker pod of a runner looks like. */
export interface WorkerTemplate {
  /** Container image holding harden (its entrypoint is `harden`). */
  image: string;
  /** @default 'IfNotPresent' */
  imagePullPolicy?: string;
  /** Arguments after the entrypoint. @default ['worker', '--job', id] (plus `extraArgs`) */
  args?: (jobId: string) => string[];
  /** Appended to the default args, e.g. `['--server', 'http://harden-training:50051']`. */
  extraArgs?: string[];
  /** Environment (set after the runner's own: `TRACEPARENT`, `OTEL_SERVICE_NAME`, `POD_NAME`…). */
  env?: ContainerSpec['env'];
  /** E.g. `[{ configMapRef: { name: 'harden-config' } }]`. */
  envFrom?: ContainerSpec['envFrom'];
  /** CPU and memory requests/limits. @default requests cpu 1, memory 2Gi */
  resources?: ContainerSpec['resources'];
  /** `nvidia.com/gpu` limit; 0 for CPU workers. @default 0 */
  gpus?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: PodSpec['tolerations'];
  imagePullSecrets?: PodSpec['imagePullSecrets'];
  /** Service account of the worker pods (they need no API access). @default the namespace's default, token not mounted */
  serviceAccountName?: string;
  priorityClassName?: string;
  /** Extra labels on the Job and its pods. */
  labels?: Record<string, string>;
  /**
   * The CA the worker trusts when it reports over TLS (`HARDEN_CA_FILE`): one key of a Secret,
   * mounted alone at `mountPath` (the server's own key, in the same Secret, stays out of the pod).
   */
  caSecret?: { secretName: string; key: string; mountPath: string };
}

/** Job-level settings. */
export interface WorkerJobSettings {
  /** Pod failures retried before the Job fails. @default 3 */
  backoffLimit?: number;
  /** Wall-clock limit of the whole Job, seconds. @default none */
  activeDeadlineSeconds?: number;
  /** Finished Jobs are deleted after this many seconds. @default 86400 */
  ttlSecondsAfterFinished?: number;
  /** Name prefix of the Jobs. @default 'harden-job-' */
  namePrefix?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The Kubernetes Job name for a harden job id: DNS-1123, ≤ 63 characters, stable per id. */
export function workerJobName(jobId: string, prefix = 'harden-job-'): string {
  if (DNS_LABEL.test(jobId) && prefix.length + jobId.length <= 63) return `${prefix}${jobId}`;
  const hash = createHash('sha256').update(jobId).digest('hex').slice(0, 10);
  const slug = jobId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 63 - prefix.length - hash.length - 1).replace(/-$/, '');
  return slug ? `${prefix}${slug}-${hash}` : `${prefix}${hash}`;
}

/**
 * Builds the Job for `jobId`; `env` (e.g. the trace context) is added to the worker's environment.
 * `shards` > 0 makes it an Indexed Job of that many pods, all at once.
 */
export function buildWorkerJob(input: {
  jobId: string;
  kind: string;
  namespace: string;
  template: WorkerTemplate;
  settings?: WorkerJobSettings;
  env?: Record<string, string>;
  shards?: number;
}): JobObject {
  const { jobId, kind, namespace, template } = input;
  const settings = input.settings ?? {};
  const name = workerJobName(jobId, settings.namePrefix);
  const backoffLimit = settings.backoffLimit ?? 3;
  const shards = input.shards ?? 0;
  if (!Number.isSafeInteger(shards) || shards < 0) throw new RangeError(`shards must be an integer ≥ 0; got ${shards}`);
  const labels = {
    [K8S_LABELS.NAME]: 'harden',
    [K8S_LABELS.COMPONENT]: 'worker',
    [K8S_LABELS.PART_OF]: 'harden',
    [K8S_LABELS.MANAGED_BY]: 'harden-training',
    [K8S_LABELS.JOB_KIND]: kind,
    ...template.labels,
  };
  const annotations = { [K8S_LABELS.JOB_ID]: jobId };
  const args = template.args ? template.args(jobId) : ['worker', '--job', jobId, ...(template.extraArgs ?? [])];
  const resources = structuredClone(template.resources ?? { requests: { cpu: '1', memory: '2Gi' } });
  const gpus = template.gpus ?? 0;
  if (gpus > 0) resources.limits = { ...resources.limits, 'nvidia.com/gpu': String(gpus) };
  const env: NonNullable<ContainerSpec['env']> = [
    { name: 'HARDEN_JOB_ID', value: jobId },
    { name: 'OTEL_SERVICE_NAME', value: 'harden-worker' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ...Object.entries(input.env ?? {}).map(([k, value]) => ({ name: k, value })),
  ];
  for (const e of template.env ?? []) {
    // The per-job worker token is this job's own; a copied server environment never replaces it.
    if (e.name === 'HARDEN_WORKER_TOKEN' && input.env?.HARDEN_WORKER_TOKEN !== undefined) continue;
    const i = env.findIndex((x) => x.name === e.name);
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  const container: ContainerSpec = {
    name: WORKER_CONTAINER,
    image: template.image,
    imagePullPolicy: template.imagePullPolicy ?? 'IfNotPresent',
    args,
    env,
    ...(template.envFrom?.length ? { envFrom: template.envFrom } : {}),
    resources,
    // The last lines of a failed worker's log become the pod's termination message: the runner reports it.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(template.caSecret ? [{ name: 'ca', mountPath: template.caSecret.mountPath, readOnly: true }] : [])],
  };
  const pod: PodSpec = {
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    ...(template.serviceAccountName ? { serviceAccountName: template.serviceAccountName } : {}),
    ...(template.priorityClassName ? { priorityClassName: template.priorityClassName } : {}),
    securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [container],
    volumes: [
      { name: 'tmp', emptyDir: {} },
      ...(template.caSecret ? [{ name: 'ca', secret: { secretName: template.caSecret.secretName, items: [{ key: template.caSecret.key, path: template.caSecret.key }], defaultMode: 0o444 } }] : []),
    ],
    ...(template.nodeSelector && Object.keys(template.nodeSelector).length ? { nodeSelector: template.nodeSelector } : {}),
    ...(template.tolerations?.length ? { tolerations: template.tolerations } : {}),
    ...(template.imagePullSecrets?.length ? { imagePullSecrets: template.imagePullSecrets } : {}),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels, annotations },
    spec: {
      ...(shards > 0 ? { completionMode: 'Indexed' as const, completions: shards, parallelism: shards, backoffLimitPerIndex: backoffLimit, maxFailedIndexes: 0 } : { backoffLimit }),
      ...(settings.activeDeadlineSeconds ? { activeDeadlineSeconds: settings.activeDeadlineSeconds } : {}),
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished ?? 86_400,
      podFailurePolicy: {
        rules: [
          { action: 'FailJob', onExitCodes: { containerName: WORKER_CONTAINER, operator: 'In', values: [EXIT_BAD_INPUT] } },
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
        ],
      },
      template: { metadata: { labels, annotations }, spec: pod },
    },
  };
}
