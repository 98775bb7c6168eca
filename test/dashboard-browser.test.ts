/**
 * The dashboard in a real browser (Chromium through playwright-core): the job list follows a running
 * job's progress without reloading, new jobs appear, a finished job links to its report page, a job
 * page follows its own job only, and job strings cannot inject markup. The jobs are driven from the
 * test through the in-memory source, served by `startDashboardServer`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { sampleReport } from '../libs/evaluation/report-html.fixture.js';
import { createInMemoryDashboardSource, jobFieldText, startDashboardServer, type DashboardServer, type JobView } from '../services/dashboard/index.js';
import { artifactPath, launchChromium, watchPage, type Chromium } from './helpers/chromium.js';

type Fields = Record<string, string>;

/** The text of every `data-field` of a job's row (or page section), and its progress bar's value. */
async function readJob(page: Page, id: string): Promise<{ fields: Fields; bar: number; state: string | null } | null> {
  return page.evaluate((jobId) => {
    const el = [...document.querySelectorAll('[data-job-id]')].find((e) => e.getAttribute('data-job-id') === jobId);
    if (!el) return null;
    const fields: Record<string, string> = {};
    for (const f of el.querySelectorAll('[data-field]')) fields[f.getAttribute('data-field')!] = f.textContent ?? '';
    return { fields, bar: (el.querySelector('progress') as HTMLProgressElement).value, state: el.getAttribute('data-state') };
  }, id);
}

async function waitForText(page: Page, id: string, field: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([jobId, name, want]) => {
      const el = [...document.querySelectorAll('[data-job-id]')].find((e) => e.getAttribute('data-job-id') === jobId);
      return el?.querySelector(`[data-field="${name}"]`)?.textContent === want;
    },
    [id, field, text] as const,
    { timeout: 10_000 },
  );
}

function assertShows(actual: Fields, job: JobView, fields: ReadonlyArray<keyof ReturnType<typeof jobFieldText>>): void {
  const want = jobFieldText(job);
  for (const f of fields) assert.equal(actual[f], want[f], f);
}

