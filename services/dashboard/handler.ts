/**
 * The dashboard as one request handler, for node:http and for the services' HTTP/2 server (where
 * it sits beside the Connect/gRPC routes):
 *
 * | path | what |
 * |---|---|
 * | `/`, `/dashboard`, `/jobs` | the job list, live |
 * | `/dashboard/events[?job=ID]` | Server-Sent Events: `job` (a `JobView` as JSON) for every job, then `ready`, then each change |
 * | `/dashboard/app.js` | the page script |
 * | `/jobs/ID` | one job, live, linking its report |
 * | `/reports` | the report list |
 * | `/reports/ID` | the report page (`renderReportHtml`) |
 * | `/reports/ID/report.json` | the report as JSON |
 *
 * The handler returns true when the path is one of these (it then answers, asynchronously) and
 * false otherwise, leaving the request to the caller. Only GET and HEAD are answered (405 else).
 * Source failures become a 500 page without details: the error goes to `onError`.
 */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import { renderReportHtml, REPORT_CSP, type RobustnessReport } from '../../libs/evaluation/index.js';
import { DASHBOARD_SCRIPT } from './client-script.js';
import type { DashboardSource, JobView } from './dashboard-source.js';
import { DASHBOARD_PATH, EVENTS_PATH, jobHref, renderJobPage, renderJobsPage, renderMessagePage, renderReportsPage, SCRIPT_PATH } from './pages.js';

export type DashboardRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type DashboardResponse = http.ServerResponse | http2.Http2ServerResponse;
export type DashboardHandler = (req: DashboardRequest, res: DashboardResponse) => boolean;

export interface DashboardHandlerOptions {
  /** Seconds between keep-alive comments on event streams (proxies close idle ones). @default 15 */
  heartbeatSeconds?: number;
  /** Ends every open event stream when aborted (server shutdown). */
  signal?: AbortSignal;
  /** Told about source failures (the page only says that loading failed). */
  onError?: (error: unknown, path: string) => void;
}

/** What both response types offer, so the handler writes one way to either. */
interface Response {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  write(chunk: string): boolean;
  end(chunk?: string): unknown;
  on(event: 'close', listener: () => void): unknown;
}

const PAGE_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const COMMON = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

type Route =
  | { kind: 'jobs' }
  | { kind: 'events'; job: string | null }
  | { kind: 'script' }
  | { kind: 'job'; id: string }
  | { kind: 'reports' }
  | { kind: 'report'; id: string; json: boolean };

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function route(url: URL): Route | undefined {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === DASHBOARD_PATH || path === '/jobs') return { kind: 'jobs' };
  if (path === EVENTS_PATH) return { kind: 'events', job: url.searchParams.get('job') };
  if (path === SCRIPT_PATH) return { kind: 'script' };
  if (path === '/reports') return { kind: 'reports' };
  let m = /^\/jobs\/([^/]+)$/.exec(path);
  if (m) {
    const id = decode(m[1]);
    return id === undefined ? undefined : { kind: 'job', id };
  }
  m = /^\/reports\/([^/]+)(\/report\.json)?$/.exec(path);
  if (m) {
    const id = decode(m[1]);
    return id === undefined ? undefined : { kind: 'report', id, json: Boolean(m[2]) };
  }
  return undefined;
}

function send(res: Response, head: boolean, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.byteLength(body);
  res.writeHead(status, { ...COMMON, 'content-type': type, 'content-length': bytes, ...headers });
  res.end(head ? undefined : body);
}

const HTML = 'text/html; charset=utf-8';

function reportLinks(report: RobustnessReport): Array<{ href: string; label: string }> {
  const id = encodeURIComponent(report.id);
  return [
    { href: DASHBOARD_PATH, label: '← jobs' },
    { href: '/reports', label: 'all reports' },
    ...(report.training?.job_id ? [{ href: jobHref(report.training.job_id), label: `job ${report.training.job_id}` }] : []),
    { href: `/reports/${id}/report.json`, label: 'report.json' },
  ];
}

