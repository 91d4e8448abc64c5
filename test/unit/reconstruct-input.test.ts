/**
 * Input normalisation details that the browser tests exercise end to end
 * (test/browser/reconstruct-robustness.test.ts): the PNG / JPEG header size parser that decides
 * whether an encoded image is decoded downscaled (MAX_DECODED_SIDE), and `decodeInput`'s scale
 * for inputs that are used as they are.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readImage } from '../../sdk/node/image-io.js';
import { decodeInput, encodedImageSize, MAX_DECODED_SIDE, MAX_DETECTION_SIDE } from '../../sdk/pipeline/input.js';

describe('encodedImageSize', () => {
  for (const file of ['demo/assets/astronaut.png', 'demo/assets/grace_hopper.jpg']) {
    it(`reads ${file}'s size from its header, as the decoder does`, () => {
      const img = readImage(file);
      expect(encodedImageSize(new Uint8Array(readFileSync(file)))).toEqual({ width: img.width, height: img.height });
    });
  }
  it('reads a 20000×20000 PNG header; null for non-image or truncated bytes', () => {
    const head = new Uint8Array(24);
    head.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(head.buffer).setUint32(16, 20000);
    new DataView(head.buffer).setUint32(20, 20000);
    expect(encodedImageSize(head)).toEqual({ width: 20000, height: 20000 });
    expect(encodedImageSize(head.subarray(0, 20))).toBeNull();
    expect(encodedImageSize(new TextEncoder().encode('not an image at all, only text'))).toBeNull();
    expect(encodedImageSize(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0, 0, 0, 0, 0, 0]))).toBeNull(); // JPEG without a frame header
  });
  it('MAX_DECODED_SIDE keeps the decoded copy above the detection size', () => {
    expect(MAX_DECODED_SIDE).toBeGreaterThan(MAX_DETECTION_SIDE);
  });
});

describe('decodeInput', () => {
  it('uses an RGBA buffer and a Node file as they are (scale 1, original size)', async () => {
    const img = readImage('demo/assets/astronaut.png');
    for (const input of [img, 'demo/assets/astronaut.png']) {
      const d = await decodeInput(input);
      expect(d.scale).toBe(1);
      expect([d.originalWidth, d.originalHeight]).toEqual([img.width, img.height]);
      expect([d.image.width, d.image.height]).toEqual([img.width, img.height]);
    }
  });
});
