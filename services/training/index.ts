/**
 * services/training — the training service (`harden serve --service training`): HardeningService,
 * whose Harden jobs harden a model (libs/training `hardenModel`) and then evaluate it. The folder
 * keeps the service's name in ARCHITECTURE.md and on the command line. Thin wiring over
 * libs/training, libs/jobs and the artifact store: request validation (harden-spec.ts), the job's steps (harden-job.ts: training in a
 * worker thread, libs/training harden-task.ts; then EvaluationService over gRPC), job messages.
 */
export { createHardeningService, HARDEN_KIND, jobToProto, type HardeningServiceHandle, type HardeningServiceOptions } from './hardening-service.js';
export { DEFAULT_HARDEN_LIMITS, hardenSpec, type HardenLimits, type HardenSpec } from './harden-spec.js';
export { createHardenExecutor, type HardenJobDeps, type HardenOutputs } from './harden-job.js';
export { jobFolder } from '../../libs/training/index.js';
