/**
 * A Connect interceptor that writes one structured log line per RPC when it ends: method, status
 * code, duration, and (from the tracing interceptor's span, which must come first in the list) the
 * trace and span ids. Failures the server caused log at `error` with the error's cause; caller
 * errors (InvalidArgument, NotFound…) at `info`, since they are answers rather than faults.
 */
import { ConnectError, type Interceptor, type StreamResponse } from '@connectrpc/connect';
import { context, type Context } from '@opentelemetry/api';
import type { Logger } from './logger.js';
import { codeName, SERVER_FAULT_CODES, type RpcSide } from './tracing-interceptor.js';

async function* watched<T>(source: AsyncIterable<T>, ctx: Context, done: (error: unknown) => void): AsyncGenerator<T> {
  let failure: unknown;
  try {
    for await (const value of source) yield value;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    context.with(ctx, () => done(failure));
  }
}

/** Creates the logging interceptor; `side` only labels the lines. */
export function createLoggingInterceptor(logger: Logger, options: { side?: RpcSide } = {}): Interceptor {
  const side = options.side ?? 'server';
  return (next) => async (req) => {
    const started = performance.now();
    const ctx = context.active();
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const done = (error: unknown) => {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      if (error === undefined) {
        logger.info('rpc', { side, rpc, code: 'OK', duration_ms: durationMs });
        return;
      }
      const e = ConnectError.from(error);
      const fields = { side, rpc, code: codeName(e.code), duration_ms: durationMs, error: e.rawMessage };
      if (SERVER_FAULT_CODES.has(e.code)) logger.error('rpc failed', { ...fields, cause: e.cause ?? error });
      else logger.info('rpc', fields);
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        done(undefined);
        return res;
      }
      return { ...res, message: watched(res.message, ctx, done) } as StreamResponse;
    } catch (error) {
      done(error);
      throw error;
    }
  };
}
