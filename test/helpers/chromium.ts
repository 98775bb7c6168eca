/**
 * A real browser for the report and dashboard tests: Debian's Chromium driven by playwright-core
 * (no browser download). A missing Chromium fails the tests with what to install: CI installs it
 * (.ci/run), so these tests never skip.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** `HARDEN_CHROMIUM` overrides the path. */
export const CHROMIUM_PATH = process.env.HARDEN_CHROMIUM ?? '/usr/bin/chromium';

/** test-artifacts/ at the repository root (git-ignored): screenshots and pages a person can open after a run. */
export const ARTIFACTS_DIR = new URL('../../../test-artifacts/', import.meta.url).pathname;

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}, and the report and dashboard tests need a real browser: ` +
        'install it with "apt-get install -y chromium" (.ci/run does this), or set HARDEN_CHROMIUM to a Chromium binary.',
    );
  }
  // A fresh profile per run: no state from earlier runs, nothing written to $HOME.
  const userDataDir = mkdtempSync(join(tmpdir(), 'harden-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Records what must not happen on a page: console errors (CSP violations are reported there), uncaught
 * exceptions, dialogs (an injected `alert`), failed requests, and requests to anything but data:
 * URIs, the page's own file and `allowedOrigin`.
 */
export function watchPage(page: Page, allowedOrigin?: string): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('request', (r) => {
    const url = r.url();
    if (url.startsWith('data:') || url.startsWith('file:') || (allowedOrigin && url.startsWith(allowedOrigin))) return;
    problems.push(`network request: ${url}`);
  });
  page.on('requestfailed', (r) => {
    // Leaving a page cancels its event stream; that is not a failure.
    if (r.failure()?.errorText === 'net::ERR_ABORTED' && r.url().includes('/dashboard/events')) return;
    problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  return problems;
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, name);
}
