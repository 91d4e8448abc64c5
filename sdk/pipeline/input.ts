/**
 * Input normalisation: every image a web app (or a Node script) has → one RGBA8 `RgbaImage`
 * (row-major, top-left origin, `data.length = 4·W·H`), plus the downscaled copy the face
 * detector runs on. Huge encoded images are decoded downscaled (MAX_DECODED_SIDE, `decodeInput`).
 *
 * Accepted inputs (`ImageInput`):
 * - everywhere: `ImageData` or any `{ data, width, height }` RGBA8 buffer;
 * - browser / worker: HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, ImageBitmap,
 *   VideoFrame, HTMLVideoElement, Blob / File (PNG, JPEG, WebP, … whatever the browser decodes),
 *   a URL string or URL object (fetched);
 * - Node: a file path or file: URL (PNG / JPEG), or the encoded bytes (Uint8Array / Buffer /
 *   ArrayBuffer).
 * Errors: MofaError('BAD_INPUT') for anything else, non-image bytes, a broken URL, or an image
 * smaller than MIN_IMAGE_SIDE px on a side (0×0 included).
 */
import { MofaError } from '../errors.js';
import type { RgbaImage } from '../vision/image.js';

/** Smallest side, px, of an image the pipeline accepts: below it no face can be detected. */
export const MIN_IMAGE_SIDE = 32;
/**
 * Longer side, px, of the copy the face detector runs on (its network input is 128 px; the
 * letterbox warp area-averages up to 4× per axis, so 1024 keeps the detector input alias-free).
 * Larger inputs are downscaled for detection only; landmarks and the crop are sampled from the
 * original pixels.
 */
export const MAX_DETECTION_SIDE = 1024;

/**
 * Longer side, px, above which an ENCODED image (Blob / File, URL, encoded bytes) is decoded
 * downscaled in the browser (`createImageBitmap` with `resizeWidth` / `resizeHeight`, quality
 * 'high'), so a huge photo (e.g. 20000×20000 px = 1.6 GB of RGBA) is neither rejected nor
 * copied around at full size. The pipeline then works on the decoded copy and reports every
 * result (landmarks, `projectToImage`, pose intrinsics, face box, `imageSize`) in the ORIGINAL
 * image's pixels (`DecodedImage.scale`). Faces must be ≥ ~40 px wide in the decoded copy, i.e.
 * ≥ 40·scale px in the original. Decoded pixel inputs (ImageData, canvases, bitmaps) are used as
 * they are; Node decodes at full size.
 */
export const MAX_DECODED_SIDE = 8192;

/** An input image as the pipeline works on it (see `decodeInput`). */
export interface DecodedImage {
  /** The pixels the pipeline runs on. */
  image: RgbaImage;
  /**
   * Original-image px per `image` px, used for both axes: 1 unless a huge encoded image was
   * decoded downscaled; then W / image.width (H / image.height differs from it by a relative
   * < 0.5 / image.height from rounding the decoded size).
   */
  scale: number;
  /** Size of the original image, px. */
  originalWidth: number;
  originalHeight: number;
}

/** Anything `reconstruct()` accepts (see the module comment). */
export type ImageInput =
  | RgbaImage
  | ImageData
  | ImageBitmap
  | OffscreenCanvas
  | VideoFrame
  | Blob
  | HTMLImageElement
  | HTMLCanvasElement
  | HTMLVideoElement
  | string
  | URL
  | ArrayBuffer
  | Uint8Array;

const isNode = (): boolean => typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined' && typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === 'undefined';

/** Type guard for an RGBA buffer ({ data, width, height } with a byte array as data). */
export function isRgbaLike(v: unknown): v is RgbaImage {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { data?: unknown; width?: unknown; height?: unknown };
  return (o.data instanceof Uint8Array || o.data instanceof Uint8ClampedArray) && typeof o.width === 'number' && typeof o.height === 'number';
}

