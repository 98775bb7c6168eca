#!/usr/bin/env node
// Builds the native engine's addon (native/, C++ over oneDNN) with node-gyp.
//
// `npm ci` / `npm install` run it with --optional: where oneDNN's headers are missing it exits 0
// without a word, and a failed build prints one line and exits 0 too, so the install never fails on
// it (the wasm engine serves instead). `npm run build:native` runs it strictly: it says what is
// missing and exits non-zero when the build fails. `npm test` adds --if-missing: it builds only
// when there is no addon yet (oneDNN installed after `npm ci`, e.g. by scripts/system-deps.sh).
//
// node-gyp is told to use the headers of the running Node (`--nodedir`) when they are installed
// next to it (Debian's nodejs, the official tarballs), so the build needs no download.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const optional = process.argv.includes('--optional');
const root = new URL('..', import.meta.url).pathname;
if (process.argv.includes('--if-missing') && existsSync(join(root, 'native', 'build', 'Release', 'harden_dnnl.node'))) process.exit(0);
const HEADER_DIRS = [process.env.DNNL_INCLUDE_DIR, '/usr/include', '/usr/local/include', '/opt/intel/oneapi/dnnl/latest/include'].filter(Boolean);
const header = HEADER_DIRS.map((d) => join(d, 'dnnl.hpp')).find((p) => existsSync(p));

if (process.env.HARDEN_SKIP_NATIVE === '1') process.exit(0);
if (!header) {
  if (optional) process.exit(0);
  console.error('native: oneDNN headers (dnnl.hpp) not found; install them with `apt-get install libdnnl-dev` (Debian/Ubuntu) and run `npm run build:native` again');
  process.exit(1);
}

const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  const message = 'native: node-gyp is not installed (npm ci installs it); skipped the native engine';
  console.error(message);
  process.exit(optional ? 0 : 1);
}

// Node's own headers: <prefix>/include/node next to the running binary.
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
const result = spawnSync(process.execPath, [gyp, 'rebuild', '--directory=native', ...nodedir], {
  cwd: root,
  stdio: optional ? ['ignore', 'ignore', 'pipe'] : 'inherit',
  encoding: 'utf8',
  env: { ...process.env, CXXFLAGS: `${process.env.CXXFLAGS ?? ''} -I${dirname(header)}`.trim() },
});
if (result.status !== 0) {
  if (optional) {
    const lastError = (result.stderr ?? '').split('\n').find((l) => /error/i.test(l))?.trim() ?? `node-gyp exited with ${result.status}`;
    console.error(`native: the oneDNN engine did not build (${lastError.slice(0, 200)}); using wasm. Details: npm run build:native`);
    process.exit(0);
  }
  process.exit(result.status ?? 1);
}
if (!optional) console.error('native: built native/build/Release/harden_dnnl.node');
