/**
 * services/evaluation — EvaluationService over libs/evaluation, libs/jobs and the artifact store.
 * Thin wiring: request validation (evaluate-spec.ts), the job's compute in a worker thread
 * (libs/evaluation evaluate-task.ts), report messages (report-message.ts).
 */
export { createEvaluationService, EVALUATE_KIND, type EvaluationServiceHandle, type EvaluationServiceOptions } from './evaluation-service.js';
export { DEFAULT_EVALUATE_LIMITS, evaluateSpec, type EvaluateLimits, type EvaluateSpec } from './evaluate-spec.js';
export { reportFolder } from '../../libs/evaluation/index.js';
export { reportToProto, type ReportSummary } from './report-message.js';
