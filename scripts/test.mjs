#!/usr/bin/env node
// Runs the compiled test suite: every dist/**/*.spec.js (unit tests beside their code) and
// dist/test/**/*.test.js (tests across libs). Node 20's test runner takes no globs, hence this.
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=...); a path filter may be
// given with TEST_FILTER=substring.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (/\.spec\.js$/.test(entry.name) || (/\.test\.js$/.test(entry.name) && relative(root, path).startsWith('test/'))) files.push(path);
  }
})(root);
const filter = process.env.TEST_FILTER;
const selected = files.sort().filter((f) => !filter || f.includes(filter));
if (selected.length === 0) {
  console.error(`no test files found under ${root}${filter ? ` matching "${filter}"` : ''}`);
  process.exit(1);
}
const concurrency = process.env.HARDEN_TEST_CONCURRENCY ?? '2';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...process.argv.slice(2), ...selected], { stdio: 'inherit' });
process.exit(result.status ?? 1);
