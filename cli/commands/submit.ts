import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import type { DescService } from '@bufbuild/protobuf';
import { clientTokenFromText, createServiceClient, createTransport, PROTOCOLS, type Protocol } from '../../libs/rpc/index.js';
import { HardeningService } from '../../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { JobState } from '../../libs/rpc/gen/robustness/v1/job_pb.js';
import { CliError } from '../cli-error.js';
import { DATASET_CHOICES, datasetWithSize, nonNegativeInt, positive, positiveInt } from '../flags.js';
import { printJson, printLine, progress } from '../output.js';

export const submitHelp = `harden submit --server HOST:PORT (--arch A | --model URI) --dataset D [--size HxW] [--method M] [--limit N]
              [--epochs E] [--batch B] [--lr X] [--eps X] [--steps K] [--seed S] [--guidance-arch A]
              [--eval-size N] [--suite quick|standard] [--eval-limit N] [--eval-eps X] [--no-eval]
              [--request-id ID] [--protocol grpc|connect|grpc-web] [--ca FILE] [--token-file F]
              [--cert FILE --key FILE] [--json]
  Starts a Harden job (adversarial training, then a robustness report) on a running "harden serve"
  and prints its job id alone on stdout (--json: {job_id, state, request_id}). Zero or absent values take the
  server's defaults (method d2r, 10 epochs, batch 128, ε by data set). --request-id makes a retry
  return the same job. Follow it with "harden watch --server HOST:PORT JOB_ID". A server that
  requires credentials takes a token (--token-file F, $HARDEN_TOKEN_FILE, or the token itself in
  $HARDEN_TOKEN; a submit token) or a client certificate (--cert/--key, with --ca for its CA).`;

/** parseArgs options every client command takes. */
export const CLIENT_OPTIONS = {
  server: { type: 'string' },
  protocol: { type: 'string' },
  ca: { type: 'string' },
  timeout: { type: 'string' },
  'token-file': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
} as const;

interface ClientFlags {
  server?: string | undefined;
  protocol?: string | undefined;
  ca?: string | undefined;
  timeout?: string | undefined;
  'token-file'?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** The bearer token of `--token-file F`, else $HARDEN_TOKEN_FILE, else $HARDEN_TOKEN (the token itself). */
export function tokenFromFlags(values: ClientFlags, env: Record<string, string | undefined> = process.env): string | undefined {
  const file = values['token-file'] ?? (env.HARDEN_TOKEN_FILE?.trim() || undefined);
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CliError(`--token-file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, 2, { cause: error });
    }
    const token = clientTokenFromText(text);
    if (!token) throw new CliError(`--token-file ${file}: the file holds no token`, 2);
    return token;
  }
  return env.HARDEN_TOKEN?.trim() || undefined;
}

/** A typed client of `service` for the `--server`, `--protocol`, `--ca`, `--timeout`, `--token-file`, `--cert`/`--key` flags. */
export function clientFromFlags<T extends DescService>(service: T, values: ClientFlags): Client<T> {
  if (!values.server) throw new CliError('--server HOST:PORT is required (where "harden serve" listens, e.g. 127.0.0.1:50051)');
  if ((values.cert === undefined) !== (values.key === undefined)) throw new CliError('--cert and --key go together (a client certificate for mutual TLS)');
  const token = tokenFromFlags(values);
  const tls = values.ca || values.cert ? { ...(values.ca ? { caFile: values.ca } : {}), ...(values.cert && values.key ? { certFile: values.cert, keyFile: values.key } : {}) } : undefined;
  const protocol = (values.protocol ?? 'grpc') as Protocol;
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) throw new CliError(`--protocol must be one of ${PROTOCOLS.join(', ')}; got "${values.protocol}"`);
  const timeout = positive('--timeout', values.timeout);
  try {
    return createServiceClient(
      service,
      createTransport({
        address: values.server,
        protocol,
        ...(tls ? { tls } : {}),
        ...(token ? { token } : {}),
        ...(timeout ? { defaultTimeoutMs: timeout * 1000 } : {}),
      }),
    );
  } catch (error) {
    throw new CliError(`--server: ${(error as Error).message.replace(/^server: /, '')}`, 2, { cause: error });
  }
}

/** An RPC failure as a CLI error: the request's fault exits 2, the server's (or the network's) 1. */
export function rpcError(error: unknown, server: string | undefined): never {
  if (error instanceof CliError) throw error;
  const e = ConnectError.from(error);
  const requestFault = [Code.InvalidArgument, Code.NotFound, Code.AlreadyExists, Code.FailedPrecondition, Code.OutOfRange].includes(e.code);
  const what = e.code === Code.Unavailable && /ECONNREFUSED|connect/i.test(e.rawMessage) ? `cannot reach ${server}: ${e.rawMessage}` : e.rawMessage;
  throw new CliError(`${Code[e.code]}: ${what}`, requestFault ? 2 : 1, { cause: error });
}

export async function submitCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CLIENT_OPTIONS,
      arch: { type: 'string' },
      model: { type: 'string' },
      size: { type: 'string' },
      dataset: { type: 'string' },
      method: { type: 'string' },
      limit: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      eps: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      'guidance-arch': { type: 'string' },
      'eval-size': { type: 'string' },
      suite: { type: 'string' },
      'eval-limit': { type: 'string' },
      'eval-eps': { type: 'string' },
      'no-eval': { type: 'boolean', default: false },
      'request-id': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if ((values.arch === undefined) === (values.model === undefined)) throw new CliError('give --arch A (a fresh model) or --model URI (a saved one), one of them');
  if (!values.dataset) throw new CliError(`--dataset is required (${DATASET_CHOICES})`);
  values.dataset = datasetWithSize(values.dataset, values.size);
  const client = clientFromFlags(HardeningService, values);
  let res;
  try {
    res = await client.harden({
      requestId: values['request-id'] ?? '',
      model: values.model !== undefined ? { case: 'modelUri', value: values.model } : { case: 'arch', value: values.arch ?? '' },
      method: values.method ?? '',
      dataset: values.dataset,
      limit: nonNegativeInt('--limit', values.limit) ?? 0,
      epochs: positiveInt('--epochs', values.epochs) ?? 0,
      batchSize: positiveInt('--batch', values.batch) ?? 0,
      learningRate: positive('--lr', values.lr) ?? 0,
      eps: positive('--eps', values.eps) ?? 0,
      steps: positiveInt('--steps', values.steps) ?? 0,
      seed: nonNegativeInt('--seed', values.seed) ?? 0,
      guidanceArch: values['guidance-arch'] ?? '',
      evalSize: nonNegativeInt('--eval-size', values['eval-size']) ?? 0,
      evaluation: {
        suite: values.suite ?? '',
        limit: positiveInt('--eval-limit', values['eval-limit']) ?? 0,
        eps: positive('--eval-eps', values['eval-eps']) ?? 0,
        skip: values['no-eval'] ?? false,
      },
    });
  } catch (error) {
    rpcError(error, values.server);
  }
  const job = res.job;
  if (!job) throw new CliError('the server answered without a job', 1);
  if (values.json) printJson({ job_id: job.jobId, state: JobState[job.state], request_id: job.request?.requestId ?? '' });
  else {
    // Only the id on stdout, so that JOB=$(harden submit …) works; the hint goes to stderr.
    printLine(job.jobId);
    progress(`job ${job.jobId} ${JobState[job.state]}; follow it: harden watch --server ${values.server} ${job.jobId}`);
  }
  return 0;
}
