/**
 * services/adversarial — AdversarialService.GenerateAdversarial over libs/attacks, on a pool of
 * attack worker threads. Thin wiring: request validation (generate-spec.ts) and the handler
 * (adversarial-service.ts); the batches are libs/attacks `createAttackStreamer`'s.
 */
export { createAdversarialService, type AdversarialServiceHandle, type AdversarialServiceOptions } from './adversarial-service.js';
export { DEFAULT_GENERATE_LIMITS, generateSpec, type GenerateLimits, type GenerateSpec } from './generate-spec.js';
