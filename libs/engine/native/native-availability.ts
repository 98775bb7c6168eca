/**
 * Whether tests of the native engine can run here. Where the addon is missing they are skipped with
 * the reason, except in CI (`CI=true`), where `.ci/run` installs oneDNN and `npm ci` builds the
 * addon: there a missing addon fails the tests instead of letting them pass untested.
 */
import { loadNative } from './addon.js';

/** A skip reason for `describe(…, { skip })`, or false when the native tests should run. */
export function nativeTestSkip(env: NodeJS.ProcessEnv = process.env): string | false {
  const load = loadNative();
  if (load.ok) return false;
  if (env.CI === 'true' || env.CI === '1') return false; // run, and fail on the missing addon
  return `native engine unavailable: ${load.reason}`;
}

/** Throws in CI when the addon is missing (see `nativeTestSkip`). */
export function assertNativeLoaded(): void {
  const load = loadNative();
  if (!load.ok) throw new Error(`CI must test the native engine, but ${load.reason}`);
}
