#!/usr/bin/env node
/**
 * The `harden` command. Each verb lives in cli/commands/; failures print one line on stderr and
 * exit non-zero (2 for bad usage or input, 1 for a failed run).
 */
import { BACKEND_NAMES } from '../libs/engine/index.js';
import { CliError, exitCodeOf } from './cli-error.js';
import { attackCommand, attackHelp } from './commands/attack.js';
import { benchCommand, benchHelp } from './commands/bench.js';
import { evalCommand, evalHelp } from './commands/eval.js';
import { gateCommand, gateHelp } from './commands/gate.js';
import { infoCommand, infoHelp } from './commands/info.js';
import { trainCommand, trainHelp } from './commands/train.js';
import { serveCommand, serveHelp } from './commands/serve.js';
import { submitCommand, submitHelp } from './commands/submit.js';
import { watchCommand, watchHelp } from './commands/watch.js';
import { reportCommand, reportHelp } from './commands/report.js';
import { generateCommand, generateHelp } from './commands/generate.js';
import { workerCommand, workerHelp } from './commands/worker.js';
import { exportCommand, exportHelp } from './commands/export.js';
import { VERSION } from './version.js';

type Command = { run: (argv: string[]) => Promise<number>; help: string };

const COMMANDS: Record<string, Command> = {
  info: { run: infoCommand, help: infoHelp },
  bench: { run: benchCommand, help: benchHelp },
  train: { run: trainCommand, help: trainHelp },
  attack: { run: attackCommand, help: attackHelp },
  eval: { run: evalCommand, help: evalHelp },
  gate: { run: gateCommand, help: gateHelp },
  serve: { run: serveCommand, help: serveHelp },
  submit: { run: submitCommand, help: submitHelp },
  watch: { run: watchCommand, help: watchHelp },
  report: { run: reportCommand, help: reportHelp },
  generate: { run: generateCommand, help: generateHelp },
  worker: { run: workerCommand, help: workerHelp },
  export: { run: exportCommand, help: exportHelp },
};

function usage(): string {
  return [
    `harden ${VERSION}: adversarial robustness as a service (D2R + CAG)`,
    '',
    'usage: harden <command> [options]',
    '',
    ...Object.values(COMMANDS).map((c) => c.help),
    '',
    'Data sets (--dataset D): mnist (the embedded 10,000 digits), fashion-mnist[:DIR], idx:DIR, cifar10:DIR,',
    '  cifar100:DIR, tiny-imagenet:DIR, folder:DIR (one subfolder of PNG/JPEG images per class, classes in',
    '  sorted folder order; --size HxW resizes images that differ). DIR may be a store URI (s3://bucket/data):',
    '  fetched once into $HARDEN_DATA_CACHE, verified by content digest.',
    '',
    `Environment: HARDEN_BACKEND=auto|${BACKEND_NAMES.join('|')}, HARDEN_WORKERS=N`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(`${usage()}\n`);
    return verb ? 0 : 2;
  }
  if (verb === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[verb];
  if (!command) throw new CliError(`unknown command "${verb}"; run "harden --help" for the list`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  return command.run(rest);
}

function describeError(error: unknown): { message: string; code: number } {
  if (error instanceof CliError) return { message: error.message, code: error.exitCode };
  const e = error as Error & { code?: string };
  // parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
  if (typeof e?.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) return { message: e.message, code: 2 };
  // The message in full (this is the user's own machine); the exit code from the one table.
  return { message: e?.message ?? String(error), code: exitCodeOf(error) };
}

/** Exits once stdout has drained: worker threads and GPU handles must not keep the process alive. */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  const { message, code } = describeError(error);
  process.stderr.write(`harden: ${message}\n`);
  if (process.env.HARDEN_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  exit(code);
});
