/**
 * `harden serve` as a function: the three services (or some of them) on one RPC server, with the
 * standard health and reflection services, the dashboard beside the RPCs, the job database and the
 * artifact store. Used by the CLI, the tests and the benchmark.
 *
 * Embedded defaults: store `file://./.harden`, job database `<store>/jobs.sqlite` (a local file next
 * to a file store, `./.harden/jobs.sqlite` for other stores), engine backend `auto`.
 *
 * Lifecycle: `startHardenServer` opens the database, listens, then starts the job runners (which
 * resume jobs a previous process left RUNNING). `close()` is the graceful shutdown: health turns
 * NOT_SERVING, the runners take no new jobs and stop the running ones (training stops after its
 * current batch; its last epoch checkpoint stands and the job resumes at the next start), the server
 * stops accepting connections and lets calls in flight finish within the grace period, then the
 * workers and the database close.
 */
import { join } from 'node:path';
import type { Interceptor } from '@connectrpc/connect';
import type { BackendChoice } from '../../libs/engine/index.js';
import { createJobStore, createReportIndex, type JobStore, type ReportIndex } from '../../libs/jobs/index.js';
import { evalShardsFromEnv, kubernetesRunnerOptionsFromEnv, runnerKindFromEnv, type RunnerKind } from '../../libs/jobs/kubernetes/index.js';
import { createKubernetesRunner, type KubernetesRunnerOptions } from '../../libs/jobs/kubernetes/index.js';
import { file_robustness_v1_worker, JobWorkerService } from '../../libs/rpc/gen/robustness/v1/worker_pb.js';
import {
  createHealthService,
  createReflectionIndex,
  createRpcServer,
  createServiceClient,
  createTransport,
  errorMapping,
  reflectionV1,
  reflectionV1alpha,
  ReflectionV1,
  ReflectionV1alpha,
  Health,
  confinedLocations,
  OPEN_LOCATIONS,
  type HealthService,
  type HttpHandler,
  type LocationPolicy,
} from '../../libs/rpc/index.js';
import { file_grpc_health_v1_health } from '../../libs/rpc/gen/grpc/health/v1/health_pb.js';
import { file_grpc_reflection_v1_reflection } from '../../libs/rpc/gen/grpc/reflection/v1/reflection_pb.js';
import { file_grpc_reflection_v1alpha_reflection } from '../../libs/rpc/gen/grpc/reflection/v1alpha/reflection_pb.js';
import { AdversarialService, file_robustness_v1_adversarial } from '../../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import { EvaluationService, file_robustness_v1_evaluation } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { HardeningService, file_robustness_v1_hardening } from '../../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { authorization, bearerToken, createAdmission, createAuthenticator, type AdmissionLimits, type Authenticator, type TokenEntry } from '../../libs/rpc/index.js';
import { createHttpGuard } from './http-guard.js';
import { createStoreProbe } from './store-probe.js';
import { openStore, parseStoreUri } from '../../libs/storage/index.js';
import { createLoggingInterceptor, createTracingInterceptor, instrumentJobStore, type Logger } from '../../libs/telemetry/index.js';
import { createAdversarialService, type AdversarialServiceHandle, type GenerateLimits } from '../adversarial/index.js';
import { createDashboardHandler } from '../dashboard/index.js';
import { createEvaluationService, EVALUATE_KIND, type EvaluationServiceHandle } from '../evaluation/index.js';
import { createHardeningService, HARDEN_KIND, type HardeningServiceHandle, type HardenLimits } from '../training/index.js';
import { createJobDashboardSource } from './job-store-dashboard.js';
import { createJobWorkerService } from './job-worker-service.js';

