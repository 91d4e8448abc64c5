/** mofa-web public entry point (dist/mofa-web.js). */
export { MofaError, type MofaErrorCode, type SerializedMofaError } from './errors.js';
export type { Adjacency, FaceModel, MeshTopology, T1Topology, T2Topology } from './types/face-model.js';
export { loadFaceModel } from './model/load-face-model.js';
export { FACE_MODEL_FORMAT_VERSION, type FaceModelSource } from './model/load-face-model.js';
export { FaceDetector } from './vision/face-detector.js';
export { FaceLandmarker } from './vision/face-landmarker.js';
export type * from './vision/types.js';