describe('the dashboard in Chromium', { timeout: 120_000 }, () => {
  const report = sampleReport();
  const source = createInMemoryDashboardSource({
    jobs: [
      { id: 'eval-1', kind: 'evaluate', state: 'SUCCEEDED', progress: 1, message: 'done', report_id: report.id, created_at: '2025-01-01T00:00:00.000Z' },
      { id: 'harden-1', kind: 'harden', state: 'RUNNING', progress: 0.1, message: 'epoch 1: CAG + D2R', epoch: 1, epochs: 5, model_uri: 'file:///runs/h1/model', created_at: '2025-01-02T00:00:00.000Z' },
    ],
    reports: [report],
  });
  let server: DashboardServer;
  let browser: Chromium;

  before(async () => {
    browser = await launchChromium();
    server = await startDashboardServer(source);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("follows a running job's progress without reloading, and lists new jobs as they come", async () => {
    const page = await browser.context.newPage();
    const problems = watchPage(page, server.url);
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#live[data-live="ready"]');
    const first = await readJob(page, 'harden-1');
    assert.equal(first?.fields.progress, '10%');
    assert.equal(first?.bar, 0.1);
    // A marker on the window survives only if the page is updated in place, not reloaded.
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));

    const steps: Array<Partial<JobView> & { progress: number }> = [
      { progress: 0.35, epoch: 2, message: 'epoch 2: CAG + D2R', metrics: { loss: 1.234567, clean_accuracy: 0.61 } },
      { progress: 0.55, epoch: 3, message: 'epoch 3: CAG + D2R', metrics: { loss: 0.98, clean_accuracy: 0.72, robust_accuracy: 0.31 } },
    ];
    for (const step of steps) {
      const job = source.updateJob('harden-1', step);
      await waitForText(page, 'harden-1', 'progress', jobFieldText(job).progress);
      const shown = await readJob(page, 'harden-1');
      assertShows(shown!.fields, job, ['id', 'kind', 'state', 'progress', 'epoch', 'message', 'metrics', 'updated_at']);
      assert.equal(shown!.bar, step.progress);
    }
    await page.screenshot({ path: artifactPath('dashboard.png') });

    const queued = source.putJob({ id: 'harden-2', kind: 'harden', epochs: 10 });
    await waitForText(page, 'harden-2', 'state', 'QUEUED');
    const order = await page.evaluate(() => [...document.querySelectorAll('#jobs tbody tr')].map((r) => r.getAttribute('data-job-id')));
    assert.deepEqual(order, ['harden-2', 'harden-1', 'eval-1']);
    assertShows((await readJob(page, 'harden-2'))!.fields, queued, ['id', 'kind', 'state', 'progress', 'epoch', 'message', 'metrics']);
    const link = await page.evaluate(() => document.querySelector('[data-job-id="harden-2"] a[data-field="id"]')?.getAttribute('href'));
    assert.equal(link, '/jobs/harden-2');

    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('a finished job links to its report, which opens as the report page', async () => {
    const page = await browser.context.newPage();
    const problems = watchPage(page, server.url);
    await page.goto(`${server.url}/dashboard`);
    await page.waitForSelector('#live[data-live="ready"]');
    assert.equal(await page.isVisible('[data-job-id="harden-1"] a[data-field="report"]'), false);
    source.updateJob('harden-1', { state: 'SUCCEEDED', progress: 1, message: 'evaluated', report_id: report.id });
    await waitForText(page, 'harden-1', 'state', 'SUCCEEDED');
    assert.equal((await readJob(page, 'harden-1'))!.state, 'SUCCEEDED');
    await page.click('[data-job-id="harden-1"] a[data-field="report"]');
    await page.waitForURL(`${server.url}/reports/${report.id}`);
    const charts = await page.evaluate(() => document.querySelectorAll('figure.chart svg').length);
    assert.ok(charts >= 5, `${charts} charts`);
    assert.equal(await page.textContent('.card.robust [data-metric="robust_accuracy"]'), '23.3%');
    // The report page links back to the job that trained the model, and to the lists.
    const links = await page.evaluate(() => [...document.querySelectorAll('nav a')].map((a) => a.getAttribute('href')));
    assert.deepEqual(links, ['/dashboard', '/reports', '/jobs/job-42', `/reports/report-0001/report.json`]);
    await page.goto(`${server.url}/reports`);
    assert.equal(await page.getAttribute('#reports a', 'href'), '/reports/report-0001');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it("a job's page follows that job only", async () => {
    source.putJob({ id: 'harden-3', kind: 'harden', state: 'RUNNING', progress: 0.2, epoch: 1, epochs: 4 });
    const page = await browser.context.newPage();
    const problems = watchPage(page, server.url);
    await page.goto(`${server.url}/jobs/harden-3`);
    await page.waitForSelector('#live[data-live="ready"]');
    source.updateJob('harden-2', { state: 'RUNNING', progress: 0.9 });
    const job = source.updateJob('harden-3', { progress: 0.75, epoch: 3, report_id: report.id });
    await waitForText(page, 'harden-3', 'progress', '75%');
    const shown = await readJob(page, 'harden-3');
    assertShows(shown!.fields, job, ['progress', 'epoch', 'state', 'model_uri', 'updated_at']);
    assert.equal(await page.locator('[data-job-id]').count(), 1, 'no other job appears');
    assert.equal(await page.getAttribute('a[data-field="report"]', 'href'), `/reports/${report.id}`);
    await page.screenshot({ path: artifactPath('dashboard-job.png') });
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('job strings cannot inject markup, whether rendered by the server or live', async () => {
    const evil = '<img src=x onerror="alert(1)">';
    source.putJob({ id: 'x"><svg onload=alert(2)>', kind: 'harden', state: 'RUNNING', message: evil });
    const page = await browser.context.newPage();
    const problems = watchPage(page, server.url);
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#live[data-live="ready"]');
    source.putJob({ id: '<script>alert(3)</script>', kind: 'evaluate', state: 'QUEUED', message: evil, metrics: { [evil]: 1 } });
    await waitForText(page, '<script>alert(3)</script>', 'message', evil);
    const injected = await page.evaluate(() => document.querySelectorAll('main img, main svg, main script, [onerror], [onload]').length);
    assert.equal(injected, 0);
    const href = await page.evaluate(() => document.querySelector('[data-job-id="<script>alert(3)</script>"] a[data-field="id"]')?.getAttribute('href'));
    assert.equal(href, `/jobs/${encodeURIComponent('<script>alert(3)</script>')}`);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
