/**
 * The RPC server: Connect's Node adapter (gRPC, gRPC-Web and Connect on every route) on one port.
 *
 * - Cleartext (default): HTTP/2 without TLS (h2c, what gRPC clients speak with insecure
 *   credentials) and HTTP/1.1 (browsers, curl, Connect and gRPC-Web clients) on the same port: the
 *   first bytes of a connection pick the protocol (the HTTP/2 preface starts with `PRI`).
 * - TLS (`tls: { certFile, keyFile }`): HTTP/2 with ALPN, HTTP/1.1 allowed.
 *
 * Requests no RPC matches go to `httpHandlers` in order (each returns true when it answered, e.g.
 * the dashboard), else 404. Message sizes are bounded both ways (`readMaxBytes`,
 * `writeMaxBytes`; RESOURCE_EXHAUSTED beyond). Deadlines (`grpc-timeout`, `connect-timeout-ms`)
 * abort the handler's `context.signal`, as does the client going away.
 *
 * `close({ graceMs })` is the graceful shutdown: stop accepting connections, tell HTTP/2 clients
 * with GOAWAY, abort the `shutdownSignal` (handlers pass it to their compute, streams end), give
 * calls in flight `graceMs` to finish, then close every connection.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Code, ConnectError, type ConnectRouter, type ContextValues, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter, type ConnectNodeAdapterOptions } from '@connectrpc/connect-node';
import type { Logger } from '../telemetry/index.js';

type NodeHandler = NonNullable<ConnectNodeAdapterOptions['fallback']>;
export type NodeRequest = Parameters<NodeHandler>[0];
export type NodeResponse = Parameters<NodeHandler>[1];

/** A plain HTTP handler mounted beside the RPCs; returns true when it handled the request. */
export type HttpHandler = (req: NodeRequest, res: NodeResponse) => boolean;

export interface RpcServerOptions {
  /** Registers the services; `shutdownSignal` aborts when the server starts to close. */
  routes: (router: ConnectRouter, shutdownSignal: AbortSignal) => void;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 50051 */
  port?: number;
  /**
   * Serve TLS with these PEM files. `clientCaFile`: ask clients for a certificate and verify it
   * against this CA bundle (mutual TLS). A connection without one, or with one the CA did not sign,
   * is still accepted, so that a bearer token may identify the caller instead: `contextValues`
   * decides (libs/rpc/auth.ts).
   */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** Per-request context values for the interceptors and handlers (e.g. the caller). */
  contextValues?: (req: NodeRequest) => ContextValues;
  /** Applied to every call, outermost first. */
  interceptors?: Interceptor[];
  /** Largest request message accepted, bytes. @default 4194304 (4 MiB) */
  readMaxBytes?: number;
  /** Largest response message sent, bytes. @default 67108864 (64 MiB) */
  writeMaxBytes?: number;
  /** Longest deadline a client may ask for, ms; 0 is no limit. @default 0 */
  maxTimeoutMs?: number;
  /** Tried in order for requests that are not RPCs. */
  httpHandlers?: HttpHandler[];
  logger?: Logger;
}

export interface RpcServer {
  /** `http://host:port` (or https), known after `listen()`. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly tls: boolean;
  /** Aborts when `close()` starts. */
  readonly shutdownSignal: AbortSignal;
  listen(): Promise<{ host: string; port: number; url: string }>;
  close(options?: { graceMs?: number }): Promise<void>;
}

export const DEFAULT_PORT = 50051;
export const DEFAULT_READ_MAX_BYTES = 4 * 1024 * 1024;
export const DEFAULT_WRITE_MAX_BYTES = 64 * 1024 * 1024;

/** The first bytes of every HTTP/2 connection ("PRI * HTTP/2.0…"); no HTTP/1 method starts so. */
const H2_PREFACE_START = Buffer.from('PRI', 'latin1');

/**
 * The gRPC spec's percent-encoding of grpc-message: only bytes outside 0x20–0x7E, and `%`.
 * Connect encodes with encodeURIComponent (every reserved character), which grpc-js decodes with
 * decodeURI — so ":" would reach grpc-js users as "%3A". Re-encoding fixes that for every client.
 */
