// Runs the converted MediaPipe ONNX models with onnxruntime-web (wasm backend, 1 thread) in
// Node on the inputs written by tools/onnx/convert_all.py and compares the outputs with the
// numpy reference interpreter's (tools/onnx/reference.py), element by element.
//
// Usage: node tools/onnx/check-onnx.mjs [checkDir=build/onnx-check] [--tol 1e-3]
// Reads <checkDir>/manifest.json: cases [{ model (path relative to checkDir), name, case,
//   input {name, file, shape}, outputs [{name, file, shape}] }], files are float32 LE.
// Prints per case and output the max abs error (and max abs reference value for scale);
// for the landmarker on the astronaut crop also checks that all 468 (x, y) lie inside the
// 192-px crop and that the face flag logit is positive. Exits 1 if any check fails.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import * as ort from 'onnxruntime-web';

const argv = process.argv.slice(2);
const tolIdx = argv.indexOf('--tol');
const tol = tolIdx >= 0 ? Number(argv[tolIdx + 1]) : null;
const checkDir = argv.find((a, i) => !a.startsWith('--') && (tolIdx < 0 || i !== tolIdx + 1)) ?? 'build/onnx-check';
const manifest = JSON.parse(readFileSync(join(checkDir, 'manifest.json'), 'utf8'));
const tolerance = tol ?? manifest.tolerance;

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

/** Float32Array view of a little-endian float32 file (copied to get 4-byte alignment). */
function readF32(path) {
  const buf = readFileSync(path);
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

const sessions = new Map();
let failed = false;
for (const c of manifest.cases) {
  const modelPath = join(checkDir, c.model);
  if (!sessions.has(modelPath)) {
    const t0 = performance.now();
    let s;
    try {
      s = await ort.InferenceSession.create(readFileSync(modelPath), { executionProviders: ['wasm'] });
    } catch (e) {
      console.log(`${c.name}: FAIL, onnxruntime-web cannot load ${c.model}: ${e.message}`);
      failed = true;
      sessions.set(modelPath, null);
      continue;
    }
    sessions.set(modelPath, s);
    console.log(`${c.name}: session created in ${(performance.now() - t0).toFixed(0)} ms (${c.model})`);
  }
  const session = sessions.get(modelPath);
  if (!session) continue;
  const x = new ort.Tensor('float32', readF32(join(checkDir, c.input.file)), c.input.shape);
  await session.run({ [c.input.name]: x }); // warm-up, so the timing below is steady-state
  const t0 = performance.now();
  const res = await session.run({ [c.input.name]: x });
  const ms = performance.now() - t0;
  const parts = [];
  for (const o of c.outputs) {
    const ref = readF32(join(checkDir, o.file));
    const got = res[o.name];
    if (!got) throw new Error(`${c.name}: output ${o.name} missing (have ${Object.keys(res)})`);
    if (got.dims.join(',') !== o.shape.join(',')) {
      console.log(`  FAIL ${o.name}: shape ${got.dims} != ${o.shape}`);
      failed = true;
      continue;
    }
    let maxErr = 0, maxRef = 0;
    for (let i = 0; i < ref.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(got.data[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    if (!(maxErr <= tolerance)) failed = true;
    parts.push(`${o.name} max|err| ${maxErr.toExponential(2)} (max|ref| ${maxRef.toFixed(2)})${maxErr <= tolerance ? '' : ' FAIL'}`);
    if (c.name === 'face_landmarker' && c.case === 'astronaut') {
      const size = c.input.shape[1];
      if (o.name === 'landmarks') {
        let outside = 0;
        for (let i = 0; i < 468; i++) {
          const px = got.data[3 * i], py = got.data[3 * i + 1];
          if (!(px >= 0 && px <= size && py >= 0 && py <= size)) outside++;
        }
        parts.push(`landmarks outside the ${size}-px crop: ${outside}${outside ? ' FAIL' : ''}`);
        if (outside) failed = true;
      }
      if (o.name === 'face_flag') {
        parts.push(`face_flag logit ${got.data[0].toFixed(2)}${got.data[0] > 0 ? '' : ' FAIL'}`);
        if (!(got.data[0] > 0)) failed = true;
      }
    }
  }
  console.log(`  ${c.case.padEnd(9)} ${ms.toFixed(1)} ms  ${parts.join('; ')}`);
}
console.log(failed ? `FAILED (tolerance ${tolerance})` : `all outputs within ${tolerance} of the numpy reference`);
process.exit(failed ? 1 : 0);
