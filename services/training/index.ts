/**
 * services/training — HardeningService over libs/training, libs/jobs and the artifact store. Thin
 * wiring: request validation (harden-spec.ts), the job's steps (harden-job.ts: training in a
 * worker thread, libs/training harden-task.ts; then EvaluationService over gRPC), job messages.
 */
export { createHardeningService, HARDEN_KIND, jobToProto, type HardeningServiceHandle, type HardeningServiceOptions } from './hardening-service.js';
export { DEFAULT_HARDEN_LIMITS, hardenSpec, type HardenLimits, type HardenSpec } from './harden-spec.js';
export { createHardenExecutor, type HardenJobDeps, type HardenOutputs } from './harden-job.js';
export { jobFolder } from '../../libs/training/index.js';
