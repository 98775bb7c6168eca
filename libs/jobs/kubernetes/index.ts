/**
 * libs/jobs/kubernetes — the Kubernetes runner: each job's compute runs in a Kubernetes Job's pod
 * (`harden worker`), which reports back through JobWorkerService; the services keep the job
 * records. `createKubernetesRunner` (runner.ts) creates, watches and deletes the Jobs;
 * `runOnKubernetes` is a job executor's step that waits for its Job; config.ts reads the
 * HARDEN_RUNNER / HARDEN_K8S_* settings; job-spec.ts builds the Job manifest; api.ts talks to the
 * API server (in-cluster REST, or @kubernetes/client-node where installed). See ../README.md.
 */
export { createRestKubernetesApi, inCluster, KubernetesApiError, loadClientNodeKubernetesApi, type JobObject, type KubernetesApi, type PodObject } from './api.js';
export { evalShardsFromEnv, K8S_ENV, kubernetesRunnerOptionsFromEnv, runnerKindFromEnv, type RunnerKind } from './config.js';
export { buildWorkerJob, K8S_LABELS, workerJobName, type WorkerJobSettings, type WorkerTemplate } from './job-spec.js';
export { createKubernetesExecutor, createKubernetesRunner, runOnKubernetes, type KubernetesJobStatus, type KubernetesRunner, type KubernetesRunnerOptions, WORKER_TOKEN_ENV } from './runner.js';
