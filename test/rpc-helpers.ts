/**
 * Shared by the RPC and service tests: a server on loopback with a temporary store, clients of
 * both stacks — @grpc/grpc-js loading the .proto files with @grpc/proto-loader (a real gRPC stack,
 * independent of our generated code) and the Connect client — and a small saved model.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Client } from '@connectrpc/connect';
import { initEngine } from '../libs/engine/index.js';
import { buildModel, resolveModelConfig, saveModelToUri } from '../libs/models/index.js';
import { createServiceClient, createTransport, Health, type Protocol } from '../libs/rpc/index.js';
import { AdversarialService } from '../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import { EvaluationService } from '../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { HardeningService } from '../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { startHardenServer, type HardenServer, type HardenServerOptions } from '../services/server/index.js';

export const PROTO_DIR = new URL('../../proto/', import.meta.url).pathname;
export const CLI = new URL('../cli/main.js', import.meta.url).pathname;

/** Runs the built `harden` CLI: exit code, output, and the JSON object on stdout's last line (if any). */
export function runHarden(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string; json: Record<string, unknown> | undefined } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(last) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/** A server on a free loopback port with a temporary store (wasm engine in its threads, 2 attack workers). */
export async function startTestServer(options: HardenServerOptions = {}): Promise<{ server: HardenServer; dir: string }> {
  const dir = tempDir('harden-rpc');
  const server = await startHardenServer({ port: 0, storeUri: pathToFileURL(dir).href, backend: 'wasm', attackWorkers: 2, shutdownGraceMs: 5000, ...options });
  return { server, dir };
}

/** A freshly initialised small CNN for 28×28×1 digits, saved under `dir/name`; returns its URI. */
export async function saveTinyModel(dir: string, name = 'model', seed = 7): Promise<string> {
  await initEngine('cpu');
  const model = buildModel(resolveModelConfig({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed }));
  const saved = await saveModelToUri(model, pathToFileURL(join(dir, name)).href);
  model.dispose();
  return saved.uri;
}

// ---- @grpc/grpc-js ---------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any -- grpc-js clients are untyped when loaded dynamically */
type AnyClient = grpc.Client & Record<string, any>;

let packageDefinition: protoLoader.PackageDefinition | undefined;

function grpcPackage(): any {
  packageDefinition ??= protoLoader.loadSync(
    [
      'robustness/v1/hardening.proto',
      'robustness/v1/evaluation.proto',
      'robustness/v1/adversarial.proto',
      'grpc/health/v1/health.proto',
      'grpc/reflection/v1/reflection.proto',
      'grpc/reflection/v1alpha/reflection.proto',
    ],
    { includeDirs: [PROTO_DIR], longs: Number, enums: String, defaults: true, oneofs: true },
  );
  return grpc.loadPackageDefinition(packageDefinition);
}

export interface GrpcClients {
  health: AnyClient;
  hardening: AnyClient;
  evaluation: AnyClient;
  adversarial: AnyClient;
  reflectionV1: AnyClient;
  reflectionV1alpha: AnyClient;
  close(): void;
}

/** grpc-js clients of every service at `url` (`http://host:port`, or https with `rootCert`). */
export function grpcClients(url: string, options: { rootCert?: Buffer; serverName?: string } = {}): GrpcClients {
  const pkg = grpcPackage();
  const target = url.replace(/^https?:\/\//, '');
  const creds = options.rootCert ? grpc.credentials.createSsl(options.rootCert) : grpc.credentials.createInsecure();
  const channelOptions = {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    ...(options.serverName ? { 'grpc.ssl_target_name_override': options.serverName, 'grpc.default_authority': options.serverName } : {}),
  };
  const make = (ctor: any) => new ctor(target, creds, channelOptions) as AnyClient;
  const clients = {
    health: make(pkg.grpc.health.v1.Health),
    hardening: make(pkg.robustness.v1.HardeningService),
    evaluation: make(pkg.robustness.v1.EvaluationService),
    adversarial: make(pkg.robustness.v1.AdversarialService),
    reflectionV1: make(pkg.grpc.reflection.v1.ServerReflection),
    reflectionV1alpha: make(pkg.grpc.reflection.v1alpha.ServerReflection),
  };
  return { ...clients, close: () => Object.values(clients).forEach((c) => c.close()) };
}

/** Calls a unary grpc-js method as a promise. */
export function unary<T = any>(client: AnyClient, method: string, request: unknown, options: { deadlineMs?: number } = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const callOptions = options.deadlineMs ? { deadline: new Date(Date.now() + options.deadlineMs) } : {};
    client[method](request, new grpc.Metadata(), callOptions, (error: grpc.ServiceError | null, response: T) => (error ? reject(error) : resolve(response)));
  });
}

/** Reads a grpc-js server stream to its end. */
export function collect<T = any>(call: grpc.ClientReadableStream<T>, onMessage?: (m: T) => void): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    call.on('data', (m: T) => {
      out.push(m);
      onMessage?.(m);
    });
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

export const GRPC_STATUS = grpc.status;

/** A grpc-js error's code and message, for assertions. */
export function grpcFailure(error: unknown): { code: number; details: string } {
  const e = error as grpc.ServiceError;
  return { code: e.code, details: e.details };
}

// ---- Connect ---------------------------------------------------------------------------------

export interface ConnectClients {
  health: Client<typeof Health>;
  hardening: Client<typeof HardeningService>;
  evaluation: Client<typeof EvaluationService>;
  adversarial: Client<typeof AdversarialService>;
}

export function connectClients(url: string, protocol: Protocol = 'connect', tls?: { caFile: string }): ConnectClients {
  const transport = createTransport({ address: url, protocol, ...(tls ? { tls } : {}) });
  return {
    health: createServiceClient(Health, transport),
    hardening: createServiceClient(HardeningService, transport),
    evaluation: createServiceClient(EvaluationService, transport),
    adversarial: createServiceClient(AdversarialService, transport),
  };
}

/** A tiny Harden request (plain object, grpc-js field names): standard training on a slice of MNIST. */
export function tinyHardenRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    arch: 'small-cnn',
    method: 'standard',
    dataset: 'mnist',
    limit: 96,
    epochs: 1,
    batchSize: 32,
    learningRate: 0.05,
    evalSize: 16,
    evaluation: { suite: 'quick', limit: 16 },
    ...overrides,
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
