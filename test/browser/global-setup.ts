/**
 * Vitest globalSetup of the 'browser' project: starts ONE headless Chromium (Debian's
 * /usr/bin/chromium with WebGPU on SwiftShader, flags from shared/recipes/webgpu-headless.md)
 * and one static server for the whole run, hands their addresses to the tests through
 * `provide` (read them with `inject('wsEndpoint')`, `inject('baseUrl')`), and closes both
 * at teardown, removing the browser's temporary profile.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import type { TestProject } from 'vitest/node';
import { startStaticServer } from './static-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Puppeteer WebSocket endpoint of the shared browser. */
    wsEndpoint: string;
    /** Base URL of the static server, e.g. "http://127.0.0.1:41234" (repository root). */
    baseUrl: string;
  }
}

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Exactly the recipe's flags. Never add --disable-software-rasterizer (the adapter vanishes). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];

/** Files the browser tests load; produced by `npm run build`. */
const REQUIRED_BUILD_OUTPUTS = ['dist/workers/smoke-worker.js', 'build/wasm/mofa.wasm'];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = project.config.root;
  const missing = REQUIRED_BUILD_OUTPUTS.filter((f) => !existsSync(path.join(root, f)));
  if (missing.length) throw new Error(`Browser tests need ${missing.join(', ')}: run \`npm run build\` first.`);
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} not found: run tools/setup.sh (apt-get install chromium).`);
  // Chromium complains (harmlessly, but noisily) when XDG_RUNTIME_DIR is unset or invalid.
  if (!process.env.XDG_RUNTIME_DIR || !existsSync(process.env.XDG_RUNTIME_DIR)) process.env.XDG_RUNTIME_DIR = '/tmp';

  const server = await startStaticServer(root);
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'mofa-chromium-'));
  let browser: Awaited<ReturnType<typeof puppeteer.launch>>;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      userDataDir,
      args: CHROMIUM_ARGS,
      protocolTimeout: 180_000,
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR },
    });
  } catch (e) {
    await server.close();
    await rm(userDataDir, { recursive: true, force: true });
    throw e;
  }
  project.provide('wsEndpoint', browser.wsEndpoint());
  project.provide('baseUrl', server.baseUrl);

  return async () => {
    await browser.close().catch(() => browser.process()?.kill('SIGKILL'));
    await server.close();
    await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
  };
}