export const SERVICE_NAMES = ['training', 'adversarial', 'evaluation'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface HardenServerOptions {
  /** Which services to run. @default all three */
  services?: readonly ServiceName[];
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 50051 */
  port?: number;
  /**
   * Serve TLS with these PEM files (HTTP/2 with ALPN, HTTP/1.1 allowed); `clientCaFile` also
   * accepts client certificates signed by that CA bundle as credentials (mutual TLS, libs/rpc/auth.ts).
   */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /**
   * Credentials (libs/rpc/auth.ts). Giving tokens (or `tls.clientCaFile`) makes every RPC but the
   * health check and the dashboard need a caller with the right role.
   */
  auth?: {
    tokens?: readonly TokenEntry[];
    /** HMAC key of the per-job worker tokens (keep it across restarts: running worker pods hold tokens). @default random */
    workerKey?: Buffer;
  };
  /**
   * Host names requests may name (`Host` / `:authority`); loopback names and the bound address are
   * always allowed. @default none more; bound to a wildcard address with none given, any
   */
  allowedHosts?: readonly string[];
  /**
   * Also serve the gRPC health check (grpc.health.v1 only) in plaintext on this port, without
   * credentials or Host check: for probes that cannot speak TLS or carry a token (Kubernetes' gRPC
   * probes). It answers serving states and nothing else. @default none
   */
  healthPort?: number;
  /** Serve a non-loopback address without credentials. @default false (refuse to start) */
  insecure?: boolean;
  /** Bearer token for the evaluation service at `evaluationUrl` (when it is another server that needs one). */
  evaluationToken?: string;
  /** Artifact store root. @default file://./.harden */
  storeUri?: string;
  /** Job database file. @default <store>/jobs.sqlite for a file store, else ./.harden/jobs.sqlite */
  dbPath?: string;
  /**
   * Where the training service calls EvaluationService.Evaluate (`host:port` or a URL).
   * @default this server's own address when it runs the evaluation service (required otherwise)
   */
  evaluationUrl?: string;
  /** CA (or self-signed certificate) to trust when calling the evaluation service over TLS. @default tls.certFile */
  evaluationCaFile?: string;
  /** Engine backend of every compute thread. @default 'auto' */
  backend?: BackendChoice;
  /** Training jobs at once. @default 1 */
  trainingConcurrency?: number;
  /** Evaluation jobs at once. @default 1 */
  evaluationConcurrency?: number;
  /** Jobs that may wait, per kind, before RESOURCE_EXHAUSTED. @default 16 */
  queueLimit?: number;
  /** Attack worker threads. @default HARDEN_WORKERS, else min(cores, 2) */
  attackWorkers?: number;
  /** Start the attack workers at once (else on the first GenerateAdversarial). @default false */
  warmAttackWorkers?: boolean;
  /** Largest request message, bytes. @default 4 MiB */
  readMaxBytes?: number;
  /** Largest response message, bytes. @default 64 MiB */
  writeMaxBytes?: number;
  /** Time running jobs and calls get to stop at shutdown. @default 30000 */
  shutdownGraceMs?: number;
  /** Serve the dashboard on the same port (paths `/`, `/jobs…`, `/reports…`, `/dashboard…`). @default true */
  dashboard?: boolean;
  /** More plain HTTP handlers for non-RPC paths (tried after the dashboard). */
  httpHandlers?: HttpHandler[];
  hardenLimits?: Partial<HardenLimits>;
  /** Per-caller stream and queued-job limits, the attack memory bound (libs/rpc/admission.ts). */
  admission?: Partial<AdmissionLimits>;
  generateLimits?: Partial<GenerateLimits>;
  /**
   * Model and data locations requests may name besides the store: store URIs (`file:///srv/models`,
   * `s3://bucket/models`) or absolute paths. Giving any confines requests to the store and these;
   * so does a `host` other than loopback, with only the store allowed (libs/rpc/locations.ts).
   * @default none; on loopback every location the server can read
   */
  allowedLocations?: readonly string[];
  logger?: Logger;
  /**
   * Where Harden jobs train: `in-process` (worker threads here) or `kubernetes` (a batch/v1 Job per
   * job running `harden worker`, which reports to this server's JobWorkerService).
   * @default HARDEN_RUNNER, else 'in-process'
   */
  runner?: RunnerKind;
  /** Settings of the Kubernetes runner. @default from the HARDEN_K8S_* variables and this pod (kubernetesRunnerOptionsFromEnv) */
  kubernetes?: KubernetesRunnerOptions;
  /**
   * With the Kubernetes runner: run each evaluation as an Indexed Job of this many pods, each
   * evaluating a slice of the test set and reporting to this server's JobWorkerService; 0 evaluates
   * in this server's threads. @default HARDEN_EVAL_SHARDS, else 0
   */
  evaluationShards?: number;
  /** Settings of the evaluation shards' runner. @default from the environment (kubernetesRunnerOptionsFromEnv, role evaluation) */
  evaluationKubernetes?: KubernetesRunnerOptions;
}

export interface HardenServer {
  /** `http://host:port` (https with TLS). */
  readonly url: string;
  readonly port: number;
  /** The plaintext health-check port (HardenServerOptions.healthPort), when there is one. */
  readonly healthPort: number | undefined;
  readonly services: readonly ServiceName[];
  readonly storeUri: string;
  /** The locations requests may name, or undefined when any (HardenServerOptions.allowedLocations). */
  readonly allowedLocations: readonly string[] | undefined;
  readonly dbPath: string;
  readonly jobs: JobStore;
  readonly reports: ReportIndex;
  readonly health: HealthService;
  readonly hardening: HardeningServiceHandle | undefined;
  readonly evaluation: EvaluationServiceHandle | undefined;
  readonly adversarial: AdversarialServiceHandle | undefined;
  /** Credentials: whether they are required, and the per-job worker tokens. */
  readonly auth: Pick<Authenticator, 'required' | 'workerToken'>;
  /** Graceful shutdown; resolves when everything is closed. Calling it again returns the same promise. */
  close(): Promise<void>;
}

/** The job database next to a file store, else under ./.harden/. */
export function defaultDbPath(storeUri: string): string {
  const location = parseStoreUri(storeUri);
  const dir = location.scheme === 'file' ? location.path : (parseStoreUri(undefined) as { path: string }).path;
  return join(dir, 'jobs.sqlite');
}

export async function startHardenServer(options: HardenServerOptions = {}): Promise<HardenServer> {
  const services = [...new Set(options.services ?? SERVICE_NAMES)];
  const storeUri = openStore(options.storeUri).uri;
  const dbPath = options.dbPath ?? defaultDbPath(storeUri);
  const logger = options.logger;
  const backend = options.backend ?? 'auto';
  const run = (name: ServiceName) => services.includes(name);
  if (run('training') && !run('evaluation') && !options.evaluationUrl) {
    throw new Error('the training service needs --evaluation-url when this server does not run the evaluation service');
  }

  const host = options.host ?? '127.0.0.1';
  const authn = createAuthenticator({
    ...(options.auth?.tokens ? { tokens: options.auth.tokens } : {}),
    ...(options.auth?.workerKey ? { workerKey: options.auth.workerKey } : {}),
    clientCertificates: options.tls?.clientCaFile !== undefined,
    allowedHosts: allowedHostsOf(host, options.allowedHosts ?? []),
  });
  if (!authn.required && !LOOPBACK.has(host) && !options.insecure) {
    throw new Error(`refusing to serve ${host} without authentication: give tokens (--token-file) or client certificates (--tls-client-ca), or say --insecure`);
  }
  const workerToken = authn.required ? authn.workerToken : undefined;

  const runnerKind = options.runner ?? runnerKindFromEnv();
  const kubernetes = run('training') && runnerKind === 'kubernetes' ? createKubernetesRunner({ ...(options.kubernetes ?? (await kubernetesRunnerOptionsFromEnv())), ...(logger ? { logger } : {}), ...(workerToken ? { workerToken } : {}) }) : undefined;
  const evaluationShards = options.evaluationShards ?? evalShardsFromEnv();
  if (evaluationShards > 0 && runnerKind !== 'kubernetes') throw new Error('sharded evaluation (HARDEN_EVAL_SHARDS) runs on Kubernetes: it needs the kubernetes runner (HARDEN_RUNNER=kubernetes)');
  const shardRunner =
    run('evaluation') && evaluationShards > 0
      ? createKubernetesRunner({ ...(options.evaluationKubernetes ?? (await kubernetesRunnerOptionsFromEnv(process.env, undefined, 'evaluation'))), ...(logger ? { logger } : {}), ...(workerToken ? { workerToken } : {}) })
      : undefined;

  const jobs = createJobStore({ path: dbPath });
  const reports = createReportIndex({ path: dbPath });
  let selfUrl: string | undefined;
  const evaluationUrl = () => options.evaluationUrl ?? selfUrl;
  let evaluationClient: ReturnType<typeof createServiceClient<typeof EvaluationService>> | undefined;
  const evaluationClientOf = () => {
    if (!evaluationClient) {
      const address = evaluationUrl();
      if (!address) throw new Error('the evaluation service address is not known yet');
      const caFile = options.evaluationCaFile ?? options.tls?.certFile;
      // Calls to itself carry the server's internal token; to another server, the one it was given.
      const token = options.evaluationUrl ? options.evaluationToken : authn.required ? authn.internalToken : undefined;
      evaluationClient = createServiceClient(
        EvaluationService,
        createTransport({
          address,
          protocol: 'grpc',
          ...(address.startsWith('https:') ? { tls: caFile ? { caFile } : {} } : {}),
          interceptors: [createTracingInterceptor({ side: 'client' }), ...(token ? [bearerToken(token)] : [])],
        }),
      );
    }
    return evaluationClient;
  };

  const admission = createAdmission(options.admission);
  const locations = locationPolicy(host, storeUri, options.allowedLocations ?? []);
  const evaluation = run('evaluation')
    ? createEvaluationService({
        jobs,
        reports,
        storeUri,
        backend,
        limits: { locations },
        admission,
        ...(shardRunner ? { kubernetes: { runner: shardRunner, shards: evaluationShards } } : {}),
        ...(options.evaluationConcurrency !== undefined ? { concurrency: options.evaluationConcurrency } : {}),
        ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
        ...(logger ? { logger } : {}),
      })
    : undefined;
  const hardening = run('training')
    ? createHardeningService({
        jobs,
        storeUri,
        backend,
        evaluation: evaluationClientOf,
        ...(options.trainingConcurrency !== undefined ? { concurrency: options.trainingConcurrency } : {}),
        ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
        limits: { ...options.hardenLimits, locations },
        admission,
        ...(logger ? { logger } : {}),
        ...(kubernetes ? { kubernetes } : {}),
      })
    : undefined;
  const adversarial = run('adversarial')
    ? createAdversarialService({
        backend,
        ...(options.attackWorkers !== undefined ? { workers: options.attackWorkers } : {}),
        limits: { ...options.generateLimits, locations },
        admission,
        ...(options.writeMaxBytes !== undefined ? { writeMaxBytes: options.writeMaxBytes } : {}),
        ...(logger ? { logger } : {}),
      })
    : undefined;

  // Worker pods of every kind this server dispatches to Kubernetes report to one JobWorkerService.
  const workerKinds = [hardening?.workerKind, evaluation?.workerKind].filter((k) => k !== undefined);
  const workerService = workerKinds.length > 0 ? createJobWorkerService({ jobs, kinds: workerKinds, storeUri, ...(logger ? { logger } : {}) }) : undefined;

  const serviceNames = [
    ...(hardening ? [HardeningService.typeName] : []),
    ...(adversarial ? [AdversarialService.typeName] : []),
    ...(evaluation ? [EvaluationService.typeName] : []),
  ];
  const health = createHealthService(serviceNames);
  // The store must take writes before the services say SERVING (and before jobs start or resume).
  const store = openStore(storeUri);
  const storeProbe = createStoreProbe(store, health, [...serviceNames, ''], logger);
  await storeProbe.first;
  const reflection = createReflectionIndex(
    [
      file_robustness_v1_hardening,
      file_robustness_v1_evaluation,
      file_robustness_v1_adversarial,
      file_grpc_health_v1_health,
      file_grpc_reflection_v1_reflection,
      file_grpc_reflection_v1alpha_reflection,
      ...(workerService ? [file_robustness_v1_worker] : []),
    ],
    [...serviceNames, Health.typeName, ReflectionV1.typeName, ReflectionV1alpha.typeName, ...(workerService ? [JobWorkerService.typeName] : [])],
  );

  const dashboardAbort = new AbortController();
  const httpHandlers: HttpHandler[] = [];
  // Plain HTTP (the dashboard): the same Host check, and a read credential when credentials are required.
  httpHandlers.push(createHttpGuard(authn));
  if (options.dashboard ?? true) {
    httpHandlers.push(
      createDashboardHandler(createJobDashboardSource(jobs, reports), {
        signal: dashboardAbort.signal,
        onError: (error, path) => logger?.error('dashboard request failed', { path, error }),
      }) as HttpHandler,
    );
  }
  httpHandlers.push(...(options.httpHandlers ?? []));

  const interceptors: Interceptor[] = [createTracingInterceptor({ side: 'server' }), ...(logger ? [createLoggingInterceptor(logger)] : []), authorization(authn), errorMapping()];
  const server = createRpcServer({
    host,
    contextValues: (req) => authn.contextValues(req),
    port: options.port ?? 50051,
    ...(options.tls ? { tls: options.tls } : {}),
    interceptors,
    ...(options.readMaxBytes !== undefined ? { readMaxBytes: options.readMaxBytes } : {}),
    ...(options.writeMaxBytes !== undefined ? { writeMaxBytes: options.writeMaxBytes } : {}),
    httpHandlers,
    ...(logger ? { logger } : {}),
    routes: (router) => {
      if (hardening) router.service(HardeningService, hardening.impl);
      if (workerService) router.service(JobWorkerService, workerService);
      if (adversarial) router.service(AdversarialService, adversarial.impl);
      if (evaluation) router.service(EvaluationService, evaluation.impl);
      router.service(Health, health.impl);
      router.service(ReflectionV1, reflectionV1(reflection));
      router.service(ReflectionV1alpha, reflectionV1alpha(reflection));
    },
  });
  // The probe port: the same health states, nothing else on it.
  const healthServer =
    options.healthPort !== undefined
      ? createRpcServer({ host, port: options.healthPort, routes: (router) => router.service(Health, health.impl), ...(logger ? { logger } : {}) })
      : undefined;
  try {
    const address = await server.listen();
    if (healthServer) {
      try {
        await healthServer.listen();
      } catch (error) {
        await server.close({ graceMs: 0 });
        throw Object.assign(error as Error, { healthPort: true });
      }
    }
    // Calls to itself go over loopback (a wildcard address is not one to connect to); with TLS by
    // name, so that a certificate for localhost matches.
    const loopback = options.tls ? 'localhost' : '127.0.0.1';
    selfUrl = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(address.host) ? `${options.tls ? 'https' : 'http'}://${loopback}:${address.port}` : address.url;
  } catch (error) {
    jobs.close();
    reports.close();
    throw error;
  }
  // Job gauges (by state, queue depth) and transitions; no-ops unless telemetry runs.
  const stopJobMetrics = instrumentJobStore(jobs, [...(hardening ? [HARDEN_KIND] : []), ...(evaluation ? [EVALUATE_KIND] : [])]);
  // After listen: a resumed Harden job may call Evaluate on this very server. Once the store takes
  // writes: a job would otherwise train an epoch and fail at its first checkpoint.
  void storeProbe.ready.then((ok) => {
    if (!ok) return;
    evaluation?.runner.start();
    hardening?.runner.start();
  });
  if (adversarial && options.warmAttackWorkers) await adversarial.warm();

  let closing: Promise<void> | undefined;
  const graceMs = options.shutdownGraceMs ?? 30_000;
  return {
    url: server.url,
    port: server.port,
    healthPort: healthServer?.port,
    services,
    storeUri,
    allowedLocations: locations.allowed,
    dbPath,
    jobs,
    reports,
    health,
    hardening,
    evaluation,
    adversarial,
    auth: { required: authn.required, workerToken: authn.workerToken },
    close() {
      closing ??= (async () => {
        logger?.info('shutting down', { grace_ms: graceMs });
        storeProbe.stop();
        health.shutdown();
        dashboardAbort.abort();
        await Promise.all([hardening?.runner.shutdown({ graceMs }), evaluation?.runner.shutdown({ graceMs })]);
        await Promise.all([server.close({ graceMs: Math.min(graceMs, 5000) }), healthServer?.close({ graceMs: 0 })]);
        await adversarial?.close();
        stopJobMetrics();
        jobs.close();
        reports.close();
        logger?.info('stopped');
      })();
      return closing;
    },
  };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const WILDCARD = new Set(['0.0.0.0', '::']);

/** Loopback names, the bound address and `extra`; nothing (any host) for a wildcard bind without `extra`. */
function allowedHostsOf(host: string, extra: readonly string[]): string[] {
  if (WILDCARD.has(host) && extra.length === 0) return [];
  return [...LOOPBACK, ...(WILDCARD.has(host) ? [] : [host]), ...extra];
}

/** Open on loopback with nothing allowed explicitly; else the store plus `allowed` (see HardenServerOptions). */
function locationPolicy(host: string, storeUri: string, allowed: readonly string[]): LocationPolicy {
  if (LOOPBACK.has(host) && allowed.length === 0) return OPEN_LOCATIONS;
  return confinedLocations([storeUri, ...allowed]);
}
