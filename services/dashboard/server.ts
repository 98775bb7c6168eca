/**
 * The dashboard on its own plain HTTP/1.1 server (node:http), for use without the services, e.g.
 * over a `createInMemoryDashboardSource`. The services mount `createDashboardHandler` on their own
 * HTTP/2 server instead. Like them, it serves beyond loopback only behind a `guard` (the services'
 * Host and credential check, services/server/http-guard.ts) or when told `insecure`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DashboardSource } from './dashboard-source.js';
import { createDashboardHandler, type DashboardHandlerOptions } from './handler.js';
import { renderMessagePage } from './pages.js';

export interface DashboardServerOptions extends Omit<DashboardHandlerOptions, 'signal'> {
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Runs first; answers (refuses) a request by returning true, as the services' HTTP guard does. */
  guard?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Serve a non-loopback host without a guard. @default false (refuse to start) */
  insecure?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface DashboardServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Ends the event streams, stops accepting connections and resolves once the server is closed. */
  close(): Promise<void>;
}

export async function startDashboardServer(source: DashboardSource, options: DashboardServerOptions = {}): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !options.guard && !options.insecure) {
    throw new Error(`refusing to serve the dashboard on ${host} without a guard (credentials and Host check); give one, or say insecure`);
  }
  const stop = new AbortController();
  const { guard, insecure: _insecure, ...handlerOptions } = options;
  const handle = createDashboardHandler(source, { ...handlerOptions, signal: stop.signal });
  const server = createServer((req, res) => {
    if (guard?.(req, res)) return;
    if (handle(req, res)) return;
    const body = renderMessagePage('Not found', `Nothing at ${req.url ?? '/'}.`);
    res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        stop.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        // Event streams were ended above; whatever else is open (keep-alive sockets, slow clients) goes too.
        server.closeAllConnections();
      }),
  };
}
