/**
 * Starts OpenTelemetry before anything else loads:
 *
 *   node --import ./dist/libs/telemetry/register.js dist/cli/main.js serve --service training
 *   NODE_OPTIONS="--import /app/dist/libs/telemetry/register.js" harden serve
 *
 * It does nothing unless the `OTEL_*` variables enable telemetry (see `resolveTelemetryConfig`).
 * When on, it also registers the ESM loader hook the `@grpc/grpc-js` instrumentation needs (limited
 * to that package), which is why this must run through `--import` rather than from the app's own
 * imports: ESM modules are linked before any of them runs.
 */
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { resolveTelemetryConfig } from './config.js';
import { startTelemetry } from './sdk.js';

// Worker threads inherit `--import` from the process: they start their own (traces-only) SDK when a
// task asks for it (`withTaskSpan`), not here.
if (isMainThread && resolveTelemetryConfig().enabled) {
  try {
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: ['@grpc/grpc-js'] } });
  } catch {
    // Loader hooks are unavailable (e.g. a runtime without module.register): spans from our own
    // interceptors still work; only the grpc-js auto-instrumentation is lost.
  }
}
// Records the decision even when off, so `telemetryStatus()` tells the app what happened.
if (isMainThread) startTelemetry();
