#!/usr/bin/env node
// Fails when the committed generated code (libs/rpc/gen/) is not what `buf generate` makes from
// proto/ now, or when `buf lint` finds a problem. CI runs it (`npm run check:generated`, and
// test/rpc-codegen.test.ts inside `npm test`). Fix a failure with `npm run generate` and commit.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'node_modules', '.bin');
const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
const GEN = 'libs/rpc/gen';

function run(args) {
  const r = spawnSync(join(bin, 'buf'), args, { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`buf ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
}

function files(dir) {
  const out = new Map();
  (function walk(d) {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  })(dir);
  return out;
}

run(['lint']);
const tmp = mkdtempSync(join(tmpdir(), 'harden-gen-'));
try {
  run(['generate', '--output', tmp]);
  const fresh = files(join(tmp, GEN));
  const committed = files(join(root, GEN));
  const problems = [];
  for (const [name, bytes] of fresh) {
    const mine = committed.get(name);
    if (!mine) problems.push(`missing: ${GEN}/${name}`);
    else if (!mine.equals(bytes)) problems.push(`stale: ${GEN}/${name}`);
  }
  for (const name of committed.keys()) if (!fresh.has(name)) problems.push(`not generated from proto/ (delete it): ${GEN}/${name}`);
  if (problems.length > 0) {
    process.stderr.write(`generated code is out of date with proto/:\n  ${problems.join('\n  ')}\nrun "npm run generate" and commit the result\n`);
    process.exit(1);
  }
  process.stdout.write(`${GEN} is up to date with proto/ (${fresh.size} files); buf lint passed\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
