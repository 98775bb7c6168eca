import { parseArgs } from 'node:util';
import { Code, ConnectError } from '@connectrpc/connect';
import { HardeningService, type Job } from '../../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { JobState, type JobEvent } from '../../libs/rpc/gen/robustness/v1/job_pb.js';
import { CliError } from '../cli-error.js';
import { nonNegativeInt } from '../flags.js';
import { printJson, printLine, progress } from '../output.js';
import { CLIENT_OPTIONS, clientFromFlags, rpcError } from './submit.js';

export const watchHelp = `harden watch --server HOST:PORT JOB_ID [--from-sequence N] [--quiet] [--json]
  Follows a Harden job's events (progress lines on stderr) until it ends; when the connection drops
  (a server restart) it reconnects from the last event it saw, for up to about 5 minutes, so no
  event is missed. Exit 0 when the job SUCCEEDED,
  1 when it FAILED or was CANCELLED. --json prints {job_id, state, report_id, model_uri,
  clean_accuracy, robust_accuracy, error}. --from-sequence N starts after event N.`;

const FINAL = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]);

function fmt(v: number, digits = 4): string {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

/** One line per event, for people. */
export function describeEvent(e: JobEvent): string {
  const k = e.kind;
  const head = `#${e.sequence}`;
  switch (k.case) {
    case 'stateChanged':
      return `${head} ${JobState[k.value.state]}${k.value.message ? `: ${k.value.message}` : ''}`;
    case 'batchProgress':
      return `${head} epoch ${k.value.epoch}/${k.value.epochs} batch ${k.value.batch}/${k.value.batches} loss ${fmt(k.value.loss)} lr ${k.value.learningRate.toPrecision(3)} ${k.value.imagesPerSecond.toFixed(1)} img/s eta ${Math.round(k.value.etaSeconds)}s`;
    case 'epochCompleted':
      return `${head} epoch ${k.value.epoch} done: loss ${fmt(k.value.loss)} clean ${fmt(k.value.cleanAccuracy, 3)} robust ${fmt(k.value.robustAccuracy, 3)}`;
    case 'checkpointSaved':
      return `${head} checkpoint epoch ${k.value.epoch}${k.value.best ? ' (best)' : ''}: ${k.value.uri}`;
    case 'resumed':
      return `${head} resumed from epoch ${k.value.epoch}: ${k.value.uri}`;
    case 'phaseStarted':
      return `${head} ${k.value.phase}${k.value.message ? `: ${k.value.message}` : ''}`;
    case 'reportLinked':
      return `${head} report ${k.value.reportId}: clean ${fmt(k.value.cleanAccuracy)} robust ${fmt(k.value.robustAccuracy)} (${k.value.reportUri})`;
    case 'warning':
      return `${head} WARNING [${k.value.id}] ${k.value.message}`;
    default:
      return `${head} (event)`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function watchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...CLIENT_OPTIONS, job: { type: 'string' }, 'from-sequence': { type: 'string' }, quiet: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const jobId = values.job ?? positionals[0];
  if (!jobId || positionals.length > 1) throw new CliError('give one JOB_ID (the id "harden submit" printed)');
  const client = clientFromFlags(HardeningService, values);
  let after = BigInt(nonNegativeInt('--from-sequence', values['from-sequence']) ?? 0);
  let failures = 0;
  let ended = false;
  let connected = false;
  // Reconnect from the last event seen when the stream breaks (server restart, network): the
  // server replays everything after that sequence number, so nothing is lost or repeated.
  while (!ended) {
    try {
      for await (const r of client.watchJob({ jobId, afterSequence: after })) {
        const e = r.event;
        if (!e) continue;
        after = e.sequence;
        failures = 0;
        connected = true;
        if (!values.quiet) progress(describeEvent(e));
        if (e.kind.case === 'stateChanged' && FINAL.has(e.kind.value.state)) ended = true;
      }
      ended = true;
    } catch (error) {
      const code = ConnectError.from(error).code;
      // Reconnect only to a server that answered before (a restart), not to a wrong address.
      if (connected && (code === Code.Unavailable || code === Code.Internal || code === Code.DeadlineExceeded) && failures < 60) {
        failures++;
        if (!values.quiet) progress(`watch: connection lost (${Code[code]}); reconnecting after event #${after}…`);
        await sleep(Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
        continue;
      }
      rpcError(error, values.server);
    }
  }
  let job: Job | undefined;
  try {
    job = (await client.getJob({ jobId })).job;
  } catch (error) {
    rpcError(error, values.server);
  }
  if (!job) throw new CliError('the server answered without a job', 1);
  const summary = {
    job_id: job.jobId,
    state: JobState[job.state],
    report_id: job.reportId,
    report_uri: job.reportUri,
    model_uri: job.modelUri,
    clean_accuracy: job.cleanAccuracy,
    robust_accuracy: job.robustAccuracy,
    last_sequence: Number(job.lastSequence),
    error: job.error ? { code: job.error.code, message: job.error.message } : null,
  };
  if (values.json) printJson(summary);
  else {
    printLine(`${job.jobId}  ${summary.state}${job.error ? `: [${job.error.code}] ${job.error.message}` : ''}`);
    if (job.modelUri) printLine(`model: ${job.modelUri}`);
    if (job.reportId) printLine(`report: ${job.reportId}  (harden report --server ${values.server} ${job.reportId})`);
  }
  return job.state === JobState.SUCCEEDED ? 0 : 1;
}
