/**
 * Whether telemetry is on, decided from the standard `OTEL_*` variables alone.
 *
 * Embedded mode (`harden serve` on a laptop) exports nothing: the SDK starts only when an exporter is
 * asked for, by an OTLP endpoint or an explicit `OTEL_TRACES_EXPORTER`, and `OTEL_SDK_DISABLED=true`
 * always wins. Everything else (protocol, headers, sampler, resource attributes, metric interval) is
 * read by the OpenTelemetry SDK itself from the same variables.
 */

/** The environment variables this module reads; the deploy test checks the manifests against it. */
export const TELEMETRY_ENV = {
  DISABLED: 'OTEL_SDK_DISABLED',
  ENDPOINT: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  TRACES_ENDPOINT: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  TRACES_EXPORTER: 'OTEL_TRACES_EXPORTER',
  METRICS_EXPORTER: 'OTEL_METRICS_EXPORTER',
  LOGS_EXPORTER: 'OTEL_LOGS_EXPORTER',
  PROTOCOL: 'OTEL_EXPORTER_OTLP_PROTOCOL',
  SERVICE_NAME: 'OTEL_SERVICE_NAME',
  RESOURCE_ATTRIBUTES: 'OTEL_RESOURCE_ATTRIBUTES',
  /** W3C trace context handed to a process that continues a trace (the Kubernetes worker pod). */
  TRACEPARENT: 'TRACEPARENT',
  TRACESTATE: 'TRACESTATE',
  /** Log level of `createLogger`: `debug`, `info`, `warn` or `error`. @default 'info' */
  LOG_LEVEL: 'HARDEN_LOG_LEVEL',
} as const;

/** The resolved decision. */
export interface TelemetryConfig {
  enabled: boolean;
  /** Why: which variable turned it on or off (for a startup log line). */
  reason: string;
  /** `service.name` of the resource; `OTEL_SERVICE_NAME` wins over the default. */
  serviceName: string;
}

type Env = Record<string, string | undefined>;

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * The default `service.name` for a `harden` command line: `harden-training` for
 * `harden serve --service training`, `harden-worker` for `harden worker`, else `harden`.
 */
export function defaultServiceName(argv: readonly string[] = process.argv.slice(2)): string {
  const verb = argv.find((a) => !a.startsWith('-'));
  if (verb === 'worker') return 'harden-worker';
  if (verb !== 'serve') return 'harden';
  const i = argv.findIndex((a) => a === '--service' || a.startsWith('--service='));
  const service = i < 0 ? undefined : argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
  return service && service !== 'all' ? `harden-${service}` : 'harden';
}

/** Decides from `env` whether telemetry runs and under which service name. */
export function resolveTelemetryConfig(env: Env = process.env, serviceName: string = defaultServiceName()): TelemetryConfig {
  const name = set(env[TELEMETRY_ENV.SERVICE_NAME]) ? env[TELEMETRY_ENV.SERVICE_NAME]!.trim() : serviceName;
  if ((env[TELEMETRY_ENV.DISABLED] ?? '').trim().toLowerCase() === 'true') {
    return { enabled: false, reason: `${TELEMETRY_ENV.DISABLED}=true`, serviceName: name };
  }
  const exporter = (env[TELEMETRY_ENV.TRACES_EXPORTER] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (exporter.length > 0) {
    const on = exporter.some((e) => e !== 'none');
    return { enabled: on, reason: `${TELEMETRY_ENV.TRACES_EXPORTER}=${exporter.join(',')}`, serviceName: name };
  }
  for (const key of [TELEMETRY_ENV.ENDPOINT, TELEMETRY_ENV.TRACES_ENDPOINT]) {
    if (set(env[key])) return { enabled: true, reason: `${key} is set`, serviceName: name };
  }
  return { enabled: false, reason: `neither ${TELEMETRY_ENV.ENDPOINT} nor ${TELEMETRY_ENV.TRACES_EXPORTER} is set`, serviceName: name };
}
