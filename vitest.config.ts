import { defineConfig } from 'vitest/config';
// @ts-expect-error -- plain ESM config module without type declarations
import { wgslString } from './rollup.config.mjs';

export default defineConfig({
  plugins: [wgslString()],
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node', // tests run in Node and drive Chromium through puppeteer-core
          globalSetup: ['test/browser/global-setup.ts'],
          fileParallelism: false, // one shared browser: test files run one after another
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
