import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveBackendChoice } from '../../libs/engine/index.js';
import { clientTokenFromText, readTokenFiles, type TokenEntry } from '../../libs/rpc/index.js';
import { parseStoreUri } from '../../libs/storage/index.js';
import { createLogger, defaultServiceName, isLogLevel, shutdownTelemetry, startTelemetry } from '../../libs/telemetry/index.js';
import { SERVICE_NAMES, startHardenServer, type ServiceName } from '../../services/server/index.js';
import { CliError } from '../cli-error.js';
import { nonNegativeInt, positive, positiveInt } from '../flags.js';
import { printJson, printLine, progress } from '../output.js';

export const serveHelp = `harden serve [--service all|training|adversarial|evaluation[,…]] [--host H] [--port P] [--store URI]
             [--db PATH | --state DIR] [--evaluation-url URL] [--tls-cert FILE --tls-key FILE]
             [--backend B] [--concurrency N] [--queue-limit N] [--attack-workers N] [--grace S]
             [--allow-uri URI …] [--no-dashboard] [--token-file F …] [--tls-client-ca FILE]
             [--worker-key-file F] [--allowed-host NAME …] [--health-port P] [--insecure] [--json]
  Runs the gRPC services (all three by default) on one port: gRPC, gRPC-Web and Connect over HTTP/2
  (h2c, or TLS with --tls-cert/--tls-key) and HTTP/1.1, with grpc.health.v1 health per service,
  server reflection, and the dashboard at /. Defaults: host 127.0.0.1, port 50051, store
  file://./.harden ($HARDEN_STORE), job database <store>/jobs.sqlite (--state DIR: DIR/jobs.sqlite),
  backend auto. --service training alone needs --evaluation-url ($HARDEN_EVALUATION_URL).
  SIGINT/SIGTERM shut down gracefully: running jobs stop after their current batch and resume
  from their latest checkpoint when the server starts again. --json prints {url, port, services,
  store_uri, db_path} once it listens. HARDEN_RUNNER=kubernetes trains each Harden job in its own
  Kubernetes Job ("harden worker", HARDEN_K8S_* settings), and with HARDEN_EVAL_SHARDS=N runs each
  evaluation as an Indexed Job of N pods, one slice of the test set each, merged into one report;
  OTEL_EXPORTER_OTLP_ENDPOINT turns on OpenTelemetry traces and metrics.
  Requests name models and data by location, read with the server's rights. On loopback any
  location goes; bound to another address (or given --allow-uri), requests may only name the
  store and the --allow-uri locations (repeatable; also $HARDEN_ALLOW_URIS, comma-separated:
  file:///srv/models, s3://bucket/models, /data/cifar10); others get PERMISSION_DENIED.
  Credentials: --token-file F (repeatable; $HARDEN_TOKEN_FILE; a file, or a folder such as a
  mounted Kubernetes Secret, of "ROLE TOKEN [NAME]" lines, roles read and submit) and/or
  --tls-client-ca FILE (client certificates signed by that CA; role from the subject's OU, read or
  submit, else read). With either, every RPC but the health check, and the dashboard, need a
  caller whose role allows it (UNAUTHENTICATED without one, PERMISSION_DENIED with the wrong one).
  Worker pods get per-job tokens signed with --worker-key-file ($HARDEN_WORKER_KEY_FILE; random
  when absent, so pods outlive no restart). Without credentials the server only binds loopback,
  unless --insecure. A training server calling another server's evaluation service sends the
  token in $HARDEN_EVALUATION_TOKEN_FILE. Requests must name this server's host (loopback names, the --host address,
  --allowed-host NAME …, $HARDEN_ALLOWED_HOSTS): others get PERMISSION_DENIED (RPCs) or 421.
  TLS files may come from $HARDEN_TLS_CERT, $HARDEN_TLS_KEY and $HARDEN_TLS_CLIENT_CA; $HARDEN_CA_FILE
  is the CA trusted when calling another server over https (the evaluation service).
  --health-port P ($HARDEN_HEALTH_PORT) also serves the health check alone, in plaintext and open,
  on port P: for Kubernetes' gRPC probes, which speak neither TLS nor tokens.`;

const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

