/**
 * The error-mapping interceptor: whatever a handler throws, or a response stream throws midway,
 * goes through `toConnectError` (errors.ts) before it reaches the protocol. Put it last in the
 * server's list (innermost, next to the handlers), after libs/telemetry's tracing and logging
 * interceptors: they then see the mapped code, and the original error as its `cause`, which the
 * logging interceptor logs for server faults. Clients only ever see the mapped message.
 */
import type { ConnectError, Interceptor, StreamResponse } from '@connectrpc/connect';
import { toConnectError } from './errors.js';

async function* mapStream<T>(messages: AsyncIterable<T>, map: (error: unknown) => ConnectError): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}

export function errorMapping(): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStream(res.message, toConnectError) } as StreamResponse;
    } catch (error) {
      throw toConnectError(error);
    }
  };
}