/**
 * Checks an RGBA buffer: integer size ≥ MIN_IMAGE_SIDE and `data.length = 4·W·H`.
 * @throws MofaError('BAD_INPUT') with what to fix.
 */
export function checkRgbaImage(img: RgbaImage): RgbaImage {
  const { width: w, height: h } = img;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 0 || h < 0) throw new MofaError('BAD_INPUT', `image size ${w}×${h} is not a pair of non-negative integers`);
  if (w < MIN_IMAGE_SIDE || h < MIN_IMAGE_SIDE) {
    throw new MofaError('BAD_INPUT', `image is ${w}×${h} px; mofa-web needs at least ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} px to find a face: pass a larger photo`);
  }
  if (img.data.length !== 4 * w * h) {
    throw new MofaError('BAD_INPUT', `image data has ${img.data.length} bytes, expected 4·${w}·${h} = ${4 * w * h} (RGBA8, row-major)`);
  }
  return img;
}

/** Draws a browser image source into an OffscreenCanvas and reads its RGBA pixels. */
function pixelsOf(source: CanvasImageSource, width: number, height: number): RgbaImage {
  if (!(width > 0 && height > 0)) throw new MofaError('BAD_INPUT', `image is ${width}×${height} px (not loaded, or empty): pass a decoded, non-empty image`);
  if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE) return checkRgbaImage({ data: new Uint8ClampedArray(0), width, height });
  if (typeof OffscreenCanvas === 'undefined') throw new MofaError('BAD_INPUT', 'this environment has no OffscreenCanvas to read the image pixels: pass an RGBA { data, width, height } buffer');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new MofaError('BAD_INPUT', 'could not create a 2D canvas to read the image pixels: pass an RGBA { data, width, height } buffer');
  ctx.drawImage(source, 0, 0, width, height);
  const id = ctx.getImageData(0, 0, width, height);
  return { data: id.data, width, height };
}

/**
 * Width and height from a PNG (IHDR) or baseline/progressive JPEG (SOFn) header, without
 * decoding; null for other formats or a malformed header.
 */