function parseServices(text: string): ServiceName[] {
  if (text === 'all') return [...SERVICE_NAMES];
  const names = text.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(SERVICE_NAMES as readonly string[]).includes(n)) throw new CliError(`--service: unknown service "${n}"; expected all or ${SERVICE_NAMES.join(', ')} (comma-separated)`);
  }
  return names as ServiceName[];
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      service: { type: 'string', default: 'all' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      store: { type: 'string' },
      db: { type: 'string' },
      state: { type: 'string' },
      'evaluation-url': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      backend: { type: 'string' },
      concurrency: { type: 'string' },
      'queue-limit': { type: 'string' },
      'attack-workers': { type: 'string' },
      grace: { type: 'string' },
      'allow-uri': { type: 'string', multiple: true },
      'no-dashboard': { type: 'boolean', default: false },
      'token-file': { type: 'string', multiple: true },
      'tls-client-ca': { type: 'string' },
      'worker-key-file': { type: 'string' },
      'allowed-host': { type: 'string', multiple: true },
      'health-port': { type: 'string' },
      insecure: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const services = parseServices(values.service ?? 'all');
  const port = nonNegativeInt('--port', values.port) ?? 50051;
  if (port > 65535) throw new CliError(`--port must be at most 65535; got "${values.port}"`);
  values['tls-cert'] ??= process.env.HARDEN_TLS_CERT?.trim() || undefined;
  values['tls-key'] ??= process.env.HARDEN_TLS_KEY?.trim() || undefined;
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new CliError('--tls-cert and --tls-key go together ($HARDEN_TLS_CERT and $HARDEN_TLS_KEY too)');
  for (const flag of ['tls-cert', 'tls-key'] as const) {
    const file = values[flag];
    if (file !== undefined) {
      try {
        readFileSync(file);
      } catch (error) {
        throw new CliError(`--${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, 2, { cause: error });
      }
    }
  }
  const healthPortText = values['health-port'] ?? (process.env.HARDEN_HEALTH_PORT?.trim() || undefined);
  const healthPort = nonNegativeInt('--health-port', healthPortText);
  if (healthPort !== undefined && healthPort > 65535) throw new CliError(`--health-port must be at most 65535; got "${healthPortText}"`);
  if (healthPort !== undefined && healthPort !== 0 && healthPort === port) throw new CliError(`--health-port ${healthPort}: that is the RPC port; give another`);
  const caFile = process.env.HARDEN_CA_FILE?.trim() || undefined;
  if (values.db !== undefined && values.state !== undefined) throw new CliError('give --db PATH or --state DIR, not both');
  const evaluationUrl = values['evaluation-url'] ?? (process.env.HARDEN_EVALUATION_URL?.trim() || undefined);
  if (services.includes('training') && !services.includes('evaluation') && !evaluationUrl) {
    throw new CliError('--service training needs --evaluation-url HOST:PORT (or HARDEN_EVALUATION_URL): finished jobs ask the evaluation service for their report');
  }
  const backend = resolveBackendChoice(values.backend);
  const concurrency = positiveInt('--concurrency', values.concurrency);
  const queueLimit = nonNegativeInt('--queue-limit', values['queue-limit']);
  const attackWorkers = positiveInt('--attack-workers', values['attack-workers']);
  const graceSeconds = positive('--grace', values.grace) ?? 30;
  const allowedLocations = [...(values['allow-uri'] ?? []), ...(process.env.HARDEN_ALLOW_URIS ?? '').split(',')].map((u) => u.trim()).filter((u) => u !== '');
  for (const uri of allowedLocations) {
    try {
      parseStoreUri(uri);
    } catch (error) {
      throw new CliError(`--allow-uri ${JSON.stringify(uri)}: ${(error as Error).message}`, 2, { cause: error });
    }
  }
  const tokenFiles = [...(values['token-file'] ?? []), ...(process.env.HARDEN_AUTH_TOKENS?.trim() ? [process.env.HARDEN_AUTH_TOKENS.trim()] : [])];
  let tokens: TokenEntry[];
  try {
    tokens = readTokenFiles(tokenFiles);
  } catch (error) {
    throw new CliError(`--token-file: ${(error as Error).message}`, 2, { cause: error });
  }
  if (tokenFiles.length > 0 && tokens.length === 0) throw new CliError(`--token-file: ${tokenFiles.join(', ')} hold no token`, 2);
  const clientCa = values['tls-client-ca'] ?? (process.env.HARDEN_TLS_CLIENT_CA?.trim() || undefined);
  if (clientCa !== undefined && values['tls-cert'] === undefined) throw new CliError('--tls-client-ca needs --tls-cert and --tls-key (client certificates are a TLS feature)');
  const workerKeyFile = values['worker-key-file'] ?? (process.env.HARDEN_WORKER_KEY_FILE?.trim() || undefined);
  let workerKey: Buffer | undefined;
  if (workerKeyFile !== undefined) {
    try {
      workerKey = readFileSync(workerKeyFile);
    } catch (error) {
      throw new CliError(`--worker-key-file ${workerKeyFile}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, 2, { cause: error });
    }
    if (workerKey.length < 16) throw new CliError(`--worker-key-file ${workerKeyFile}: the key needs at least 16 bytes`, 2);
  }
  const evaluationTokenFile = process.env.HARDEN_EVALUATION_TOKEN_FILE?.trim() || undefined;
  let evaluationToken: string | undefined;
  if (evaluationTokenFile !== undefined) {
    try {
      evaluationToken = clientTokenFromText(readFileSync(evaluationTokenFile, 'utf8'));
    } catch (error) {
      throw new CliError(`HARDEN_EVALUATION_TOKEN_FILE ${evaluationTokenFile}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, 2, { cause: error });
    }
  }
  const allowedHosts = [...(values['allowed-host'] ?? []), ...(process.env.HARDEN_ALLOWED_HOSTS ?? '').split(',')].map((h) => h.trim()).filter((h) => h !== '');
  const host = values.host ?? '127.0.0.1';
  if (tokens.length === 0 && clientCa === undefined && !LOOPBACK_HOSTS.includes(host) && !values.insecure) {
    throw new CliError(`--host ${host}: refusing to serve beyond loopback without authentication; give --token-file F and/or --tls-client-ca FILE (see the README, "Security"), or --insecure to serve anyone who reaches the port`, 2);
  }
  const level = process.env.HARDEN_LOG_LEVEL?.trim().toLowerCase();
  const logger = createLogger('serve', isLogLevel(level) ? { level } : {});
  // OpenTelemetry, when the OTEL_* variables ask for it (a no-op if `--import …/register.js` started it).
  const telemetry = startTelemetry({ serviceName: defaultServiceName(['serve', '--service', values.service ?? 'all']) });
  if (telemetry.enabled) logger.info('telemetry on', { service_name: telemetry.serviceName, reason: telemetry.reason });

  let server;
  try {
    server = await startHardenServer({
      services,
      host,
      port,
      ...(values['tls-cert'] && values['tls-key'] ? { tls: { certFile: values['tls-cert'], keyFile: values['tls-key'], ...(clientCa ? { clientCaFile: clientCa } : {}) } } : {}),
      auth: { tokens, ...(workerKey ? { workerKey } : {}) },
      allowedHosts,
      insecure: values.insecure ?? false,
      ...(evaluationToken ? { evaluationToken } : {}),
      ...(caFile ? { evaluationCaFile: caFile } : {}),
      ...(healthPort !== undefined ? { healthPort } : {}),
      ...(values.store ?? process.env.HARDEN_STORE ? { storeUri: values.store ?? process.env.HARDEN_STORE } : {}),
      ...(values.db ? { dbPath: values.db } : values.state ? { dbPath: join(values.state, 'jobs.sqlite') } : {}),
      ...(evaluationUrl ? { evaluationUrl } : {}),
      backend,
      ...(concurrency !== undefined ? { trainingConcurrency: concurrency } : {}),
      ...(queueLimit !== undefined ? { queueLimit } : {}),
      ...(attackWorkers !== undefined ? { attackWorkers } : {}),
      shutdownGraceMs: graceSeconds * 1000,
      allowedLocations,
      dashboard: !values['no-dashboard'],
      logger,
    });
  } catch (error) {
    await shutdownTelemetry();
    const e = error as NodeJS.ErrnoException;
    const which = (error as { healthPort?: boolean })?.healthPort ? `--health-port ${healthPort}` : `--port ${port}`;
    if (e?.code === 'EADDRINUSE') throw new CliError(`${which}: the address is already in use`, 1, { cause: error });
    if (e?.code === 'EACCES') throw new CliError(`${which}: permission denied`, 1, { cause: error });
    throw error;
  }
  const summary = { url: server.url, port: server.port, ...(server.healthPort !== undefined ? { health_port: server.healthPort } : {}), services: server.services, store_uri: server.storeUri, db_path: server.dbPath, allowed_locations: server.allowedLocations ?? null, auth_required: server.auth.required };
  if (values.json) printJson(summary);
  else printLine(`harden serve: ${server.services.join(', ')} on ${server.url} (gRPC, gRPC-Web, Connect; dashboard ${server.url}/); store ${server.storeUri}; jobs ${server.dbPath}; ${server.allowedLocations ? `requests may name ${server.allowedLocations.join(', ')}` : 'requests may name any location (loopback)'}`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        progress(`${signal} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      progress(`${signal}: shutting down (running jobs checkpoint and resume at the next start)`);
      server
        .close()
        .catch((error: unknown) => logger.error('shutdown failed', { error }))
        // Last: spans of the shutdown itself, and a final metrics export.
        .then(() => shutdownTelemetry())
        .then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
