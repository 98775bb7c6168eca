/**
 * services/adversarial — AdversarialService.GenerateAdversarial over libs/attacks, on a pool of
 * attack worker threads. Thin wiring: request validation (generate-spec.ts), the workers' task
 * (attack-task.ts), model bytes (model-bytes.ts).
 */
export { createAdversarialService, type AdversarialServiceHandle, type AdversarialServiceOptions } from './adversarial-service.js';
export { DEFAULT_GENERATE_LIMITS, generateSpec, type GenerateLimits, type GenerateSpec } from './generate-spec.js';
