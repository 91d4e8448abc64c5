/** mofa-web public entry point (dist/mofa-web.js). */
export { MofaError, type MofaErrorCode, type SerializedMofaError } from './errors.js';
export type { Adjacency, FaceModel, MeshTopology, T1Topology, T2Topology } from './types/face-model.js';
export { loadFaceModel } from './model/load-face-model.js';
export { FACE_MODEL_FORMAT_VERSION, type FaceModelSource } from './model/load-face-model.js';
export { FaceDetector } from './vision/face-detector.js';
export { FaceLandmarker } from './vision/face-landmarker.js';
export type * from './vision/types.js';
export { createReconstructor, reconstruct, type Reconstructor, type ImageInput } from './reconstructor.js';
export type * from './types/reconstruct-options.js';
export type * from './types/reconstruct-result.js';
export type { Initializer, OptStage, RefineStage, FaceStageInput, InitialCode, InitialFitReport, RefinedSurface } from './pipeline/stages.js';
export { LandmarkFitInitializer } from './pipeline/landmark-initializer.js';
export { MIN_IMAGE_SIDE, MAX_DETECTION_SIDE, MAX_DECODED_SIDE } from './pipeline/input.js';
export { encodeObj, type ObjOptions } from './export/obj.js';
export { encodeGlb, type GlbOptions } from './export/gltf.js';
export type { ExportMesh } from './export/export-mesh.js';
