/**
 * Structured logs: one JSON object per line on stderr, carrying the active span's `trace_id` and
 * `span_id` so that a log line leads to its trace (and back). stdout stays free for the CLI's
 * `--json` output.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { TELEMETRY_ENV } from './config.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra fields of a line; `Error` values are written as `{ name, message, code?, stack? }`. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly component: string;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. `{ job_id }`). */
  child(fields: LogFields): Logger;
  /** Whether lines at `level` are written. */
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  /** Lowest level written. @default HARDEN_LOG_LEVEL, else 'info' */
  level?: LogLevel;
  /** Where each line (with its trailing newline) goes. @default process.stderr.write */
  write?: (line: string) => void;
  /** Fields on every line. */
  fields?: LogFields;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

/** Whether `value` names a log level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in RANK;
}

function levelFromEnv(): LogLevel {
  const v = process.env[TELEMETRY_ENV.LOG_LEVEL]?.trim().toLowerCase();
  return isLogLevel(v) ? v : 'info';
}

function plain(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; cause?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.stack ? { stack: e.stack } : {}),
      ...(e.cause !== undefined && depth < 3 ? { cause: plain(e.cause, depth + 1) } : {}),
    };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * A logger for one component (`training`, `k8s-runner`, …). Lines look like
 * `{"time":"…","level":"info","component":"training","msg":"job started","trace_id":"…","span_id":"…","job_id":"…"}`.
 */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? levelFromEnv()];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const base = options.fields ?? {};

  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    const record: Record<string, unknown> = { time: now().toISOString(), level, component, msg };
    const span = trace.getActiveSpan()?.spanContext();
    if (span && isSpanContextValid(span)) {
      record.trace_id = span.traceId;
      record.span_id = span.spanId;
    }
    for (const [k, v] of Object.entries({ ...base, ...fields })) if (v !== undefined && !(k in record)) record[k] = plain(v);
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      // A field that cannot be serialised (a cycle) must not lose the line.
      line = JSON.stringify({ time: record.time, level, component, msg, trace_id: record.trace_id, span_id: record.span_id, log_error: 'unserialisable fields' });
    }
    write(`${line}\n`);
  };

  return {
    component,
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    child: (fields) => createLogger(component, { ...options, level: (Object.keys(RANK) as LogLevel[]).find((l) => RANK[l] === threshold), fields: { ...base, ...fields } }),
    enabled: (level) => RANK[level] >= threshold,
  };
}
