/**
 * Clients of the services: a transport to a server address (`host:port`, or a URL) in one of the
 * three protocols, and typed clients from it. gRPC (HTTP/2) is the default; `connect` and
 * `grpc-web` work over HTTP/1.1 or HTTP/2. TLS when the address is `https://…` or `tls` is given.
 */
import { readFileSync } from 'node:fs';
import { createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import type { DescService } from '@bufbuild/protobuf';
import { bearerToken } from './auth.js';
import { RequestError } from './errors.js';

export const PROTOCOLS = ['grpc', 'connect', 'grpc-web'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface TransportOptions {
  /** `host:port`, `http://host:port` or `https://host:port`. */
  address: string;
  /** @default 'grpc' */
  protocol?: Protocol;
  /**
   * Use TLS; `caFile` trusts a private CA (or a self-signed certificate); `certFile` + `keyFile`
   * present a client certificate (mutual TLS).
   */
  tls?: { caFile?: string; serverName?: string; certFile?: string; keyFile?: string };
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Largest response message accepted, bytes. @default 67108864 (64 MiB) */
  readMaxBytes?: number;
  /** Default deadline of every call, ms. */
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
}

/** `host:port` → `http://host:port`; URLs are kept. Throws `invalid-argument` (field `server`) otherwise. */
export function serverUrl(address: string, tls = false): string {
  const trimmed = address.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return new URL(trimmed).origin;
    } catch {
      // fall through to the error below
    }
  } else if (/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(trimmed)) {
    return `${tls ? 'https' : 'http'}://${trimmed}`;
  }
  throw new RequestError('invalid-argument', `server: expected HOST:PORT or http(s)://HOST:PORT; got ${JSON.stringify(address)}`, { field: 'server' });
}

export function createTransport(options: TransportOptions): Transport {
  const baseUrl = serverUrl(options.address, options.tls !== undefined);
  const secure = baseUrl.startsWith('https:');
  const ca = options.tls?.caFile ? readFileSync(options.tls.caFile) : undefined;
  const clientCert = options.tls?.certFile && options.tls.keyFile ? { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) } : {};
  const nodeOptions = secure ? { ...(ca ? { ca } : {}), ...clientCert, ...(options.tls?.serverName ? { servername: options.tls.serverName } : {}) } : {};
  const common = {
    baseUrl,
    readMaxBytes: options.readMaxBytes ?? 64 * 1024 * 1024,
    interceptors: [...(options.token ? [bearerToken(options.token)] : []), ...(options.interceptors ?? [])],
    ...(options.defaultTimeoutMs ? { defaultTimeoutMs: options.defaultTimeoutMs } : {}),
  };
  switch (options.protocol ?? 'grpc') {
    case 'grpc':
      return createGrpcTransport({ ...common, nodeOptions });
    case 'connect':
      return createConnectTransport({ ...common, httpVersion: '1.1', nodeOptions });
    case 'grpc-web':
      return createGrpcWebTransport({ ...common, httpVersion: '1.1', nodeOptions });
  }
}

/** A typed client of `service` over `transport`. */
export function createServiceClient<T extends DescService>(service: T, transport: Transport): Client<T> {
  return createClient(service, transport);
}
