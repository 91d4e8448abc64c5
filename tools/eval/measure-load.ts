/**
 * Bundle size and load time of the face model. Works in Node (file path) and in the browser
 * (URL; the test harness calls it there) — no Node-only imports at module level.
 */
import { loadFaceModel, type FaceModelSource } from '../../sdk/model/load-face-model.js';

export interface LoadMeasurement {
  /** Bundle size, bytes and MB (10⁶ bytes). */
  bytes: number;
  megabytes: number;
  /** Wall time of each `loadFaceModel(source)` call, ms (read/fetch + checksum + parse + expansion). */
  runsMs: number[];
  /** First (cold) call and the median of all calls, ms. */
  firstMs: number;
  medianMs: number;
}

async function sourceSize(source: FaceModelSource): Promise<number> {
  if (source instanceof Uint8Array) return source.byteLength;
  if (source instanceof ArrayBuffer) return source.byteLength;
  const str = String(source);
  const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
  if (isNode && !/^(https?|blob|data):/i.test(str)) {
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    return (await fs.stat(str.startsWith('file:') ? new URL(str) : str)).size;
  }
  const res = await fetch(str);
  return (await res.arrayBuffer()).byteLength;
}

/**
 * Loads the bundle `repeats` times and reports its size and the load times.
 * @param source path (Node), URL or bytes; default the repository's bundle path.
 * @param repeats number of timed loads (default 5, ≥ 1).
 */
export async function measureLoad(source: FaceModelSource = 'models/mofa-face-v1.mofa', repeats = 5): Promise<LoadMeasurement> {
  const runsMs: number[] = [];
  for (let i = 0; i < Math.max(1, repeats); i++) {
    const t0 = performance.now();
    await loadFaceModel(source);
    runsMs.push(performance.now() - t0);
  }
  const bytes = await sourceSize(source);
  const sorted = [...runsMs].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[m] : 0.5 * (sorted[m - 1] + sorted[m]);
  return { bytes, megabytes: bytes / 1e6, runsMs, firstMs: runsMs[0], medianMs };
}
