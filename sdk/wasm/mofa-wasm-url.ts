/**
 * URL of the bundled mofa.wasm. Rollup (rollup.config.mjs, `assetUrl` plugin) emits
 * build/wasm/mofa.wasm as dist/assets/mofa-[hash].wasm and resolves this import to its URL
 * relative to the importing bundle. Node callers read the file and pass bytes to `loadLinalg`.
 */
import url from '../../build/wasm/mofa.wasm?url';

export const MOFA_WASM_URL: string = url;
