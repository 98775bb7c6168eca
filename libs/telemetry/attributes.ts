/**
 * The span and attribute names harden records, in one place so that dashboards and queries can rely
 * on them. Attribute keys are what a user filters on in a trace backend (e.g. `harden.method = d2r`).
 */

/** Attribute keys on harden's spans and metrics. */
export const ATTR = {
  /** Training method: `standard`, `pgd-at`, `trades`, `mart`, `lbgat` or `d2r`. */
  METHOD: 'harden.method',
  /** Perturbation budget ε (L∞ unless `harden.norm` says otherwise), inputs in [0, 1]. */
  EPS: 'harden.eps',
  /** Threat model norm: `linf` or `l2`. */
  NORM: 'harden.norm',
  /** Model folder URI (`file://…` or `s3://…`). */
  MODEL_URI: 'harden.model_uri',
  /** Compute backend: `wasm`, `webgpu`, `tensorflow` or `cpu`. */
  BACKEND: 'harden.backend',
  /** Throughput, images per second. */
  IMG_PER_S: 'harden.img_per_s',
  /** Architecture name, e.g. `preact-resnet18`. */
  ARCH: 'harden.arch',
  /** Data set spec, e.g. `mnist` or `cifar10:/data`. */
  DATASET: 'harden.dataset',
  /** Job id (the training service's). */
  JOB_ID: 'harden.job_id',
  /** Job state: `QUEUED`, `RUNNING`, `SUCCEEDED`, `FAILED` or `CANCELLED`. */
  JOB_STATE: 'harden.job_state',
  /** Job kind: `harden` (training) or `evaluate`. */
  JOB_KIND: 'harden.job_kind',
  /** Which runner executes a job: `in-process` or `kubernetes`. */
  RUNNER: 'harden.runner',
  /** 1-based epoch number and the run's epoch count. */
  EPOCH: 'harden.epoch',
  EPOCHS: 'harden.epochs',
  /** Mean training loss over an epoch. */
  LOSS: 'harden.loss',
  /** Learning rate of an epoch's last step. */
  LR: 'harden.lr',
  /** Attack name as reported, e.g. `pgd-20`, `apgd-ce`. */
  ATTACK: 'harden.attack',
  /** Attack steps. */
  STEPS: 'harden.steps',
  /** Samples evaluated or attacked. */
  N: 'harden.n',
  /** Accuracies in [0, 1]. */
  CLEAN_ACCURACY: 'harden.clean_accuracy',
  ROBUST_ACCURACY: 'harden.robust_accuracy',
  /** Evaluation suite: `quick` or `standard`. */
  SUITE: 'harden.suite',
  /** Report id of an evaluation. */
  REPORT_ID: 'harden.report_id',
  /** Store root URI, object key and size of a storage operation. */
  STORE_URI: 'harden.store_uri',
  STORAGE_KEY: 'harden.storage.key',
  STORAGE_BYTES: 'harden.storage.bytes',
  /** Kubernetes Job name and namespace of a job run by the Kubernetes runner. */
  K8S_JOB: 'k8s.job.name',
  K8S_NAMESPACE: 'k8s.namespace.name',
} as const;

/** Span names (RPC spans are named `package.Service/Method`, as the RPC conventions say). */
export const SPAN = {
  /** One Harden job, from RUNNING to its end state. */
  JOB: 'harden.job',
  /** One training epoch (training steps + held-out evaluation). */
  EPOCH: 'harden.epoch',
  /** One evaluation: clean accuracy plus each attack of the suite. */
  EVALUATION: 'harden.evaluation',
  /** One attack phase of an evaluation, or one generation request. */
  ATTACK: 'harden.attack',
  /** A checkpoint being written (its storage spans nest under it). */
  CHECKPOINT: 'harden.checkpoint',
  /** Storage operations: `storage.put`, `storage.get`, … */
  STORAGE_PREFIX: 'storage.',
  /** The Kubernetes runner's follow of one batch/v1 Job. */
  K8S_JOB: 'harden.k8s_job',
} as const;

/** The instrumentation scope every harden tracer and meter is created under. */
export const INSTRUMENTATION_SCOPE = 'harden';
