/**
 * Writes the WGSL constants generated from TypeScript tables:
 *   wgsl/generated/code-layout.wgsl ← wgslCodeLayoutConstants() (sdk/model/code-layout.ts)
 * Usage: npx tsx tools/gen-wgsl-constants.ts
 * test/unit/code-layout.test.ts fails when the committed file differs from the generator.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { wgslCodeLayoutConstants } from '../sdk/model/code-layout.js';

const out = fileURLToPath(new URL('../wgsl/generated/code-layout.wgsl', import.meta.url));
await mkdir(fileURLToPath(new URL('../wgsl/generated/', import.meta.url)), { recursive: true });
await writeFile(out, wgslCodeLayoutConstants());
console.log(`wrote ${out}`);
