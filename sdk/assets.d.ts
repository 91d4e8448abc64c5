// Module declarations for non-TS imports that rollup.config.mjs turns into JS.

/** `import source from '../../wgsl/x.wgsl'` → the WGSL source text (the `wgslString` plugin). */
declare module '*.wgsl' {
  const source: string;
  export default source;
}

/** `import url from '…/x.wasm?url'` → absolute URL of the emitted asset (the `assetUrl` plugin). */
declare module '*?url' {
  const url: string;
  export default url;
}
