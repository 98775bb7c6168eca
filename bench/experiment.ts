/**
 * The method comparison of issue 4: every method trained with the same budget on the same data, then
 * evaluated with the same suite (clean, FGSM, PGD-20, CW∞-20, AutoAttack). Runs the `harden` CLI as a
 * user would and prints a Markdown table (and writes experiment.json into the output folder).
 *
 *   node dist/bench/experiment.js [--dataset fashion-mnist] [--eps 0.1] [--limit 2000] [--epochs 2]
 *     [--batch 32] [--lr 0.05] [--eval-limit 200] [--suite standard] [--methods standard,pgd-at,...]
 *     [--out /tmp/harden-experiment]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'fashion-mnist' },
    eps: { type: 'string', default: '0.1' },
    limit: { type: 'string', default: '2000' },
    epochs: { type: 'string', default: '2' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.05' },
    'eval-limit': { type: 'string', default: '200' },
    suite: { type: 'string', default: 'standard' },
    methods: { type: 'string', default: 'standard,pgd-at,trades,lbgat,d2r' },
    out: { type: 'string', default: '/tmp/harden-experiment' },
  },
});

const CLI = new URL('../cli/main.js', import.meta.url).pathname;

function run(args: string[]): Record<string, unknown> {
  process.stderr.write(`$ harden ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`harden ${args[0]} exited with ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

interface Row {
  method: string;
  clean: number;
  fgsm: number;
  pgd20: number;
  cw20: number;
  autoattack: number | null;
  worst: number;
  train_seconds_per_epoch: number;
  collapsed: boolean;
  backend: string;
}

mkdirSync(values.out!, { recursive: true });
const rows: Row[] = [];
for (const method of values.methods!.split(',')) {
  const out = pathToFileURL(join(values.out!, method)).href;
  const t = run([
    'train', '--method', method, '--arch', 'small-cnn', '--dataset', values.dataset!, '--limit', values.limit!, '--epochs', values.epochs!,
    '--batch', values.batch!, '--lr', values.lr!, '--eps', values.eps!, '--eval-size', '200', '--eval-steps', '10', '--out', out, '--json',
  ]);
  const history = t.history as Array<{ train_seconds: number }>;
  const e = run(['eval', '--model', String(t.model_uri), '--dataset', values.dataset!, '--limit', values['eval-limit']!, '--suite', values.suite!, '--eps', values.eps!, '--out', `${out}/eval`, '--json']);
  const acc = (name: string) => (e.attacks as Array<{ name: string; robust_accuracy: number }>).find((a) => a.name === name)?.robust_accuracy ?? null;
  rows.push({
    method,
    clean: e.clean_accuracy as number,
    fgsm: acc('fgsm') ?? NaN,
    pgd20: acc('pgd-20') ?? NaN,
    cw20: acc('cw-20') ?? NaN,
    autoattack: acc('autoattack'),
    worst: e.robust_accuracy as number,
    train_seconds_per_epoch: history.reduce((s, h) => s + h.train_seconds, 0) / history.length,
    collapsed: Boolean(t.collapsed),
    backend: String(t.backend),
  });
  writeFileSync(join(values.out!, 'experiment.json'), `${JSON.stringify({ settings: values, rows }, null, 2)}\n`);
}

const f = (v: number | null) => (v === null || Number.isNaN(v) ? '–' : v.toFixed(3));
const lines = [
  `${values.dataset}, ε = ${values.eps}, small-cnn, ${values.limit} training images, ${values.epochs} epochs, batch ${values.batch}, lr ${values.lr}; evaluated on ${values['eval-limit']} test images (${values.suite} suite)`,
  '',
  '| method | clean | FGSM | PGD-20 | CW∞-20 | AutoAttack | worst case | train s/epoch | backend |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.method}${r.collapsed ? ' (collapsed)' : ''} | ${f(r.clean)} | ${f(r.fgsm)} | ${f(r.pgd20)} | ${f(r.cw20)} | ${f(r.autoattack)} | ${f(r.worst)} | ${r.train_seconds_per_epoch.toFixed(0)} | ${r.backend} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);
