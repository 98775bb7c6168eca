/**
 * What the dashboard shows and where it gets it: a `DashboardSource` lists jobs and reports and
 * pushes job updates. The services implement it over their job store and report store; tests and
 * standalone use have `createInMemoryDashboardSource`. Field names are snake_case like report.json
 * and the job events of the services, so a `JobView` can be sent to browsers as is.
 */
import type { RobustnessReport } from '../../libs/evaluation/index.js';

import { JOB_STATES, type JobState } from '../../libs/jobs/index.js';

/** QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED: libs/jobs' states (ARCHITECTURE.md, "Jobs"). */
export { JOB_STATES, type JobState };
export type JobKind = 'harden' | 'evaluate';

export interface JobView {
  id: string;
  kind: JobKind;
  state: JobState;
  /** Fraction done, 0..1. */
  progress: number;
  /** What the job is doing now, or why it ended (one line, for people). */
  message: string;
  /** Harden jobs: the current (1-based) epoch and the number of epochs. */
  epoch?: number;
  epochs?: number;
  /** The report this job produced (evaluate jobs, and harden jobs once evaluated). */
  report_id?: string;
  /** The model this job trains or evaluates. */
  model_uri?: string;
  /** ISO 8601 timestamps. */
  created_at: string;
  updated_at: string;
  /** Latest numbers worth showing, e.g. `{ loss: 0.9, clean_accuracy: 0.8, robust_accuracy: 0.4 }`. */
  metrics?: Record<string, number>;
}

/** One line of the report list. */
export interface ReportSummary {
  id: string;
  created_at: string;
  model_uri: string;
  model_sha256: string;
  arch: string | null;
  dataset: string;
  split: string;
  n: number;
  suite: string;
  eps: number;
  norm: string;
  clean_accuracy: number;
  robust_accuracy: number;
  /** The Harden job whose model this report evaluates, where known. */
  job_id?: string;
}

export interface DashboardSource {
  /** Every job to list, newest first. */
  listJobs(): Promise<JobView[]>;
  getJob(id: string): Promise<JobView | undefined>;
  /** Every report to list, newest first. */
  listReports(): Promise<ReportSummary[]>;
  getReport(id: string): Promise<RobustnessReport | undefined>;
  /** Calls `listener` with a job's new view after each change (state, progress, message, report); returns the unsubscribe function. */
  subscribe(listener: (job: JobView) => void): () => void;
}

export function summarizeReport(report: RobustnessReport): ReportSummary {
  return {
    id: report.id,
    created_at: report.created_at,
    model_uri: report.model.uri,
    model_sha256: report.model.sha256,
    arch: report.model.arch,
    dataset: report.dataset.spec,
    split: report.dataset.split,
    n: report.dataset.n,
    suite: report.suite,
    eps: report.eps,
    norm: report.norm,
    clean_accuracy: report.clean_accuracy,
    robust_accuracy: report.robust_accuracy,
    ...(report.training?.job_id ? { job_id: report.training.job_id } : {}),
  };
}