export function createDashboardHandler(source: DashboardSource, options: DashboardHandlerOptions = {}): DashboardHandler {
  const heartbeatMs = (options.heartbeatSeconds ?? 15) * 1000;

  /** An event stream: the current jobs (all, or one), `ready`, then every change, until the client leaves. */
  const stream = (res: Response, job: string | null): void => {
    res.writeHead(200, { ...COMMON, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    let closed = false;
    let ready = false;
    const pending: JobView[] = [];
    const emit = (view: JobView) => {
      if (closed) return;
      res.write(`event: job\ndata: ${JSON.stringify(view)}\n\n`);
    };
    // Subscribe before listing, and hold changes until the list is out, so none is lost or reordered.
    const unsubscribe = source.subscribe((view) => {
      if (job !== null && view.id !== job) return;
      if (ready) emit(view);
      else pending.push(view);
    });
    const heartbeat = setInterval(() => {
      if (!closed) res.write(': keep-alive\n\n');
    }, heartbeatMs);
    heartbeat.unref();
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      options.signal?.removeEventListener('abort', end);
    };
    const end = () => {
      close();
      res.end();
    };
    res.on('close', close);
    if (options.signal?.aborted) return end();
    options.signal?.addEventListener('abort', end, { once: true });
    const snapshot = job === null ? source.listJobs() : source.getJob(job).then((j) => (j ? [j] : []));
    snapshot.then(
      (jobs) => {
        for (const view of jobs) emit(view);
        for (const view of pending.splice(0)) emit(view);
        ready = true;
        if (!closed) res.write('event: ready\ndata: {}\n\n');
      },
      (error: unknown) => {
        options.onError?.(error, EVENTS_PATH);
        end();
      },
    );
  };

  const answer = async (r: Route, res: Response, head: boolean): Promise<void> => {
    switch (r.kind) {
      case 'jobs':
        return send(res, head, 200, HTML, renderJobsPage(await source.listJobs()), { 'content-security-policy': PAGE_CSP });
      case 'script':
        return send(res, head, 200, 'text/javascript; charset=utf-8', DASHBOARD_SCRIPT);
      case 'events':
        if (head) return send(res, true, 200, 'text/event-stream; charset=utf-8', '');
        return stream(res, r.job);
      case 'job': {
        const job = await source.getJob(r.id);
        if (!job) return send(res, head, 404, HTML, renderMessagePage('Job not found', `There is no job "${r.id}".`), { 'content-security-policy': PAGE_CSP });
        return send(res, head, 200, HTML, renderJobPage(job), { 'content-security-policy': PAGE_CSP });
      }
      case 'reports':
        return send(res, head, 200, HTML, renderReportsPage(await source.listReports()), { 'content-security-policy': PAGE_CSP });
      case 'report': {
        const report = await source.getReport(r.id);
        if (!report) {
          if (r.json) return send(res, head, 404, 'application/json', `${JSON.stringify({ error: 'not found', id: r.id })}\n`);
          return send(res, head, 404, HTML, renderMessagePage('Report not found', `There is no report "${r.id}".`), { 'content-security-policy': PAGE_CSP });
        }
        if (r.json) return send(res, head, 200, 'application/json', `${JSON.stringify(report, null, 2)}\n`);
        return send(res, head, 200, HTML, renderReportHtml(report, { links: reportLinks(report) }), { 'content-security-policy': REPORT_CSP });
      }
    }
  };

  return (req, rawRes) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return false;
    }
    const r = route(url);
    if (!r) return false;
    const res = rawRes as unknown as Response;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, false, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return true;
    }
    answer(r, res, method === 'HEAD').catch((error: unknown) => {
      options.onError?.(error, url.pathname);
      if (!res.headersSent) send(res, false, 500, HTML, renderMessagePage('Something went wrong', 'The dashboard could not load this page. Try again shortly.'), { 'content-security-policy': PAGE_CSP });
      else res.end();
    });
    return true;
  };
}
