/**
 * services/server — the composition behind `harden serve`: any of the three services on one RPC
 * server with health, reflection and the dashboard, over one job database and one artifact store.
 */
export { defaultDbPath, SERVICE_NAMES, startHardenServer, type HardenServer, type HardenServerOptions, type ServiceName } from './harden-server.js';
export { createJobDashboardSource } from './job-store-dashboard.js';
