/**
 * The dashboard handler over real sockets: routes, status codes, security headers and the event
 * stream, on node:http (`startDashboardServer`) and mounted on an HTTP/2 server beside other routes,
 * as the services mount it.
 */
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { REPORT_CSP } from '../libs/evaluation/index.js';
import { sampleReport } from '../libs/evaluation/report-html.fixture.js';
import { request as httpRequest } from 'node:http';
import { createAuthenticator } from '../libs/rpc/index.js';
import { createHttpGuard } from '../services/server/http-guard.js';
import { createDashboardHandler, createInMemoryDashboardSource, startDashboardServer, type DashboardServer, type JobView } from '../services/dashboard/index.js';

/** Parses Server-Sent Events from a stream of text chunks. */
function createSseParser(onEvent: (event: string, data: string) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  };
}

/** Collects events and waits for one that matches. */
function createEventLog() {
  const events: Array<{ event: string; data: string }> = [];
  const waiters: Array<() => void> = [];
  const push = (event: string, data: string) => {
    events.push({ event, data });
    for (const w of waiters.splice(0)) w();
  };
  const waitFor = async (match: (e: { event: string; data: string }) => boolean, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching event; got ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { events, push, waitFor };
}

const jobEvent = (id: string, progress: number) => (e: { event: string; data: string }) =>
  e.event === 'job' && (JSON.parse(e.data) as JobView).id === id && (JSON.parse(e.data) as JobView).progress === progress;

describe('dashboard over node:http', () => {
  const source = createInMemoryDashboardSource({ jobs: [{ id: 'j1', kind: 'harden', state: 'RUNNING', progress: 0.25, report_id: 'report-0001' }], reports: [sampleReport()] });
  let server: DashboardServer;
  before(async () => {
    server = await startDashboardServer(source);
  });
  after(() => server.close());

  it('serves the job list, job, report list and report pages with their security headers', async () => {
    for (const path of ['/', '/dashboard', '/dashboard/', '/jobs']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.match(await res.text(), /data-job-id="j1"/);
    }
    const job = await fetch(`${server.url}/jobs/j1`);
    assert.match(await job.text(), /href="\/reports\/report-0001"/);
    const list = await fetch(`${server.url}/reports`);
    assert.match(await list.text(), /href="\/reports\/report-0001"/);
    const page = await fetch(`${server.url}/reports/report-0001`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), REPORT_CSP);
    const html = await page.text();
    assert.match(html, /data-metric="robust_accuracy"/);
    assert.match(html, /<a href="\/jobs\/job-42">job job-42<\/a>/);
    const json = await fetch(`${server.url}/reports/report-0001/report.json`);
    assert.deepEqual(await json.json(), sampleReport());
    const script = await fetch(`${server.url}/dashboard/app.js`);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await script.text(), /new EventSource/);
  });

  it('answers 404 for unknown jobs and reports, 405 for other methods, and leaves other paths alone', async () => {
    assert.equal((await fetch(`${server.url}/jobs/none`)).status, 404);
    assert.equal((await fetch(`${server.url}/reports/none`)).status, 404);
    assert.equal((await fetch(`${server.url}/reports/none/report.json`)).status, 404);
    const post = await fetch(`${server.url}/dashboard`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${server.url}/reports`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    // Not the dashboard's: the standalone server's own 404.
    const other = await fetch(`${server.url}/robustness.v1.EvaluationService/Evaluate`);
    assert.equal(other.status, 404);
    assert.match(await other.text(), /Nothing at/);
    assert.equal((await fetch(`${server.url}/jobs/%E0%A4%A`)).status, 404);
  });

  it('streams every job, then ready, then each change, in order', async () => {
    const log = createEventLog();
    const controller = new AbortController();
    const res = await fetch(`${server.url}/dashboard/events`, { signal: controller.signal });
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const parse = createSseParser(log.push);
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) parse(decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch {
        // aborted below
      }
    })();
    await log.waitFor((e) => e.event === 'ready');
    assert.deepEqual(log.events.map((e) => e.event), ['job', 'ready']);
    source.updateJob('j1', { progress: 0.5, message: 'epoch 2' });
    source.putJob({ id: 'j2', kind: 'evaluate' });
    await log.waitFor((e) => e.event === 'job' && (JSON.parse(e.data) as JobView).id === 'j2');
    const jobs = log.events.filter((e) => e.event === 'job').map((e) => JSON.parse(e.data) as JobView);
    assert.deepEqual(jobs.map((j) => [j.id, j.progress]), [['j1', 0.25], ['j1', 0.5], ['j2', 0]]);
    controller.abort();
    await reading;
  });

  it('?job=ID streams that job only', async () => {
    const log = createEventLog();
    const controller = new AbortController();
    const res = await fetch(`${server.url}/dashboard/events?job=j1`, { signal: controller.signal });
    const parse = createSseParser(log.push);
    const reading = (async () => {
      try {
        for await (const chunk of res.body!) parse(new TextDecoder().decode(chunk as Uint8Array));
      } catch {
        // aborted below
      }
    })();
    await log.waitFor((e) => e.event === 'ready');
    source.updateJob('j2', { progress: 0.9 });
    source.updateJob('j1', { progress: 0.75 });
    await log.waitFor(jobEvent('j1', 0.75));
    assert.ok(log.events.every((e) => e.event !== 'job' || (JSON.parse(e.data) as JobView).id === 'j1'));
    controller.abort();
    await reading;
  });
});

describe('dashboard on its own server beyond loopback', () => {
  const source = createInMemoryDashboardSource({ jobs: [{ id: 'j1', kind: 'harden', state: 'RUNNING', progress: 0.25 }], reports: [] });

  it('refuses to start without a guard, and behind the services’ guard asks for a read token and a known Host', async () => {
    await assert.rejects(startDashboardServer(source, { host: '0.0.0.0' }), /refusing to serve the dashboard on 0\.0\.0\.0 without a guard/);
    const authn = createAuthenticator({ tokens: [{ role: 'read', token: 'dashboard-read-token-0123456789' }], allowedHosts: ['127.0.0.1'] });
    const server = await startDashboardServer(source, { host: '0.0.0.0', guard: createHttpGuard(authn) });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      assert.equal((await fetch(`${url}/jobs`)).status, 401);
      const ok = await fetch(`${url}/jobs`, { headers: { authorization: 'Bearer dashboard-read-token-0123456789' } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /data-job-id="j1"/);
      assert.equal((await rawHttpStatus(server.port, '/jobs', 'evil.example')), 421);
    } finally {
      await server.close();
    }
  });
});

/** GET over node:http naming `host` (fetch will not send another Host than the URL's). */
function rawHttpStatus(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard mounted on an HTTP/2 server beside other routes', () => {
  const source = createInMemoryDashboardSource({ jobs: [{ id: 'h2', kind: 'evaluate', state: 'RUNNING', progress: 0.1 }], reports: [sampleReport()] });
  const stop = new AbortController();
  const handle = createDashboardHandler(source, { signal: stop.signal });
  const server = http2.createServer((req, res) => {
    if (handle(req, res)) return;
    res.writeHead(418, { 'content-type': 'text/plain' });
    res.end('grpc here');
  });
  let client: http2.ClientHttp2Session;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    stop.abort();
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const get = (path: string) =>
    new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = client.request({ ':path': path });
      let body = '';
      let headers: http2.IncomingHttpHeaders = {};
      req.setEncoding('utf8');
      req.on('response', (h) => (headers = h));
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve({ status: Number(headers[':status']), headers, body }));
      req.on('error', reject);
    });

  it('serves the pages over h2c and passes other paths on', async () => {
    const list = await get('/');
    assert.equal(list.status, 200);
    assert.match(list.body, /data-job-id="h2"/);
    const report = await get('/reports/report-0001');
    assert.equal(report.status, 200);
    assert.equal(report.headers['content-security-policy'], REPORT_CSP);
    assert.equal((await get('/robustness.v1.TrainingService/Harden')).status, 418);
  });

  it('streams job changes over HTTP/2 and ends the stream on shutdown', async () => {
    const log = createEventLog();
    const req = client.request({ ':path': '/dashboard/events' });
    req.setEncoding('utf8');
    req.on('data', createSseParser(log.push));
    const ended = new Promise<void>((resolve) => req.on('end', resolve));
    await log.waitFor((e) => e.event === 'ready');
    source.updateJob('h2', { progress: 0.6 });
    await log.waitFor(jobEvent('h2', 0.6));
    stop.abort();
    await ended;
  });
});
