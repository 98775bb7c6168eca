/**
 * services/dashboard — web pages over the jobs and reports: the job list with live progress
 * (Server-Sent Events), each job, the report list and each report's page. The services implement
 * `DashboardSource` over their stores and mount `createDashboardHandler` on their HTTP/2 server;
 * `startDashboardServer` serves it alone over node:http.
 */
export {
  JOB_STATES,
  summarizeReport,
  type DashboardSource,
  type JobKind,
  type JobState,
  type JobView,
  type ReportSummary,
} from './dashboard-source.js';
export { createInMemoryDashboardSource, type InMemoryDashboardSource, type JobInit } from './in-memory-source.js';
export { createDashboardHandler, type DashboardHandler, type DashboardHandlerOptions, type DashboardRequest, type DashboardResponse } from './handler.js';
export { startDashboardServer, type DashboardServer, type DashboardServerOptions } from './server.js';
export { DASHBOARD_PATH, EVENTS_PATH, jobFieldText, renderJobPage, renderJobsPage, renderReportsPage } from './pages.js';
