/**
 * Helpers for browser tests (project 'browser' in vitest.config.ts). The shared Chromium and
 * static server are started by global-setup.ts; tests reach them through `inject`.
 *
 *   const page = await openPage('/test/browser/pages/smoke.html');
 *   const n = await withDevice(page, (device) => device.limits.maxBufferSize);
 *
 * Every page's console, uncaught errors (page and its Web Workers) and failed HTTP responses
 * are recorded; when the test finishes the page is closed and the test FAILS if any uncaught
 * error or HTTP error occurred.
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { inject, onTestFinished } from 'vitest';

export interface PageLog {
  /** Console messages of the page and its workers, as "type: text". */
  console: string[];
  /** Uncaught exceptions and unhandled rejections (page or worker). Any entry fails the test. */
  errors: string[];
  /** Responses with HTTP status ≥ 400, as "status url". Any entry fails the test. */
  httpErrors: string[];
}

const logs = new WeakMap<Page, PageLog>();
let browser: Promise<Browser> | null = null;

/** The base URL of the static server (repository root), without trailing slash. */
export function baseUrl(): string {
  return inject('baseUrl');
}

/** Connects (once per test file) to the Chromium launched by global-setup.ts. */
export function getBrowser(): Promise<Browser> {
  browser ??= puppeteer.connect({ browserWSEndpoint: inject('wsEndpoint'), protocolTimeout: 180_000 });
  return browser;
}

/** Console / error record of a page opened with `openPage`. */
export function pageLog(page: Page): PageLog {
  const log = logs.get(page);
  if (!log) throw new Error('pageLog: this page was not opened with openPage()');
  return log;
}

/**
 * Opens `path` (relative to the repository root, e.g. '/test/browser/pages/blank.html') in a
 * new tab of the shared browser and waits for `load` and, if the page defines it, for the
 * promise `globalThis.__ready`. Must be called inside a test: the page is closed when the
 * test finishes, and the test fails if the page or its workers threw.
 */
export async function openPage(path: string): Promise<Page> {
  const page = await (await getBrowser()).newPage();
  const log: PageLog = { console: [], errors: [], httpErrors: [] };
  logs.set(page, log);
  // Chromium forwards dedicated workers' console messages and uncaught errors to the page.
  page.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.errors.push(`page: ${e instanceof Error ? e.message : String(e)}`));
  page.on('response', (r) => {
    if (r.status() >= 400) log.httpErrors.push(`${r.status()} ${r.url()}`);
  });
  onTestFinished(async () => {
    await page.close().catch(() => undefined);
    const problems = [...log.errors, ...log.httpErrors];
    if (problems.length) throw new Error(`${path} reported errors:\n  ${problems.join('\n  ')}`);
  });
  await page.goto(`${baseUrl()}${path}`, { waitUntil: 'load' });
  await page.evaluate(() => (globalThis as { __ready?: Promise<unknown> }).__ready);
  return page;
}

/**
 * Runs `fn(device, arg)` in the page on a fresh GPUDevice inside 'validation' and
 * 'out-of-memory' error scopes (test/browser/pages/with-device.js): rejects if any WebGPU
 * validation / OOM error occurred, and destroys every buffer and texture `fn` created.
 * `fn` is serialised with `toString()`, so it must not close over test-side variables: pass
 * data through `arg` (JSON-compatible) and return serialisable results. It runs in the page as
 * written after Vitest's transform, so avoid `import()` and `import.meta` inside it.
 */
export async function withDevice<T, A = undefined>(
  page: Page,
  fn: (device: GPUDevice, arg: A) => T | Promise<T>,
  arg?: A,
): Promise<T> {
  const moduleUrl = `${baseUrl()}/test/browser/pages/with-device.js`;
  return (await page.evaluate(
    async (url: string, source: string, a: unknown) => {
      // `import()` written literally would be rewritten by Vitest's SSR transform.
      const mod = await (new Function('u', 'return import(u)') as (u: string) => Promise<{ withDevice: (f: unknown) => unknown }>)(url);
      const f = (0, eval)(`(${source})`) as (d: GPUDevice, a: unknown) => unknown;
      return mod.withDevice((device: GPUDevice) => f(device, a));
    },
    moduleUrl,
    fn.toString(),
    arg as unknown,
  )) as T;
}
