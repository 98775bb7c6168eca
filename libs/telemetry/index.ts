/**
 * OpenTelemetry for harden: SDK start/stop, the Connect tracing and logging interceptors, span
 * helpers, metrics, JSON logs with trace ids, and store operations as spans. It knows no domain
 * library: trainer events and evaluator progress become spans in libs/training and libs/evaluation
 * (their telemetry.ts). See README "Tracing".
 */
export { ATTR, INSTRUMENTATION_SCOPE, SPAN } from './attributes.js';
export { defaultServiceName, resolveTelemetryConfig, TELEMETRY_ENV, type TelemetryConfig } from './config.js';
export { createLogger, isLogLevel, type LogFields, type Logger, type LoggerOptions, type LogLevel } from './logger.js';
export { instrumentJobStore, jobTraceContext, rememberTraceContext, TRACE_CONTEXT_KEY, traceJobExecutor, type ObservableJobStore, type TracedJobContext } from './job-telemetry.js';
export { createLoggingInterceptor } from './logging-interceptor.js';
export { createHardenMetrics, getHardenMetrics, type HardenMetrics, type JobStateName } from './metrics.js';
export { resetTelemetryForTests, shutdownTelemetry, startTelemetry, telemetryStatus, type StartTelemetryOptions, type TelemetryStatus } from './sdk.js';
export {
  activeTraceIds,
  cleanAttributes,
  contextFromCarrier,
  contextFromEnv,
  getTracer,
  isAbortError,
  recordError,
  traceContextCarrier,
  traceContextEnv,
  withSpan,
  type SpanAttributes,
  type WithSpanOptions,
} from './spans.js';
export { traceStore } from './store-telemetry.js';
export { withTaskSpan } from './task-telemetry.js';
export { codeName, createTracingInterceptor, REQUEST_ATTRIBUTES, requestAttributes, type RpcSide, type TracingInterceptorOptions } from './tracing-interceptor.js';
