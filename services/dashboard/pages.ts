/**
 * The dashboard's HTML pages: the job list, a job, and the report list (a report's own page is
 * libs/evaluation's `renderReportHtml`). Server-rendered, so each page is complete without script;
 * `/dashboard/app.js` (client-script.ts) then keeps job rows live from the event stream, filling the
 * same `data-field` elements with the same formatting as `jobFieldText` here.
 *
 * Every string from a job or a report is escaped; links are built from ids with encodeURIComponent.
 */
import { escapeHtml, formatMetric } from '../../libs/evaluation/index.js';
import type { JobView, ReportSummary } from './dashboard-source.js';

export const DASHBOARD_PATH = '/dashboard';
export const EVENTS_PATH = '/dashboard/events';
export const SCRIPT_PATH = '/dashboard/app.js';

export const jobHref = (id: string) => `/jobs/${encodeURIComponent(id)}`;
export const reportHref = (id: string) => `/reports/${encodeURIComponent(id)}`;

/** `2025-01-02T03:04:05.678Z` → `2025-01-02 03:04:05Z`. */
export function shortTime(iso: string): string {
  return String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The text of each live field of a job, as both the server and the client script write it. */
export function jobFieldText(job: JobView): Record<'id' | 'kind' | 'state' | 'progress' | 'epoch' | 'message' | 'metrics' | 'model_uri' | 'created_at' | 'updated_at', string> {
  const metrics = Object.entries(job.metrics ?? {})
    .map(([k, v]) => `${k} ${formatMetric(v, 'number')}`)
    .join(' · ');
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    progress: `${Math.round(Math.max(0, Math.min(1, job.progress)) * 100)}%`,
    epoch: job.epoch === undefined ? '–' : job.epochs === undefined ? String(job.epoch) : `${job.epoch}/${job.epochs}`,
    message: job.message || '–',
    metrics: metrics || '–',
    model_uri: job.model_uri ?? '–',
    created_at: shortTime(job.created_at),
    updated_at: shortTime(job.updated_at),
  };
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
header{display:flex;align-items:baseline;gap:20px;margin-bottom:14px}
h1{font-size:20px;margin:0}h2{font-size:16px;margin:0 0 10px}
nav a{color:#2563eb;margin-right:14px;text-decoration:none}
section{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:16px 18px;margin:0 0 16px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:middle}
th{color:#4b5563;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.num{text-align:right}
a{color:#2563eb}
.mono,code{font-family:"DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.state{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;background:#e5e7eb}
[data-state=RUNNING] .state{background:#dbeafe;color:#1d4ed8}[data-state=SUCCEEDED] .state{background:#dcfce7;color:#15803d}
[data-state=FAILED] .state{background:#fee2e2;color:#b91c1c}[data-state=CANCELLED] .state{background:#f3f4f6;color:#6b7280}
progress{width:100px;height:10px;vertical-align:middle}
.nowrap{white-space:nowrap;word-break:normal}
#live{font-size:12px;color:#6b7280}#live[data-live=ready]{color:#15803d}
.empty{color:#6b7280}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0}dt{color:#4b5563}dd{margin:0}
`;

function page(title: string, body: string, options: { live?: boolean; jobFilter?: string } = {}): string {
  const attrs = options.jobFilter === undefined ? '' : ` data-job-filter="${escapeHtml(options.jobFilter)}"`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · harden</title>
<style>${CSS}</style>
${options.live ? `<script src="${SCRIPT_PATH}" defer></script>` : ''}
</head>
<body>
<main data-dashboard${attrs}>
<header><h1>harden</h1><nav><a href="${DASHBOARD_PATH}">Jobs</a><a href="/reports">Reports</a></nav>${options.live ? '<span id="live" data-live="connecting">connecting…</span>' : ''}</header>
${body}
</main>
</body>
</html>
`;
}

function reportLink(job: JobView): string {
  return job.report_id
    ? `<a data-field="report" href="${escapeHtml(reportHref(job.report_id))}">report</a>`
    : '<a data-field="report" hidden>report</a>';
}

/** One row of the job table (also the client's template, for jobs that appear later). */
export function jobRow(job: JobView): string {
  const t = jobFieldText(job);
  const progress = Math.max(0, Math.min(1, job.progress));
  return (
    `<tr data-job-id="${escapeHtml(job.id)}" data-state="${escapeHtml(job.state)}">` +
    `<td><a class="mono nowrap" data-field="id" href="${escapeHtml(jobHref(job.id))}">${escapeHtml(t.id)}</a></td>` +
    `<td data-field="kind">${escapeHtml(t.kind)}</td>` +
    `<td><span class="state" data-field="state">${escapeHtml(t.state)}</span></td>` +
    `<td class="nowrap"><progress data-field="progress-bar" max="1" value="${progress}"></progress> <span data-field="progress">${escapeHtml(t.progress)}</span></td>` +
    `<td class="num" data-field="epoch">${escapeHtml(t.epoch)}</td>` +
    `<td data-field="message">${escapeHtml(t.message)}</td>` +
    `<td data-field="metrics">${escapeHtml(t.metrics)}</td>` +
    `<td>${reportLink(job)}</td>` +
    `<td class="nowrap" data-field="updated_at">${escapeHtml(t.updated_at)}</td></tr>`
  );
}

const TEMPLATE_JOB: JobView = { id: '', kind: 'harden', state: 'QUEUED', progress: 0, message: '', created_at: '', updated_at: '' };

export function renderJobsPage(jobs: readonly JobView[]): string {
  const body = `<section><h2>Jobs</h2>
<table id="jobs"><thead><tr><th>job</th><th>kind</th><th>state</th><th>progress</th><th class="num">epoch</th><th>message</th><th>metrics</th><th>report</th><th>updated</th></tr></thead>
<tbody>${jobs.map(jobRow).join('\n')}</tbody></table>
<p class="empty" id="no-jobs"${jobs.length ? ' hidden' : ''}>No jobs yet. Submit one with <code>harden submit</code>.</p>
<template id="job-row">${jobRow(TEMPLATE_JOB)}</template>
</section>`;
  return page('Jobs', body, { live: true });
}

export function renderJobPage(job: JobView): string {
  const t = jobFieldText(job);
  const progress = Math.max(0, Math.min(1, job.progress));
  const body = `<section data-job-id="${escapeHtml(job.id)}" data-state="${escapeHtml(job.state)}"><h2>Job <span class="mono" data-field="id">${escapeHtml(t.id)}</span></h2>
<dl>
<dt>kind</dt><dd data-field="kind">${escapeHtml(t.kind)}</dd>
<dt>state</dt><dd><span class="state" data-field="state">${escapeHtml(t.state)}</span></dd>
<dt>progress</dt><dd><progress data-field="progress-bar" max="1" value="${progress}"></progress> <span data-field="progress">${escapeHtml(t.progress)}</span></dd>
<dt>epoch</dt><dd data-field="epoch">${escapeHtml(t.epoch)}</dd>
<dt>message</dt><dd data-field="message">${escapeHtml(t.message)}</dd>
<dt>metrics</dt><dd data-field="metrics">${escapeHtml(t.metrics)}</dd>
<dt>model</dt><dd class="mono" data-field="model_uri">${escapeHtml(t.model_uri)}</dd>
<dt>report</dt><dd>${reportLink(job)}</dd>
<dt>created</dt><dd data-field="created_at">${escapeHtml(t.created_at)}</dd>
<dt>updated</dt><dd data-field="updated_at">${escapeHtml(t.updated_at)}</dd>
</dl></section>`;
  return page(`Job ${job.id}`, body, { live: true, jobFilter: job.id });
}

export function renderReportsPage(reports: readonly ReportSummary[]): string {
  const rows = reports
    .map(
      (r) =>
        `<tr data-report-id="${escapeHtml(r.id)}"><td><a class="mono" href="${escapeHtml(reportHref(r.id))}">${escapeHtml(r.id)}</a></td><td>${escapeHtml(shortTime(r.created_at))}</td>` +
        `<td>${escapeHtml(r.arch ?? '–')} <span class="mono" title="${escapeHtml(r.model_sha256)}">${escapeHtml(r.model_uri)}</span></td>` +
        `<td>${escapeHtml(r.dataset)} (${escapeHtml(r.split)}, ${escapeHtml(formatMetric(r.n, 'int'))})</td><td>${escapeHtml(r.suite)}</td>` +
        `<td class="num">${escapeHtml(formatMetric(r.eps, 'number'))} ${escapeHtml(r.norm)}</td>` +
        `<td class="num">${escapeHtml(formatMetric(r.clean_accuracy, 'percent'))}</td><td class="num">${escapeHtml(formatMetric(r.robust_accuracy, 'percent'))}</td>` +
        `<td>${r.job_id ? `<a class="mono" href="${escapeHtml(jobHref(r.job_id))}">${escapeHtml(r.job_id)}</a>` : '–'}</td></tr>`,
    )
    .join('\n');
  const body = `<section><h2>Reports</h2>
<table id="reports"><thead><tr><th>report</th><th>created</th><th>model</th><th>data</th><th>suite</th><th class="num">ε</th><th class="num">clean</th><th class="num">robust</th><th>job</th></tr></thead>
<tbody>${rows}</tbody></table>${reports.length ? '' : '<p class="empty">No reports yet.</p>'}</section>`;
  return page('Reports', body);
}

export function renderMessagePage(title: string, message: string): string {
  return page(title, `<section><h2>${escapeHtml(title)}</h2><p>${escapeHtml(message)}</p></section>`);
}
