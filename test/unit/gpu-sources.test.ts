import { describe, expect, it } from 'vitest';
import axpySource from '../../wgsl/axpy.wgsl';
import { AXPY_WORKGROUP_SIZE, axpyRef } from '../../sdk/gpu/axpy.js';
import { alignTo16 } from '../../sdk/gpu/gpu-context.js';

describe('GPU sources and helpers (Node, no device)', () => {
  it('imports wgsl/axpy.wgsl as text with one @compute entry point and its bindings', () => {
    expect(typeof axpySource).toBe('string');
    expect(axpySource.match(/@compute/g)).toHaveLength(1);
    for (const b of [0, 1, 2]) expect(axpySource).toContain(`@binding(${b})`);
    expect(axpySource).toMatch(/override WORKGROUP_SIZE: u32/);
    expect(AXPY_WORKGROUP_SIZE).toBeLessThanOrEqual(256); // maxComputeInvocationsPerWorkgroup
  });

  it('axpyRef computes y ← a·x + y in f32', () => {
    const y = new Float32Array([1, 2, 3]);
    axpyRef(0.5, new Float32Array([2, -4, 0.1]), y);
    expect(Array.from(y)).toEqual([2, 0, Math.fround(0.5 * Math.fround(0.1) + 3)]);
  });

  it('alignTo16 rounds byte sizes up to multiples of 16', () => {
    expect([0, 1, 15, 16, 17, 4 * 257].map(alignTo16)).toEqual([0, 16, 16, 16, 32, 1040]);
  });
});
