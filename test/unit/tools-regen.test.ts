/**
 * The generated assets that mofa-web ships are reproducible from the committed scripts:
 * the face-model bundle (tools/model, bit-for-bit or within the tolerance stated in
 * tools/model/check_regen.py) and the ONNX detector/landmarker (tools/onnx, bit-for-bit),
 * plus the Python generators' own tests. Needs Debian's python3-numpy/scipy/onnx
 * (tools/setup.sh installs them).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PY = '/usr/bin/python3';
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('generated assets regenerate from the committed scripts', { timeout: 300_000 }, () => {
  const mp = mkdtempSync(join(tmpdir(), 'mofa-mp-'));

  it('extracts the MediaPipe assets from the npm packages', () => {
    expect(run('node', ['tools/model/extract-mediapipe.mjs', mp])).toMatch(/extracted 4 files/);
  });

  it('face-model bundle: regenerated == committed', () => {
    const out = run(PY, ['tools/model/check_regen.py', '--mp', mp]);
    expect(out).toMatch(/bit-for-bit|within tolerance/);
  });

  it('ONNX models: regenerated bit-for-bit', () => {
    const out = mkdtempSync(join(tmpdir(), 'mofa-onnx-'));
    try {
      run(PY, ['tools/onnx/convert_all.py', '--mp', mp, '--out', out, '--no-reference']);
      for (const f of ['face_detector_short.onnx', 'face_detector_full.onnx', 'face_landmarker.onnx']) {
        expect(sha(join(out, f)), f).toBe(sha(join('models', f)));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('Python generator tests pass (geometry, bases)', () => {
    for (const t of ['tools/model/test_geometry.py', 'tools/model/test_bases.py']) {
      run(PY, [t, mp]); // throws (and fails the test) on a non-zero exit
    }
    rmSync(mp, { recursive: true, force: true });
  });
});
