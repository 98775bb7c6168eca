/**
 * The method comparison: every method trained with the same budget on the same data, once per seed,
 * then evaluated with the same suite (clean, FGSM, PGD-20, CW∞-20, AutoAttack) on the test split.
 * Runs the `harden` CLI as a user would and prints a Markdown table of mean ± sd over the seeds (and
 * writes experiment.json, one row per method and seed, into the output folder).
 *
 * Long: a run that is stopped can be started again with the same flags; (method, seed) pairs already
 * in experiment.json are kept, not run again, and a training stopped mid-way resumes from its last
 * finished epoch (`harden train --resume`).
 *
 *   node dist/bench/experiment.js [--dataset fashion-mnist] [--eps 0.1] [--limit 2000] [--epochs 2]
 *     [--batch 32] [--lr 0.05] [--eval-limit 200] [--eval-size 200] [--suite standard]
 *     [--methods standard,pgd-at,trades,mart,lbgat,d2r] [--seeds 0,1,2] [--arch small-cnn]
 *     [--backend auto] [--out /tmp/harden-experiment]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    'eval-size': { type: 'string', default: '200' },
    suite: { type: 'string', default: 'standard' },
    methods: { type: 'string', default: 'standard,pgd-at,trades,mart,lbgat,d2r' },
    seeds: { type: 'string', default: '0,1,2' },
    arch: { type: 'string', default: 'small-cnn' },
    backend: { type: 'string', default: 'auto' },
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
  seed: number;
  clean: number;
  fgsm: number;
  pgd20: number;
  cw20: number;
  autoattack: number | null;
  worst: number;
  train_seconds_per_epoch: number;
  /** Epochs flagged as collapsed by the per-epoch check (held out of the training split). */
  collapsed_epochs: number[];
  collapsed: boolean;
  backend: string;
}

const settingsKey = ['dataset', 'eps', 'limit', 'epochs', 'batch', 'lr', 'eval-limit', 'eval-size', 'suite', 'arch'] as const;
const settings = Object.fromEntries(settingsKey.map((k) => [k, values[k]]));
const file = join(values.out!, 'experiment.json');
mkdirSync(values.out!, { recursive: true });
let rows: Row[] = [];
if (existsSync(file)) {
  const previous = JSON.parse(readFileSync(file, 'utf8')) as { settings: Record<string, unknown>; rows: Row[] };
  if (JSON.stringify(previous.settings) !== JSON.stringify(settings)) {
    throw new Error(`${file} holds runs with other settings (${JSON.stringify(previous.settings)}): use another --out`);
  }
  rows = previous.rows;
}
const seeds = values.seeds!.split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`--seeds must be integers ≥ 0, comma-separated; got "${values.seeds}"`);
const methods = values.methods!.split(',');

for (const method of methods) {
  for (const seed of seeds) {
    if (rows.some((r) => r.method === method && r.seed === seed)) continue;
    const out = pathToFileURL(join(values.out!, `${method}-seed${seed}`)).href;
    const t = run([
      'train', '--method', method, '--arch', values.arch!, '--dataset', values.dataset!, '--limit', values.limit!, '--epochs', values.epochs!,
      '--batch', values.batch!, '--lr', values.lr!, '--eps', values.eps!, '--seed', String(seed), '--eval-size', values['eval-size']!,
      '--eval-steps', '10', '--backend', values.backend!, '--out', out, '--resume', '--json',
    ]);
    const history = t.history as Array<{ epoch: number; train_seconds: number; collapse?: unknown }>;
    const e = run([
      'eval', '--model', String(t.model_uri), '--dataset', values.dataset!, '--limit', values['eval-limit']!, '--suite', values.suite!,
      '--eps', values.eps!, '--seed', String(seed), '--backend', values.backend!, '--out', `${out}/eval`, '--json',
    ]);
    const acc = (name: string) => (e.attacks as Array<{ name: string; robust_accuracy: number }>).find((a) => a.name === name)?.robust_accuracy ?? null;
    rows.push({
      method,
      seed,
      clean: e.clean_accuracy as number,
      fgsm: acc('fgsm') ?? NaN,
      pgd20: acc('pgd-20') ?? NaN,
      cw20: acc('cw-20') ?? NaN,
      autoattack: acc('autoattack'),
      worst: e.robust_accuracy as number,
      train_seconds_per_epoch: history.reduce((s, h) => s + h.train_seconds, 0) / history.length,
      collapsed_epochs: history.filter((h) => h.collapse).map((h) => h.epoch),
      collapsed: Boolean(t.collapsed),
      backend: String(t.backend),
    });
    writeFileSync(file, `${JSON.stringify({ settings, rows }, null, 2)}\n`);
  }
}

/** Mean ± sample sd over the seeds ("–" when a value is missing). */
function meanSd(xs: ReadonlyArray<number | null>): string {
  if (xs.length === 0 || xs.some((v) => v === null || Number.isNaN(v))) return '–';
  const v = xs as number[];
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  if (v.length === 1) return mean.toFixed(3);
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1));
  return `${mean.toFixed(3)} ± ${sd.toFixed(3)}`;
}

const lines = [
  `${values.dataset}, ε = ${values.eps}, ${values.arch}, ${values.limit} training images (+${values['eval-size']} held out of the training split for the per-epoch check), ` +
    `${values.epochs} epochs, batch ${values.batch}, lr ${values.lr}, seeds ${seeds.join(', ')}; evaluated on ${values['eval-limit']} test images (${values.suite} suite); mean ± sd over seeds`,
  '',
  '| method | clean | FGSM | PGD-20 | CW∞-20 | AutoAttack | worst case | train s/epoch | collapsed epochs | backend |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...methods.map((method) => {
    const rs = rows.filter((r) => r.method === method && seeds.includes(r.seed));
    const col = (k: 'clean' | 'fgsm' | 'pgd20' | 'cw20' | 'autoattack' | 'worst') => meanSd(rs.map((r) => r[k]));
    const collapsed = rs.map((r) => `s${r.seed}: ${r.collapsed_epochs.length ? r.collapsed_epochs.join(',') : '–'}${r.collapsed ? ' (final)' : ''}`).join('; ');
    const perEpoch = rs.reduce((s, r) => s + r.train_seconds_per_epoch, 0) / Math.max(1, rs.length);
    return `| ${method} | ${col('clean')} | ${col('fgsm')} | ${col('pgd20')} | ${col('cw20')} | ${col('autoattack')} | ${col('worst')} | ${perEpoch.toFixed(0)} | ${collapsed} | ${[...new Set(rs.map((r) => r.backend))].join(', ')} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
