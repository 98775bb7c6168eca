/**
 * A `DashboardSource` held in memory: for serving the dashboard without the services, and for tests
 * of the pages, which drive jobs through `putJob` and `updateJob`.
 */
import type { RobustnessReport } from '../../libs/evaluation/index.js';
import { summarizeReport, type DashboardSource, type JobView } from './dashboard-source.js';

/** A new job: `id` and `kind`, the rest defaulted (QUEUED, progress 0, now). */
export type JobInit = Pick<JobView, 'id' | 'kind'> & Partial<Omit<JobView, 'id' | 'kind'>>;

export interface InMemoryDashboardSource extends DashboardSource {
  /** Adds (or replaces) a job and tells subscribers. */
  putJob(init: JobInit): JobView;
  /**
   * Merges `patch` into job `id`, stamps `updated_at` (unless the patch sets it) and tells
   * subscribers. Throws a RangeError for an unknown id or a progress outside [0, 1].
   */
  updateJob(id: string, patch: Partial<Omit<JobView, 'id'>>): JobView;
  /** Adds (or replaces) a report. */
  putReport(report: RobustnessReport): void;
}

const copy = (job: JobView): JobView => ({ ...job, ...(job.metrics ? { metrics: { ...job.metrics } } : {}) });

function checkProgress(progress: number): void {
  if (!(progress >= 0 && progress <= 1)) throw new RangeError(`progress must be in [0, 1]; got ${progress}`);
}

export function createInMemoryDashboardSource(init: { jobs?: readonly JobInit[]; reports?: readonly RobustnessReport[] } = {}): InMemoryDashboardSource {
  const jobs = new Map<string, JobView>();
  const reports = new Map<string, RobustnessReport>();
  const listeners = new Set<(job: JobView) => void>();

  const notify = (job: JobView) => {
    for (const listener of [...listeners]) {
      // One failing listener (e.g. a closed stream) must not keep the others from hearing.
      try {
        listener(copy(job));
      } catch {
        listeners.delete(listener);
      }
    }
  };
  const newestFirst = <T extends { created_at: string }>(a: T, b: T) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0);

  const source: InMemoryDashboardSource = {
    async listJobs() {
      return [...jobs.values()].sort(newestFirst).map(copy);
    },
    async getJob(id) {
      const job = jobs.get(id);
      return job && copy(job);
    },
    async listReports() {
      return [...reports.values()].map(summarizeReport).sort(newestFirst);
    },
    async getReport(id) {
      return reports.get(id);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    putJob(job) {
      const now = new Date().toISOString();
      const view: JobView = { state: 'QUEUED', progress: 0, message: '', created_at: now, updated_at: now, ...job };
      checkProgress(view.progress);
      jobs.set(view.id, view);
      notify(view);
      return copy(view);
    },
    updateJob(id, patch) {
      const job = jobs.get(id);
      if (!job) throw new RangeError(`no job "${id}"`);
      const view: JobView = { ...job, updated_at: new Date().toISOString(), ...patch, id };
      checkProgress(view.progress);
      jobs.set(id, view);
      notify(view);
      return copy(view);
    },
    putReport(report) {
      reports.set(report.id, report);
    },
  };
  for (const job of init.jobs ?? []) source.putJob(job);
  for (const report of init.reports ?? []) source.putReport(report);
  return source;
}
