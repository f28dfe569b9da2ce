/**
 * Tests in a real browser: the system's Chromium (Debian's /usr/bin/chromium, or TSTRACE_CHROMIUM),
 * driven headless by playwright-core, with a fresh profile. Without it the suites skip, saying why —
 * except under CI=true, where they fail.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';

/** The system's Chromium (another one can be given in TSTRACE_CHROMIUM). */
export const CHROMIUM = process.env.TSTRACE_CHROMIUM ?? '/usr/bin/chromium';
export const CI = process.env.CI === 'true';

/** Null when every path exists; else which are missing, for people. */
export function missing(paths: Record<string, string>): string | null {
  const absent = Object.entries(paths).filter(([, path]) => !existsSync(path));
  return absent.length === 0 ? null : absent.map(([what, path]) => `${what} (${path})`).join(', ') + ' not found';
}

/**
 * Tests that need a browser (or files it shows): run when `absent` is null; else skipped with the
 * reason (a warning naming `testFile`), or one failing test under CI=true.
 */
export function browserSuite(testFile: string, name: string, absent: string | null, install: string, body: () => void): void {
  if (absent === null) {
    describe(name, body);
    return;
  }
  if (CI) {
    test(`${name}: the viewer is installed (required under CI=true)`, () => {
      throw new Error(`${absent}: ${install}`);
    });
    return;
  }
  console.warn(`${testFile}: skipping "${name}": ${absent} (${install})`);
  describe.skip(`${name} (skipped: ${absent})`, body);
}

/** Headless Chromium (the system's, never a downloaded one), with a fresh profile in a folder under `dir`. */
export async function launchChromium(dir: string) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(dir, 'chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * For a browser suite: Chromium launched before its tests and closed after them, and `open(hash)`, which
 * opens a page of the viewer at `url()` in a new tab, waits until it is ready, and collects its errors:
 * uncaught exceptions, console errors (a failed request among them), and any request that goes
 * anywhere but the viewer (nothing the page does may leave the machine).
 */
export function viewerPages(dir: string, url: () => string): (hash: string) => Promise<{ tab: Page; errors: string[] }> {
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    browser = await launchChromium(dir);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });
  return async (hash) => {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    tab.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
    });
    tab.on('request', (request) => {
      if (new URL(request.url()).origin !== new URL(url()).origin) errors.push(`a request leaves the viewer: ${request.url()}`);
    });
    await tab.goto(`${url()}${hash}`);
    await tab.waitForSelector('body[data-ready="true"]');
    return { tab, errors };
  };
}

/** Waits until the page's timeline has the data of the range it shows (a zoom or pan fetches it a moment later). */
export async function timelineSettled(tab: Page): Promise<void> {
  await tab.waitForFunction(() => {
    const t = (window as unknown as { tstraceTimeline: { data: { from: number; to: number }; from: number; to: number } }).tstraceTimeline;
    return t.data.from === t.from && t.data.to === t.to;
  });
}
