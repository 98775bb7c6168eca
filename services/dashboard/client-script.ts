/**
 * The dashboard's only script, served at /dashboard/app.js: it listens to the job event stream
 * (Server-Sent Events) and updates the rows of the job list, or the job page, in place. It writes
 * only `textContent`, `value`, `href` (built with encodeURIComponent) and data attributes, never
 * HTML, and formats fields exactly as `jobFieldText` (pages.ts) does.
 *
 * `#live[data-live]` says where the stream is: `connecting`, `ready` (the snapshot of current jobs
 * has arrived; later events are live changes) or `reconnecting` (EventSource retries by itself).
 */
import { EVENTS_PATH } from './pages.js';

export const DASHBOARD_SCRIPT = `'use strict';
(() => {
  const root = document.querySelector('[data-dashboard]');
  if (!root) return;
  const filter = root.getAttribute('data-job-filter');
  const live = document.getElementById('live');
  const seen = new Map();
  const setLive = (state, text) => { if (live) { live.setAttribute('data-live', state); live.textContent = text; } };
  const number = (v) => String(Number(Number(v).toPrecision(4)));
  const shortTime = (iso) => String(iso).replace('T', ' ').replace(/\\.\\d+Z$/, 'Z');
  const text = (job) => {
    const metrics = Object.entries(job.metrics || {}).map(([k, v]) => k + ' ' + (Number.isFinite(v) ? number(v) : '–')).join(' · ');
    return {
      id: job.id,
      kind: job.kind,
      state: job.state,
      progress: Math.round(Math.max(0, Math.min(1, job.progress)) * 100) + '%',
      epoch: job.epoch === undefined || job.epoch === null ? '–' : job.epochs === undefined || job.epochs === null ? String(job.epoch) : job.epoch + '/' + job.epochs,
      message: job.message || '–',
      metrics: metrics || '–',
      model_uri: job.model_uri || '–',
      created_at: shortTime(job.created_at),
      updated_at: shortTime(job.updated_at),
    };
  };
  const fill = (el, job) => {
    const t = text(job);
    el.setAttribute('data-state', job.state);
    for (const node of el.querySelectorAll('[data-field]')) {
      const name = node.getAttribute('data-field');
      if (name === 'progress-bar') node.value = Math.max(0, Math.min(1, job.progress));
      else if (name === 'report') {
        if (job.report_id) {
          node.href = '/reports/' + encodeURIComponent(job.report_id);
          node.hidden = false;
        } else node.hidden = true;
      } else if (Object.prototype.hasOwnProperty.call(t, name)) node.textContent = t[name];
      if (name === 'id' && node.tagName === 'A') node.href = '/jobs/' + encodeURIComponent(job.id);
    }
  };
  const find = (id) => {
    for (const el of root.querySelectorAll('[data-job-id]')) if (el.getAttribute('data-job-id') === id) return el;
    return null;
  };
  const update = (job) => {
    if (!job || typeof job.id !== 'string') return;
    if (filter !== null && job.id !== filter) return;
    const last = seen.get(job.id);
    if (last && job.updated_at < last) return;
    seen.set(job.id, job.updated_at);
    let el = find(job.id);
    if (!el) {
      const template = document.getElementById('job-row');
      const body = document.querySelector('#jobs tbody');
      if (!template || !body) return;
      el = template.content.firstElementChild.cloneNode(true);
      el.setAttribute('data-job-id', job.id);
      body.prepend(el);
      const empty = document.getElementById('no-jobs');
      if (empty) empty.hidden = true;
    }
    fill(el, job);
  };
  const url = '${EVENTS_PATH}' + (filter !== null ? '?job=' + encodeURIComponent(filter) : '');
  const events = new EventSource(url);
  events.addEventListener('job', (e) => {
    try { update(JSON.parse(e.data)); } catch (error) { setLive('error', 'bad event'); }
  });
  events.addEventListener('ready', () => setLive('ready', 'live'));
  events.addEventListener('error', () => setLive('reconnecting', 'reconnecting…'));
})();
`;
