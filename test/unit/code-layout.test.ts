import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CODE_DIM, CODE_OFFSET, CODE_SEGMENTS, codeSlices, packCode, wgslCodeLayoutConstants } from '../../sdk/model/code-layout.js';
import { GAMMA_DIM } from '../../sdk/model/shading.js';
import { MofaError } from '../../sdk/errors.js';

describe('code layout (paper Eq. 1)', () => {
  it('segments are contiguous, in order, and sum to 257', () => {
    let next = 0;
    for (const s of CODE_SEGMENTS) {
      expect(s.offset, s.name).toBe(next);
      expect(s.size).toBeGreaterThan(0);
      next += s.size;
    }
    expect(next).toBe(257);
    expect(CODE_DIM).toBe(257);
    expect(CODE_SEGMENTS.map((s) => [s.name, s.size])).toEqual([
      ['alpha', 80], ['delta', 64], ['beta', 80], ['rotation', 3], ['translation', 3], ['gamma', GAMMA_DIM],
    ]);
  });

  it('packCode and codeSlices are inverse; slices are views', () => {
    const parts = Object.fromEntries(CODE_SEGMENTS.map((s) => [s.name, Array.from({ length: s.size }, (_, k) => s.offset + k)]));
    const x = packCode(parts);
    for (let k = 0; k < CODE_DIM; k++) expect(x[k]).toBe(k);
    const s = codeSlices(x);
    expect(Array.from(s.translation)).toEqual([227, 228, 229]);
    s.gamma[0] = -1;
    expect(x[CODE_OFFSET.gamma]).toBe(-1);
    expect(Array.from(packCode({ rotation: [0.1, 0.2, 0.3] })).filter((v) => v !== 0)).toEqual([0.1, 0.2, 0.3]);
  });

  it('rejects wrong lengths with BAD_INPUT', () => {
    expect(() => packCode({ alpha: [1, 2] })).toThrow(MofaError);
    expect(() => codeSlices(new Float64Array(256))).toThrow(/257/);
  });

  it('the committed WGSL constants equal the generator output', async () => {
    const committed = await readFile(new URL('../../wgsl/generated/code-layout.wgsl', import.meta.url), 'utf8');
    expect(committed).toBe(wgslCodeLayoutConstants());
    expect(committed).toContain('const CODE_DIM: u32 = 257u;');
    expect(committed).toContain('const CODE_GAMMA_OFFSET: u32 = 230u;');
  });
});
