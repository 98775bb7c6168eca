import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleReport } from '../../libs/evaluation/report-html.fixture.js';
import { createInMemoryDashboardSource, type JobView } from './index.js';

describe('createInMemoryDashboardSource', () => {
  it('lists jobs newest first, with defaults filled in', async () => {
    const source = createInMemoryDashboardSource({
      jobs: [
        { id: 'a', kind: 'harden', created_at: '2025-01-01T00:00:00.000Z' },
        { id: 'b', kind: 'evaluate', created_at: '2025-01-02T00:00:00.000Z' },
      ],
    });
    const jobs = await source.listJobs();
    assert.deepEqual(jobs.map((j) => j.id), ['b', 'a']);
    assert.equal(jobs[1].state, 'QUEUED');
    assert.equal(jobs[1].progress, 0);
    assert.equal(await source.getJob('nope'), undefined);
  });

  it('tells subscribers about every change until they unsubscribe', async () => {
    const source = createInMemoryDashboardSource();
    const seen: JobView[] = [];
    const unsubscribe = source.subscribe((job) => seen.push(job));
    source.putJob({ id: 'j', kind: 'harden', epochs: 3 });
    const running = source.updateJob('j', { state: 'RUNNING', progress: 0.5, epoch: 2, metrics: { loss: 1.5 } });
    assert.equal(running.epochs, 3, 'a patch keeps the other fields');
    unsubscribe();
    source.updateJob('j', { progress: 0.75 });
    assert.deepEqual(seen.map((j) => [j.state, j.progress]), [['QUEUED', 0], ['RUNNING', 0.5]]);
    // Views are copies: changing one changes neither the source nor other listeners' views.
    seen[1].metrics!.loss = 99;
    assert.equal((await source.getJob('j'))!.metrics!.loss, 1.5);
    assert.equal((await source.getJob('j'))!.progress, 0.75);
  });

  it('a throwing listener is dropped and does not stop the others', () => {
    const source = createInMemoryDashboardSource();
    let calls = 0;
    source.subscribe(() => {
      throw new Error('closed stream');
    });
    source.subscribe(() => calls++);
    source.putJob({ id: 'j', kind: 'evaluate' });
    source.updateJob('j', { progress: 1 });
    assert.equal(calls, 2);
  });

  it('rejects unknown jobs and progress outside [0, 1]', () => {
    const source = createInMemoryDashboardSource({ jobs: [{ id: 'j', kind: 'harden' }] });
    assert.throws(() => source.updateJob('x', { progress: 0.1 }), /no job "x"/);
    assert.throws(() => source.updateJob('j', { progress: 1.5 }), /progress must be in \[0, 1\]/);
    assert.throws(() => source.putJob({ id: 'k', kind: 'harden', progress: Number.NaN }), /progress/);
  });

  it('keeps reports and lists their summaries', async () => {
    const report = sampleReport();
    const source = createInMemoryDashboardSource({ reports: [report, sampleReport({ id: 'older', created_at: '2024-01-01T00:00:00.000Z' })] });
    const list = await source.listReports();
    assert.deepEqual(list.map((r) => r.id), ['report-0001', 'older']);
    assert.deepEqual(list[0], {
      id: 'report-0001',
      created_at: report.created_at,
      model_uri: report.model.uri,
      model_sha256: report.model.sha256,
      arch: 'small-cnn',
      dataset: 'idx:/data/tiny',
      split: 'test',
      n: 30,
      suite: 'standard',
      eps: 0.3,
      norm: 'Linf',
      clean_accuracy: 0.9,
      robust_accuracy: 0.2333333,
      job_id: 'job-42',
    });
    assert.equal(await source.getReport('report-0001'), report);
  });
});
