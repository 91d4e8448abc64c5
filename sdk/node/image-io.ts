/**
 * Node-only image file I/O (PNG via pngjs, JPEG via jpeg-js). Browser code never imports this.
 * Images are RGBA8, row-major, top-left origin, `data.length === width * height * 4`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { MofaError } from '../errors.js';

export interface RgbaImage {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** Decodes PNG or JPEG bytes (sniffed by magic number). Throws MofaError('BAD_INPUT'). */
export function decodeImage(bytes: Uint8Array): RgbaImage {
  const isPng = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), width: png.width, height: png.height };
    }
    if (isJpeg) {
      const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return { data: new Uint8ClampedArray(j.data.buffer, j.data.byteOffset, j.data.length), width: j.width, height: j.height };
    }
  } catch (cause) {
    throw new MofaError('BAD_INPUT', `could not decode the image bytes (${(cause as Error).message}); pass a valid PNG or JPEG`, { cause });
  }
  throw new MofaError('BAD_INPUT', 'unrecognised image bytes: pass a PNG or JPEG file, or an RGBA { data, width, height } buffer');
}

export function readImage(path: string): RgbaImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new MofaError('BAD_INPUT', `cannot read image file ${path}: ${(cause as Error).message}`, { cause });
  }
  return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

export function encodePng(img: RgbaImage): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png);
}

export function writePng(path: string, img: RgbaImage): void {
  writeFileSync(path, encodePng(img));
}
