/**
 * Test fixture: a 20000×20000 px RGB PNG (1.6 GB as RGBA once decoded, ~2 MB encoded) made in
 * Node without holding the pixels: a flat grey background with the portrait pasted in,
 * upscaled 16× by pixel replication. Rows are PNG-filtered (Sub for rows with new content,
 * Up for repeated rows) so the zlib stream is tiny.
 */
import { crc32, createDeflate } from 'node:zlib';
import { readImage } from '../../sdk/node/image-io.js';

export interface HugePng {
  bytes: Uint8Array;
  width: number;
  height: number;
  /** Original px per portrait px (pixel replication: portrait x ↦ offsetX + factor·x). */
  factor: number;
  offsetX: number;
  offsetY: number;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export async function hugePortraitPng(portraitPath = 'demo/assets/astronaut.png', size = 20000, factor = 16, offsetX = 6000, offsetY = 5000, grey = 128): Promise<HugePng> {
  const p = readImage(portraitPath);
  const W = size, H = size, stride = 1 + 3 * W;
  const deflate = createDeflate({ level: 1 });
  const parts: Buffer[] = [];
  deflate.on('data', (d: Buffer) => parts.push(d));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const up = new Uint8Array(stride);
  up[0] = 2; // filter Up, all-zero differences: the row repeats the previous one
  const raw = new Uint8Array(3 * W);
  const subRow = (): Uint8Array => {
    const row = new Uint8Array(stride);
    row[0] = 1; // filter Sub
    for (let i = 0; i < raw.length; i++) row[1 + i] = (raw[i] - (i >= 3 ? raw[i - 3] : 0)) & 255;
    return row;
  };
  // Rows are batched into ~4 MB writes (one stream write per row is slower than the deflate).
  const batch = new Uint8Array(stride * 64);
  let used = 0;
  const flush = async () => {
    if (used === 0) return;
    const ok = deflate.write(batch.slice(0, used));
    used = 0;
    if (!ok) await new Promise((r) => deflate.once('drain', r));
  };
  const write = async (row: Uint8Array) => {
    if (used + row.length > batch.length) await flush();
    batch.set(row, used);
    used += row.length;
  };
  for (let y = 0; y < H; y++) {
    const py = Math.floor((y - offsetY) / factor);
    const inBand = py >= 0 && py < p.height;
    const newContent = y === 0 || y === offsetY + p.height * factor || (inBand && (y - offsetY) % factor === 0);
    if (!newContent) {
      await write(up);
      continue;
    }
    raw.fill(grey);
    if (inBand) {
      for (let px = 0; px < p.width; px++) {
        const s = 4 * (py * p.width + px);
        for (let r = 0; r < factor; r++) {
          const x = offsetX + px * factor + r;
          if (x < W) raw.set([p.data[s], p.data[s + 1], p.data[s + 2]], 3 * x);
        }
      }
    }
    await write(subRow());
  }
  await flush();
  deflate.end();
  await ended;
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, W);
  dv.setUint32(4, H);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, adaptive filtering, no interlace
  const idat = Buffer.concat(parts);
  const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), width: W, height: H, factor, offsetX, offsetY };
}