export function encodedImageSize(bytes: Uint8Array): { width: number; height: number } | null {
  const b = bytes;
  const u16 = (o: number) => (b[o] << 8) | b[o + 1];
  const u32 = (o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && u32(12) === 0x49484452) {
    return { width: u32(16), height: u32(20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let o = 2;
    while (o + 9 < b.length) {
      if (b[o] !== 0xff) return null;
      const marker = b[o + 1];
      if (marker === 0xff) {
        o++; // fill byte
        continue;
      }
      // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC): height at +5, width at +7.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: u16(o + 7), height: u16(o + 5) };
      o += 2 + u16(o + 2);
    }
  }
  return null;
}

/**
 * Decodes encoded bytes / a Blob in the browser with createImageBitmap; downscaled to longer
 * side MAX_DECODED_SIDE when the header says the image is larger (or, for formats whose size
 * the header parser does not read, when the full decode is larger).
 */
async function decodeBlob(blob: Blob): Promise<DecodedImage> {
  if (typeof createImageBitmap === 'undefined') throw new MofaError('BAD_INPUT', 'createImageBitmap is unavailable here: pass an RGBA { data, width, height } buffer');
  const header = encodedImageSize(new Uint8Array(await blob.slice(0, 64 * 1024).arrayBuffer()));
  const target = (W: number, H: number) => {
    const s = Math.max(W, H) / MAX_DECODED_SIDE;
    return { resizeWidth: Math.max(1, Math.round(W / s)), resizeHeight: Math.max(1, Math.round(H / s)), resizeQuality: 'high' as const };
  };
  const huge = header !== null && Math.max(header.width, header.height) > MAX_DECODED_SIDE;
  let bmp: ImageBitmap;
  try {
    bmp = huge ? await createImageBitmap(blob, target(header.width, header.height)) : await createImageBitmap(blob);
  } catch (cause) {
    const what = huge ? `the ${header.width}×${header.height} px image could not be decoded at ${target(header.width, header.height).resizeWidth}×${target(header.width, header.height).resizeHeight} (${(cause as Error).message}); pass a smaller image` : `the bytes are not an image this browser can decode (${(cause as Error).message}); pass a PNG, JPEG or WebP`;
    throw new MofaError('BAD_INPUT', what, { cause });
  }
  const W = huge ? header.width : bmp.width, H = huge ? header.height : bmp.height;
  if (!huge && Math.max(W, H) > MAX_DECODED_SIDE) {
    // Size unknown from the header (WebP, GIF, …): decoded in full; shrink the bitmap before reading its pixels.
    const small = await createImageBitmap(bmp, target(W, H));
    bmp.close();
    bmp = small;
  }
  try {
    return { image: pixelsOf(bmp, bmp.width, bmp.height), scale: W / bmp.width, originalWidth: W, originalHeight: H };
  } finally {
    bmp.close();
  }
}

/** Node image decoding (sdk/node/image-io.ts), imported lazily so browser bundles never include it. */
async function nodeImageIo(): Promise<{ decodeImage(b: Uint8Array): RgbaImage; readImage(p: string): RgbaImage }> {
  const spec = '../node/image-io.js'; // variable specifier: bundlers leave it alone
  try {
    return (await import(/* @vite-ignore */ spec)) as { decodeImage(b: Uint8Array): RgbaImage; readImage(p: string): RgbaImage };
  } catch (cause) {
    throw new MofaError('BAD_INPUT', `PNG/JPEG decoding is not available in this Node build (${(cause as Error).message}): pass an RGBA { data, width, height } buffer`, { cause });
  }
}

/**
 * Converts any `ImageInput` into a checked RGBA8 image (module comment). The result may share
 * memory with the input (an RGBA buffer is used as is, never modified). A huge encoded image is
 * returned downscaled (MAX_DECODED_SIDE): use `decodeInput` to get the scale.
 * @throws MofaError('BAD_INPUT').
 */
export async function toRgbaImage(input: ImageInput): Promise<RgbaImage> {
  return (await decodeInput(input)).image;
}

/**
 * Converts any `ImageInput` into the checked RGBA8 image the pipeline runs on, with the scale
 * back to the original image (MAX_DECODED_SIDE).
 * @throws MofaError('BAD_INPUT').
 */
export async function decodeInput(input: ImageInput): Promise<DecodedImage> {
  const full = (image: RgbaImage): DecodedImage => ({ image, scale: 1, originalWidth: image.width, originalHeight: image.height });
  const decoded = await decodeAny(input);
  return 'originalWidth' in decoded ? decoded : full(decoded);
}

async function decodeAny(input: ImageInput): Promise<RgbaImage | DecodedImage> {
  if (input === null || input === undefined) throw new MofaError('BAD_INPUT', 'no image given: pass an image, canvas, ImageData, Blob, URL or (Node) a file path');
  if (isRgbaLike(input)) return checkRgbaImage({ data: input.data, width: input.width, height: input.height });
  const g = globalThis as unknown as Record<string, undefined | (abstract new (...a: never[]) => unknown)>;
  const is = (name: string): boolean => typeof g[name] === 'function' && input instanceof (g[name] as abstract new (...a: never[]) => unknown);
  if (is('ImageBitmap')) return pixelsOf(input as ImageBitmap, (input as ImageBitmap).width, (input as ImageBitmap).height);
  if (is('OffscreenCanvas')) return pixelsOf(input as OffscreenCanvas, (input as OffscreenCanvas).width, (input as OffscreenCanvas).height);
  if (is('VideoFrame')) return pixelsOf(input as VideoFrame, (input as VideoFrame).displayWidth, (input as VideoFrame).displayHeight);
  if (is('HTMLImageElement')) {
    const el = input as HTMLImageElement;
    if (!el.complete) {
      try {
        await el.decode();
      } catch (cause) {
        throw new MofaError('BAD_INPUT', `the <img> could not be loaded (${el.src}): check the URL`, { cause });
      }
    }
    return pixelsOf(el, el.naturalWidth, el.naturalHeight);
  }
  if (is('HTMLCanvasElement')) return pixelsOf(input as HTMLCanvasElement, (input as HTMLCanvasElement).width, (input as HTMLCanvasElement).height);
  if (is('HTMLVideoElement')) return pixelsOf(input as HTMLVideoElement, (input as HTMLVideoElement).videoWidth, (input as HTMLVideoElement).videoHeight);
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input instanceof Uint8Array ? input : null;
  if (isNode()) {
    if (bytes) return checkRgbaImage((await nodeImageIo()).decodeImage(bytes));
    if (typeof input === 'string' || input instanceof URL) {
      const s = String(input);
      if (/^(https?|data|blob):/i.test(s)) return fetchImage(s);
      const io = await nodeImageIo();
      const path = s.startsWith('file:') ? decodeURIComponent(new URL(s).pathname) : s;
      return checkRgbaImage(io.readImage(path));
    }
  } else {
    if (bytes) return decodeBlob(new Blob([bytes as Uint8Array<ArrayBuffer>]));
    if (is('Blob')) return decodeBlob(input as Blob);
    if (typeof input === 'string' || input instanceof URL) return fetchImage(String(input));
  }
  throw new MofaError('BAD_INPUT', `unsupported image input (${Object.prototype.toString.call(input)}): pass ImageData, an RGBA { data, width, height } buffer, a canvas, ImageBitmap, VideoFrame, <img>, Blob, URL or (Node) a file path`);
}

async function fetchImage(url: string): Promise<RgbaImage | DecodedImage> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (cause) {
    throw new MofaError('BAD_INPUT', `could not fetch the image ${url} (${(cause as Error).message}): check the URL and its CORS headers`, { cause });
  }
  if (!res.ok) throw new MofaError('BAD_INPUT', `fetching the image ${url} failed with HTTP ${res.status}: check the URL`);
  const buf = new Uint8Array(await res.arrayBuffer());
  if (isNode()) return checkRgbaImage((await nodeImageIo()).decodeImage(buf));
  return decodeBlob(new Blob([buf]));
}

/**
 * The image the detector runs on: `image` itself when its longer side is ≤ maxSide, else a
 * box-filtered downscale to longer side maxSide. Returns the image and the factors
 * `scaleX`, `scaleY` = original px per detection px (≥ 1), so detections map back by multiplying.
 */
export function downscaleForDetection(image: RgbaImage, maxSide = MAX_DETECTION_SIDE): { image: RgbaImage; scaleX: number; scaleY: number } {
  const { width: W, height: H, data } = image;
  const longer = Math.max(W, H);
  if (longer <= maxSide) return { image, scaleX: 1, scaleY: 1 };
  const scale = longer / maxSide;
  const w = Math.max(1, Math.round(W / scale)), h = Math.max(1, Math.round(H / scale));
  const sx = W / w, sy = H / h;
  const out = new Uint8ClampedArray(4 * w * h);
  const acc = new Float64Array(4);
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor(y * sy), y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor(x * sx), x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      acc.fill(0);
      for (let yy = y0; yy < y1; yy++) {
        let p = 4 * (yy * W + x0);
        for (let xx = x0; xx < x1; xx++, p += 4) {
          acc[0] += data[p]; acc[1] += data[p + 1]; acc[2] += data[p + 2]; acc[3] += data[p + 3];
        }
      }
      const n = (y1 - y0) * (x1 - x0), o = 4 * (y * w + x);
      for (let c = 0; c < 4; c++) out[o + c] = acc[c] / n;
    }
  }
  return { image: { data: out, width: w, height: h }, scaleX: W / w, scaleY: H / h };
}
