#!/usr/bin/env node
// The `mofa-web` executable (package.json "bin"). Runs the compiled CLI, dist/cli.js (Rollup
// build of sdk/node/cli.ts, made by `npm run build`), when it exists; in a source checkout
// without a build it runs sdk/node/cli.ts through tsx (a devDependency). Usage: `mofa-web --help`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const source = fileURLToPath(new URL('../sdk/node/cli.ts', import.meta.url));

let cli;
if (existsSync(dist)) {
  cli = await import(pathToFileURL(dist).href);
} else if (existsSync(source)) {
  const { tsImport } = await import('tsx/esm/api').catch(() => {
    process.stderr.write('mofa-web: dist/cli.js is missing and tsx is not installed: run `npm run build` first\n');
    process.exit(1);
  });
  cli = await tsImport(pathToFileURL(source).href, import.meta.url);
} else {
  process.stderr.write('mofa-web: dist/cli.js is missing: reinstall the package or run `npm run build`\n');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
