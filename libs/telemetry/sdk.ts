/**
 * Starting and stopping the OpenTelemetry Node SDK.
 *
 * `startTelemetry` is synchronous and loads the SDK only when telemetry is on, so it can run first
 * thing in a process (see `register.ts`, loaded with `node --import`) and costs nothing in embedded
 * mode. Exporters, protocol, sampler and resource attributes come from the standard `OTEL_*`
 * variables, read by the SDK; W3C trace context and baggage are the propagators.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { defaultServiceName, resolveTelemetryConfig, TELEMETRY_ENV, type TelemetryConfig } from './config.js';
import { createLogger } from './logger.js';

const require = createRequire(import.meta.url);

export interface StartTelemetryOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` is set. @default from the command line, e.g. `harden-training` */
  serviceName?: string;
  /** Instrument `@grpc/grpc-js` (clients in tests and user code; our servers use Connect). @default true */
  grpcInstrumentation?: boolean;
  /** Export metrics (off in compute threads: the process's main thread exports them). @default true */
  metrics?: boolean;
}

/** What `startTelemetry` did. */
export interface TelemetryStatus extends TelemetryConfig {
  /** True once the SDK runs in this process (by this call or an earlier one). */
  started: boolean;
}

interface State {
  sdk: NodeSDK | undefined;
  status: TelemetryStatus;
}

// One SDK per process, even if this module were loaded twice (e.g. from two copies of the package).
const KEY = Symbol.for('harden.telemetry.state');
const holder = globalThis as unknown as Record<symbol, State | undefined>;

function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name: string; version: string }).version;
    } catch {
      // try the next candidate (dist/libs/telemetry/ or libs/telemetry/)
    }
  }
  return '0.0.0';
}

/** OpenTelemetry's own diagnostics (a failed export, a dropped span) as our JSON log lines. */
function diagLogger(): DiagLogger {
  const log = createLogger('otel');
  const text = (message: string, args: unknown[]) => (args.length ? `${message} ${args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}` : message);
  return {
    error: (m, ...a) => log.error(text(m, a)),
    warn: (m, ...a) => log.warn(text(m, a)),
    info: (m, ...a) => log.info(text(m, a)),
    debug: (m, ...a) => log.debug(text(m, a)),
    verbose: (m, ...a) => log.debug(text(m, a)),
  };
}

/**
 * Starts the SDK if the `OTEL_*` variables ask for it (see `resolveTelemetryConfig`); a second call
 * returns the first one's status. Never throws: a broken telemetry setup is logged, not fatal.
 */
export function startTelemetry(options: StartTelemetryOptions = {}): TelemetryStatus {
  const existing = holder[KEY];
  if (existing) return existing.status;
  const config = resolveTelemetryConfig(process.env, options.serviceName ?? defaultServiceName());
  if (!config.enabled) {
    holder[KEY] = { sdk: undefined, status: { ...config, started: false } };
    return holder[KEY].status;
  }
  try {
    if (!process.env.OTEL_LOG_LEVEL) diag.setLogger(diagLogger(), DiagLogLevel.WARN);
    const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
    const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
    const instrumentations = [];
    if (options.grpcInstrumentation !== false) {
      const { GrpcInstrumentation } = require('@opentelemetry/instrumentation-grpc') as typeof import('@opentelemetry/instrumentation-grpc');
      instrumentations.push(new GrpcInstrumentation());
    }
    const sdk = new NodeSDK({
      serviceName: config.serviceName,
      resource: defaultResource().merge(resourceFromAttributes({ 'service.version': packageVersion(), 'service.namespace': 'harden' })),
      instrumentations,
      // Logs go to stderr as JSON lines (createLogger); export OTel log records only when asked.
      ...(process.env[TELEMETRY_ENV.LOGS_EXPORTER] ? {} : { logRecordProcessors: [] }),
      ...(options.metrics === false ? { metricReaders: [] } : {}),
    });
    sdk.start();
    // Worker threads and child processes inherit the environment: they report as the same service.
    process.env[TELEMETRY_ENV.SERVICE_NAME] ??= config.serviceName;
    holder[KEY] = { sdk, status: { ...config, started: true } };
  } catch (error) {
    createLogger('telemetry').error('OpenTelemetry SDK failed to start; continuing without telemetry', { error });
    holder[KEY] = { sdk: undefined, status: { ...config, enabled: false, reason: `start failed: ${(error as Error).message}`, started: false } };
  }
  return holder[KEY].status;
}

/** The status of this process's telemetry, or undefined before `startTelemetry`. */
export function telemetryStatus(): TelemetryStatus | undefined {
  return holder[KEY]?.status;
}

/**
 * Flushes and stops the SDK (pending spans and a last metric export), waiting at most `timeoutMs`.
 * Call it when a server drains or a worker exits; safe to call when telemetry is off or twice.
 *
 * @param timeoutMs @default 5000
 */
export async function shutdownTelemetry(timeoutMs = 5000): Promise<void> {
  const state = holder[KEY];
  const sdk = state?.sdk;
  if (!state || !sdk) return;
  state.sdk = undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sdk.shutdown(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      }),
    ]);
  } catch (error) {
    createLogger('telemetry').warn('telemetry shutdown failed', { error });
  } finally {
    clearTimeout(timer);
  }
}

/** Forgets the process's telemetry state (tests that start the SDK more than once). */
export function resetTelemetryForTests(): void {
  holder[KEY] = undefined;
}
