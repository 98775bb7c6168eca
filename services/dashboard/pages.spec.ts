import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobFieldText, renderJobPage, renderJobsPage, renderReportsPage, summarizeReport, type JobView } from './index.js';
import { sampleReport } from '../../libs/evaluation/report-html.fixture.js';

const job: JobView = {
  id: 'job-1',
  kind: 'harden',
  state: 'RUNNING',
  progress: 0.426,
  message: 'epoch 3: CAG + D2R',
  epoch: 3,
  epochs: 10,
  report_id: 'rep/1',
  model_uri: 'file:///runs/1/model',
  created_at: '2025-01-02T03:04:05.678Z',
  updated_at: '2025-01-02T03:05:00.000Z',
  metrics: { loss: 1.23456, robust_accuracy: 0.4 },
};

describe('dashboard pages', () => {
  it('jobFieldText: the text of each live field', () => {
    assert.deepEqual(jobFieldText(job), {
      id: 'job-1',
      kind: 'harden',
      state: 'RUNNING',
      progress: '43%',
      epoch: '3/10',
      message: 'epoch 3: CAG + D2R',
      metrics: 'loss 1.235 · robust_accuracy 0.4',
      model_uri: 'file:///runs/1/model',
      created_at: '2025-01-02 03:04:05Z',
      updated_at: '2025-01-02 03:05:00Z',
    });
    const bare = jobFieldText({ ...job, epoch: undefined, epochs: undefined, metrics: undefined, message: '', model_uri: undefined });
    assert.deepEqual([bare.epoch, bare.metrics, bare.message, bare.model_uri], ['–', '–', '–', '–']);
  });

  it('the job list links each job and its report, and loads only its own script', () => {
    const html = renderJobsPage([job]);
    assert.match(html, /<tr data-job-id="job-1" data-state="RUNNING">/);
    assert.match(html, /href="\/jobs\/job-1"/);
    assert.match(html, /<a data-field="report" href="\/reports\/rep%2F1">report<\/a>/);
    assert.match(html, /<progress data-field="progress-bar" max="1" value="0.426">/);
    assert.match(html, /<template id="job-row">/);
    assert.deepEqual([...html.matchAll(/<script[^>]*>/g)].map((m) => m[0]), ['<script src="/dashboard/app.js" defer>']);
    assert.match(html, /id="no-jobs" hidden/);
    assert.doesNotMatch(renderJobsPage([]), /id="no-jobs" hidden/);
  });

  it('the job page filters the live stream to its job', () => {
    const html = renderJobPage(job);
    assert.match(html, /<main data-dashboard data-job-filter="job-1">/);
    assert.match(html, /<section data-job-id="job-1" data-state="RUNNING">/);
    assert.match(html, /data-field="model_uri">file:\/\/\/runs\/1\/model</);
  });

  it('escapes job and report strings', () => {
    const evil = '"><script>alert(1)</script>';
    const html = renderJobsPage([{ ...job, id: evil, message: evil, report_id: evil, metrics: { [evil]: 1 } }]) + renderJobPage({ ...job, id: evil, model_uri: evil });
    const reports = renderReportsPage([{ ...summarizeReport(sampleReport()), id: evil, model_uri: evil, arch: evil, dataset: evil, job_id: evil }]);
    for (const page of [html, reports]) {
      assert.equal(page.match(/<script/g)?.length ?? 0, page === reports ? 0 : 2, 'only the page script tags');
      assert.doesNotMatch(page, /"><script>/);
    }
    assert.match(html, /href="\/reports\/%22%3E%3Cscript%3Ealert\(1\)%3C%2Fscript%3E"/);
  });

  it('the report list shows each report with its numbers and job', () => {
    const html = renderReportsPage([summarizeReport(sampleReport())]);
    assert.match(html, /href="\/reports\/report-0001"/);
    assert.match(html, /href="\/jobs\/job-42"/);
    assert.match(html, />90.0%</);
    assert.match(html, />23.3%</);
  });
});
