/**
 * The dashboard's `DashboardSource` (services/dashboard) over the servers' job store and report
 * index: Harden and evaluation jobs as `JobView`s, live through the store's event subscription, and
 * reports from the index (full report.json from the artifact store for a report's page).
 */
import { readReport, type RobustnessReport } from '../../libs/evaluation/index.js';
import { type JobRecord, type JobStore, type ReportIndex } from '../../libs/jobs/index.js';
import { openStore } from '../../libs/storage/index.js';
import { summarizeReport, type DashboardSource, type JobKind, type JobView } from '../dashboard/index.js';
import type { ReportSummary } from '../evaluation/index.js';

const KINDS: readonly JobKind[] = ['harden', 'evaluate'];

function jobView(job: JobRecord<Record<string, unknown>, Record<string, unknown>>): JobView {
  const o = job.outputs;
  const p = job.progress;
  const progress = job.state === 'SUCCEEDED' ? 1 : Math.min(1, Math.max(0, Number.isFinite(p.fraction) ? (p.fraction as number) : 0));
  const message = job.error?.message ?? (job.state === 'QUEUED' ? 'waiting for a free slot' : job.state === 'RUNNING' ? (p.phase ?? 'running') : job.state.toLowerCase());
  const metrics: Record<string, number> = {};
  for (const [from, to] of [
    ['cleanAccuracy', 'clean_accuracy'],
    ['robustAccuracy', 'robust_accuracy'],
  ] as const) {
    if (typeof o[from] === 'number') metrics[to] = o[from] as number;
  }
  if (typeof p.imagesPerSecond === 'number' && job.state === 'RUNNING') metrics.images_per_second = p.imagesPerSecond;
  const modelUri = typeof o.modelUri === 'string' ? o.modelUri : typeof job.spec.modelUri === 'string' ? job.spec.modelUri : undefined;
  return {
    id: job.id,
    kind: job.kind as JobKind,
    state: job.state,
    progress,
    message,
    ...(p.epoch ? { epoch: p.epoch } : {}),
    ...(p.epochs ? { epochs: p.epochs } : {}),
    ...(typeof o.reportId === 'string' ? { report_id: o.reportId } : {}),
    ...(modelUri ? { model_uri: modelUri } : {}),
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    ...(Object.keys(metrics).length > 0 ? { metrics } : {}),
  };
}

export function createJobDashboardSource(jobs: JobStore, reports: ReportIndex): DashboardSource {
  const record = (id: string) => jobs.find<Record<string, unknown>>(id) as JobRecord<Record<string, unknown>, Record<string, unknown>> | undefined;
  return {
    async listJobs() {
      const all = KINDS.flatMap((kind) => jobs.list<Record<string, unknown>>({ kind, pageSize: 500 }).jobs);
      return all
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
        .map((j) => jobView(j as JobRecord<Record<string, unknown>, Record<string, unknown>>));
    },
    async getJob(id) {
      const job = record(id);
      return job && KINDS.includes(job.kind as JobKind) ? jobView(job) : undefined;
    },
    async listReports() {
      return reports.list<ReportSummary>({ pageSize: 500 }).reports.map((r) => summarizeReport({ ...r.summary, examples: [] } as RobustnessReport));
    },
    async getReport(id) {
      const entry = reports.find(id);
      if (!entry) return undefined;
      return readReport(openStore(entry.uri.replace(/\/report\.json$/, '')));
    },
    subscribe(listener) {
      return jobs.subscribe('*', (event) => {
        const job = record(event.jobId);
        if (job && KINDS.includes(job.kind as JobKind)) listener(jobView(job));
      });
    },
  };
}