function specEncodeGrpcMessage(value: string): string {
  let message: string;
  try {
    message = decodeURIComponent(value);
  } catch {
    return value;
  }
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** What a request that is not a valid protobuf message gets (never the parser's own words). */
export const MALFORMED_MESSAGE = 'the request is not a valid protobuf message for this method';

function fixGrpcMessage<T>(headers: T): T {
  const h = headers as Record<string, unknown> | undefined;
  if (!h) return headers;
  // Connect reports a request its parser rejects as INTERNAL with the parser's text; the error table
  // (errors.ts) says INVALID_ARGUMENT, with a fixed message.
  if (String(h['grpc-status']) === String(Code.Internal) && typeof h['grpc-message'] === 'string' && /^parse(%20| )binary(:|%3A)/i.test(h['grpc-message'])) {
    h['grpc-status'] = String(Code.InvalidArgument);
    h['grpc-message'] = MALFORMED_MESSAGE;
  }
  if (typeof h['grpc-message'] === 'string') h['grpc-message'] = specEncodeGrpcMessage(h['grpc-message']);
  return headers;
}

/** Wraps a response so the grpc-message it sends (in headers or trailers) is spec-encoded. */
function withGrpcMessageCompat(res: NodeResponse): NodeResponse {
  const r = res as unknown as { writeHead: (...args: unknown[]) => unknown; addTrailers: (headers: unknown) => void };
  const writeHead = r.writeHead.bind(r);
  const addTrailers = r.addTrailers.bind(r);
  r.writeHead = (status: unknown, ...rest: unknown[]) => writeHead(status, ...rest.map((a) => (a && typeof a === 'object' ? fixGrpcMessage(a) : a)));
  r.addTrailers = (headers: unknown) => addTrailers(fixGrpcMessage(headers));
  return res;
}

/**
 * Connect unary over binary protobuf answers a request its parser rejects with HTTP 500 and
 * `{"code":"internal","message":"parse binary: …"}`: rewritten here to 400, `invalid_argument` and
 * the fixed message (the gRPC protocols are fixed in `fixGrpcMessage`).
 */
function withConnectMalformedFix(res: NodeResponse): NodeResponse {
  const r = res as unknown as { writeHead: (...args: unknown[]) => unknown; write: (...args: unknown[]) => boolean };
  const writeHead = r.writeHead.bind(r);
  const write = r.write.bind(r);
  let held: unknown[] | undefined;
  r.writeHead = (status: unknown, ...rest: unknown[]) => {
    if (status === 500) {
      held = [status, ...rest];
      return res;
    }
    return writeHead(status, ...rest);
  };
  r.write = (chunk: unknown, ...rest: unknown[]) => {
    if (held) {
      const [status, headers, ...more] = held;
      held = undefined;
      try {
        const body = JSON.parse(Buffer.from(chunk as Uint8Array).toString('utf8')) as { code?: string; message?: string };
        if (body.code === 'internal' && /^parse binary:/.test(body.message ?? '')) {
          const fixed = Buffer.from(JSON.stringify({ code: 'invalid_argument', message: MALFORMED_MESSAGE }));
          const h = { ...(headers as Record<string, unknown>) };
          delete h['content-length'];
          writeHead(400, h, ...more);
          return write(fixed, ...rest);
        }
      } catch {
        // not the error body this looks for: send it as it was
      }
      writeHead(status, headers, ...more);
    }
    return write(chunk, ...rest);
  };
  return res;
}

export function createRpcServer(options: RpcServerOptions): RpcServer {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger;
  const shutdown = new AbortController();
  // Every call in flight listens to the shutdown signal: no listener limit (it is not a leak).
  setMaxListeners(Infinity, shutdown.signal);
  const httpHandlers = options.httpHandlers ?? [];
  const adapter = connectNodeAdapter({
    routes: (router) => options.routes(router, shutdown.signal),
    interceptors: options.interceptors ?? [],
    readMaxBytes: options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES,
    writeMaxBytes: options.writeMaxBytes ?? DEFAULT_WRITE_MAX_BYTES,
    ...(options.maxTimeoutMs ? { maxTimeoutMs: options.maxTimeoutMs } : {}),
    shutdownSignal: shutdown.signal,
    ...(options.contextValues ? { contextValues: options.contextValues } : {}),
    fallback: (req, res) => {
      for (const h of httpHandlers) {
        try {
          if (h(req, res)) return;
        } catch (error) {
          logger?.error('http handler failed', { url: req.url, error });
          if (!res.headersSent) {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end('internal error\n');
          }
          return;
        }
      }
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    },
  });

  const handler = (req: NodeRequest, res: NodeResponse) => {
    const type = req.headers['content-type'];
    const t = typeof type === 'string' ? type : '';
    adapter(req, t.startsWith('application/grpc') && !t.startsWith('application/grpc-web') ? withGrpcMessageCompat(res) : t.startsWith('application/proto') ? withConnectMalformedFix(res) : res);
  };

  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let h1: http.Server | undefined;
  let listener: net.Server;
  const http2Settings: http2.Settings = { maxConcurrentStreams: 1000 };

  if (options.tls) {
    const secure = http2.createSecureServer(
      {
        cert: readFileSync(options.tls.certFile),
        key: readFileSync(options.tls.keyFile),
        allowHTTP1: true,
        settings: http2Settings,
        ...(options.tls.clientCaFile ? { ca: readFileSync(options.tls.clientCaFile), requestCert: true, rejectUnauthorized: false } : {}),
      },
      handler,
    );
    secure.on('session', (s) => {
      sessions.add(s);
      s.once('close', () => sessions.delete(s));
    });
    listener = secure;
  } else {
    const h2 = http2.createServer({ settings: http2Settings }, handler);
    h2.on('session', (s) => {
      sessions.add(s);
      s.once('close', () => sessions.delete(s));
    });
    h1 = http.createServer(handler);
    const server1 = h1;
    listener = net.createServer((socket) => {
      const route = () => {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) {
          socket.once('readable', route);
          return;
        }
        socket.unshift(chunk);
        const head = chunk.subarray(0, H2_PREFACE_START.length);
        if (head.length < H2_PREFACE_START.length && H2_PREFACE_START.subarray(0, head.length).equals(head)) {
          // Too few bytes yet to tell; wait for more.
          socket.once('readable', route);
          return;
        }
        // Node's HTTP/2 session reads what is buffered on the socket first (nodejs/node#34532).
        (head.equals(H2_PREFACE_START) ? h2 : server1).emit('connection', socket);
      };
      socket.once('readable', route);
      socket.on('error', () => socket.destroy());
    });
  }
  listener.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  let address: { host: string; port: number; url: string } | undefined;
  const scheme = options.tls ? 'https' : 'http';

  return {
    get url() {
      if (!address) throw new Error('the server is not listening yet');
      return address.url;
    },
    get port() {
      return address?.port ?? 0;
    },
    host,
    tls: options.tls !== undefined,
    shutdownSignal: shutdown.signal,

    listen() {
      return new Promise((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(options.port ?? DEFAULT_PORT, host, () => {
          listener.off('error', reject);
          const port = (listener.address() as AddressInfo).port;
          const urlHost = net.isIPv6(host) ? `[${host}]` : host;
          address = { host, port, url: `${scheme}://${urlHost}:${port}` };
          logger?.info('listening', { url: address.url, protocols: options.tls ? 'h2 + http/1.1 (TLS)' : 'h2c + http/1.1' });
          resolve(address);
        });
      });
    },

    async close(closeOptions = {}) {
      const graceMs = closeOptions.graceMs ?? 10_000;
      if (!shutdown.signal.aborted) shutdown.abort(new ConnectError('the server is shutting down', Code.Unavailable));
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const s of sessions) s.close();
      h1?.closeIdleConnections();
      const drained = new Promise<void>((resolve) => {
        const check = () => (sockets.size === 0 ? resolve() : setTimeout(check, 20).unref());
        check();
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      for (const s of sessions) s.destroy();
      h1?.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
