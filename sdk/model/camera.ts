/**
 * Rigid pose Φ and perspective projection Π of the image formation model (paper Sec. 5, Eq. 5):
 *
 *   u_i = Π ∘ Φ(V_i)                                                        (Eq. 5)
 *
 * Frames
 * - Model frame (FaceModel): mm; +x subject's left, +y up, +z out of the face.
 * - Camera frame (OpenGL-like): mm; origin at the centre of projection, +x image right,
 *   +y image up, +z toward the viewer, so the camera looks down −z and visible points have
 *   z < 0. With R = I a face is seen frontally (its +z points at the camera; the subject's
 *   left, +x, appears on the image right, as in a photo), placed at distance d by t = (0, 0, −d).
 * - Image frame: pixels; origin at the top-left corner of the top-left pixel, +x right, +y down;
 *   pixel (col j, row i) covers [j, j+1) × [i, i+1), its centre is (j + 0.5, i + 0.5)
 *   (same convention as sdk/vision/image.ts).
 *
 * Φ here is written p_cam = R · v + t. The paper writes Φ_{T,t}(v) = T⁻¹(v − t) with the
 * camera pose (T, t) in world space; the two agree with R = T⁻¹ and t_here = −T⁻¹ t_paper.
 * Normals transform with R only (Eq. 5: T n_i in the paper's camera-to-world notation).
 */
import { MofaError } from '../errors.js';

/** Row-major 3×3 rotation matrix: `m[3 * row + col]`. */
export type Mat3 = Float64Array;

/** Pinhole intrinsics (Π), square pixels, no skew or distortion. */
export interface CameraIntrinsics {
  /** Focal length, px (> 0). */
  focalPx: number;
  /** Principal point, px, image frame (top-left origin, +y down). */
  cx: number;
  cy: number;
  /** Image size, px. */
  width: number;
  height: number;
}

/** Side of the square face crop the reconstructor works on, px. */
export const DEFAULT_CROP_SIZE = 240;
/**
 * Default focal length for the 240×240 crop, px: a narrow field of view (≈ 13.7°), so that the
 * mean face (≈ 150 mm wide) at `DEFAULT_CAMERA_DISTANCE_MM` fills ≈ 70 % of the crop.
 */
export const DEFAULT_FOCAL_PX = 1000;
/** Default distance of the model origin from the camera, mm (t = (0, 0, −d)). */
export const DEFAULT_CAMERA_DISTANCE_MM = 900;
/** Default intrinsics of the 240×240 crop: f = 1000 px, principal point at the crop centre (120, 120). */
export const DEFAULT_INTRINSICS: Readonly<CameraIntrinsics> = Object.freeze({
  focalPx: DEFAULT_FOCAL_PX,
  cx: DEFAULT_CROP_SIZE / 2,
  cy: DEFAULT_CROP_SIZE / 2,
  width: DEFAULT_CROP_SIZE,
  height: DEFAULT_CROP_SIZE,
});

/**
 * Rotation from Euler angles, R = Rz(roll) · Ry(yaw) · Rx(pitch): a vector is first rotated
 * about x, then y, then z (fixed axes). Each elementary rotation is right-handed (positive
 * angle = counter-clockwise when looking from the axis' positive end toward the origin).
 * For a frontal face (camera frame as below): Rx(+θ) turns the face's forward axis +z toward
 * −y (the face looks down); Ry(+θ) turns +z toward +x (the face turns toward the subject's
 * left = image right); Rz(+θ) turns +x toward +y (counter-clockwise in-plane on screen).
 * @param euler [pitch, yaw, roll], radians.
 * @returns row-major 3×3 rotation matrix.
 */
export function rotationMatrix(euler: ArrayLike<number>): Mat3 {
  if (euler.length !== 3) throw new MofaError('BAD_INPUT', `euler must have 3 angles [pitch, yaw, roll] (radians), got ${euler.length}`);
  const cx = Math.cos(euler[0]), sx = Math.sin(euler[0]);
  const cy = Math.cos(euler[1]), sy = Math.sin(euler[1]);
  const cz = Math.cos(euler[2]), sz = Math.sin(euler[2]);
  // Rz·Ry·Rx expanded.
  return Float64Array.of(
    cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
    sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
    -sy, cy * sx, cy * cx,
  );
}

