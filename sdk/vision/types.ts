/**
 * Options and results of the vision front end (face detector + landmarker).
 * All positions are in the **image pixel frame**: origin top-left corner of the image,
 * +x right, +y down, pixels; pixel centres at +0.5 (see sdk/vision/image.ts).
 */
import type { Box, RotatedRoi } from './image.js';
import type { ModelSource, Ort } from './onnx-session.js';

export type { Box, RotatedRoi, RgbaImage, Affine2x3 } from './image.js';
export type { ModelSource, Ort } from './onnx-session.js';

export interface FaceDetectorOptions {
  /** ONNX model bytes, a URL (`fetch`ed) or, in Node, a file path. Required. */
  model: ModelSource;
  /** onnxruntime-web module to use; default: `import('onnxruntime-web')`. */
  ort?: Ort;
  /**
   * 'short' (default): BlazeFace short range, 128×128 input, 896 anchors (faces within ~2 m,
   * i.e. portraits and selfies). 'full': BlazeFace full range, 192×192 input, 2304 anchors.
   */
  variant?: 'short' | 'full';
  /** Minimum detection score, 0..1; default 0.5. */
  minScore?: number;
  /** IoU above which detections are merged by weighted NMS, 0..1; default 0.3. */
  iouThreshold?: number;
}

/** Index of each BlazeFace keypoint in `FaceDetection.keypoints` (subject's left/right). */
export const DETECTION_KEYPOINT = {
  rightEye: 0,
  leftEye: 1,
  noseTip: 2,
  mouth: 3,
  rightEarTragion: 4,
  leftEarTragion: 5,
} as const;

export interface FaceDetection {
  /** Axis-aligned face box, image px. */
  box: Box;
  /** Detection confidence, 0..1 (sigmoid of the top anchor's logit). */
  score: number;
  /**
   * 6 keypoints [x, y] image px, in the order of DETECTION_KEYPOINT: subject's right eye
   * (image left in an unmirrored photo), left eye, nose tip, mouth centre, right ear
   * tragion, left ear tragion.
   */
  keypoints: [number, number][];
}

export interface FaceLandmarkerOptions {
  /** ONNX model bytes, a URL (`fetch`ed) or, in Node, a file path. Required. */
  model: ModelSource;
  /** onnxruntime-web module to use; default: `import('onnxruntime-web')`. */
  ort?: Ort;
  /**
   * Number of landmark passes, 1 or 2; default 2. Pass 1 uses the ROI from the detection;
   * pass 2 re-centres/re-rotates the ROI on pass 1's landmarks (as MediaPipe does when
   * tracking), which places the face in the crop the way the model was trained.
   */
  passes?: 1 | 2;
}

export interface FaceLandmarks {
  /**
   * (468, 3) float32, MediaPipe 468-landmark order. x, y: image px. z: relative depth in the
   * same pixel scale as x, y, origin at the model's own reference depth (roughly mid-face: eye
   * corners ≈ 0); **smaller z = closer to the camera**
   * (the nose tip has the most negative z).
   */
  points: Float32Array;
  /** Face presence probability, 0..1 (sigmoid of the model's presence logit). */
  presence: number;
  /** The rotated square region the final pass ran on (image px, radians). */
  roi: RotatedRoi;
}
