// Extracts the Apache-2.0 MediaPipe assets that the face-model build and the
// TFLite→ONNX converter need, from the npm packages @mediapipe/face_mesh and
// @mediapipe/face_detection, into an output folder (default build/mediapipe):
//   face_landmark.tflite, face_detection_short_range.tflite,
//   face_detection_full_range.tflite, geometry_pipeline_metadata_landmarks.binarypb,
//   regions.json (FACEMESH_* edge lists), versions.json (package versions + SHA-256s).
// Usage: node tools/model/extract-mediapipe.mjs [outDir]
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join, basename, dirname } from 'node:path';

const require = createRequire(import.meta.url);
const outDir = process.argv[2] ?? 'build/mediapipe';
mkdirSync(outDir, { recursive: true });

const meshDir = dirname(require.resolve('@mediapipe/face_mesh/package.json'));
const detDir = dirname(require.resolve('@mediapipe/face_detection/package.json'));
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const files = {};

// The packed .data file is a concatenation; its loader .js holds the offsets.
const loader = readFileSync(join(meshDir, 'face_mesh_solution_packed_assets_loader.js'), 'utf8');
const m = loader.match(/"files":\s*(\[[^\]]*\])/);
if (!m) throw new Error('offset table not found in face_mesh_solution_packed_assets_loader.js');
const packed = readFileSync(join(meshDir, 'face_mesh_solution_packed_assets.data'));
for (const f of JSON.parse(m[1])) {
  const name = basename(f.filename);
  if (name === 'face_landmark_with_attention.tflite') continue; // custom ops; not converted
  const buf = packed.subarray(f.start, f.end);
  writeFileSync(join(outDir, name), buf);
  files[name] = { from: '@mediapipe/face_mesh/face_mesh_solution_packed_assets.data', bytes: buf.length, sha256: sha256(buf) };
}
for (const name of ['face_detection_full_range.tflite']) {
  copyFileSync(join(detDir, name), join(outDir, name));
  const buf = readFileSync(join(outDir, name));
  files[name] = { from: `@mediapipe/face_detection/${name}`, bytes: buf.length, sha256: sha256(buf) };
}

const fm = require('@mediapipe/face_mesh');
const regions = {};
for (const k of Object.keys(fm)) if (k.startsWith('FACEMESH_')) regions[k] = fm[k];
writeFileSync(join(outDir, 'regions.json'), JSON.stringify(regions));

const versions = {
  '@mediapipe/face_mesh': JSON.parse(readFileSync(join(meshDir, 'package.json'), 'utf8')).version,
  '@mediapipe/face_detection': JSON.parse(readFileSync(join(detDir, 'package.json'), 'utf8')).version,
  files,
};
writeFileSync(join(outDir, 'versions.json'), JSON.stringify(versions, null, 2));
console.log(`extracted ${Object.keys(files).length} files + regions.json to ${outDir}`);