/**
 * Euler angles [pitch, yaw, roll] (radians) of a rotation R = Rz·Ry·Rx; inverse of
 * `rotationMatrix` for yaw in (−π/2, π/2).
 */
export function eulerFromRotation(R: ArrayLike<number>): [number, number, number] {
  const yaw = Math.asin(Math.max(-1, Math.min(1, -R[6])));
  const pitch = Math.atan2(R[7], R[8]);
  const roll = Math.atan2(R[3], R[0]);
  return [pitch, yaw, roll];
}

/**
 * Φ of Eq. (5): model → camera, p_cam = R · v + t.
 * @param position (N, 3) mm, model frame.
 * @param R row-major 3×3 rotation (e.g. rotationMatrix(euler)).
 * @param t (3) translation, mm, camera frame (a visible face has t_z < 0).
 * @returns (N, 3) mm, camera frame.
 */
export function toCamera(position: Float32Array, R: ArrayLike<number>, t: ArrayLike<number>): Float32Array {
  if (position.length % 3 !== 0) throw new MofaError('BAD_INPUT', `position length ${position.length} is not a multiple of 3`);
  const out = new Float32Array(position.length);
  const [r0, r1, r2, r3, r4, r5, r6, r7, r8] = [R[0], R[1], R[2], R[3], R[4], R[5], R[6], R[7], R[8]];
  const tx = t[0], ty = t[1], tz = t[2];
  for (let i = 0; i < position.length; i += 3) {
    const x = position[i], y = position[i + 1], z = position[i + 2];
    out[i] = r0 * x + r1 * y + r2 * z + tx;
    out[i + 1] = r3 * x + r4 * y + r5 * z + ty;
    out[i + 2] = r6 * x + r7 * y + r8 * z + tz;
  }
  return out;
}

/**
 * Rotates direction vectors (normals): n_cam = R · n (Eq. 5: the normals used for shading are
 * in the camera frame). Rotations preserve length, so unit normals stay unit.
 * @param vectors (N, 3), model frame.
 * @returns (N, 3), camera frame.
 */
export function rotateVectors(vectors: Float32Array, R: ArrayLike<number>): Float32Array {
  return toCamera(vectors, R, [0, 0, 0]);
}

/** Output of `project`. */
export interface Projection {
  /** (N, 2) image-frame positions, px (top-left origin, +y down); NaN for points with depth ≤ 0. */
  screen: Float32Array;
  /** (N) distance in front of the camera along the optical axis, mm: depth = −z_cam (> 0 if visible). */
  depth: Float32Array;
}

/**
 * Π of Eq. (5): pinhole projection of camera-frame points,
 *   x_px = cx + f · x / (−z),   y_px = cy − f · y / (−z),
 * (the minus on y because the camera's +y is up and the image's +y is down). A point on the
 * optical axis (x = y = 0, z < 0) lands on (cx, cy).
 * @param cameraPoints (N, 3) mm, camera frame (from `toCamera`).
 * @param intrinsics focal length and principal point, px (default: the 240×240 crop).
 */
export function project(cameraPoints: Float32Array, intrinsics: CameraIntrinsics = DEFAULT_INTRINSICS): Projection {
  if (cameraPoints.length % 3 !== 0) throw new MofaError('BAD_INPUT', `cameraPoints length ${cameraPoints.length} is not a multiple of 3`);
  if (!(intrinsics.focalPx > 0)) throw new MofaError('BAD_INPUT', `focalPx must be > 0, got ${intrinsics.focalPx}`);
  const n = cameraPoints.length / 3;
  const screen = new Float32Array(2 * n);
  const depth = new Float32Array(n);
  const { focalPx: f, cx, cy } = intrinsics;
  for (let i = 0; i < n; i++) {
    const x = cameraPoints[3 * i], y = cameraPoints[3 * i + 1];
    const d = -cameraPoints[3 * i + 2];
    depth[i] = d;
    if (d > 0) {
      screen[2 * i] = cx + (f * x) / d;
      screen[2 * i + 1] = cy - (f * y) / d;
    } else {
      screen[2 * i] = NaN;
      screen[2 * i + 1] = NaN;
    }
  }
  return { screen, depth };
}
