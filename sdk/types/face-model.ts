/**
 * The in-memory face model (decoded from a `.mofa` bundle by `loadFaceModel`).
 *
 * Model frame (all positions and bases): millimetres; +x = subject's left, +y = up,
 * +z = out of the face toward a frontal camera; origin = MediaPipe's canonical-mesh origin,
 * which lies on the mid-sagittal plane about 52 mm behind the nasion (see models/README.md).
 *
 * Basis layout: every basis is a row-major Float32Array of shape (3N, K): row `3*i + axis`
 * (axis 0 = x / R, 1 = y / G, 2 = z / B) holds vertex i's coefficients for the K modes.
 * Each column is scaled by its mode's standard deviation (paper Sec. 4, Eᵀ E = diag(σ²)),
 * so coefficients drawn from N(0, 1) give plausible adult faces.
 */

/** One-ring neighbourhood in compressed sparse row form: neighbours of vertex i are
 * `neighbors[offsets[i] .. offsets[i+1])`, sorted ascending. */
export interface Adjacency {
  offsets: Uint32Array; // (N + 1)
  neighbors: Uint32Array;
}

export interface MeshTopology {
  vertexCount: number;
  /** (F, 3) triangle vertex indices, counter-clockwise seen from outside the face. */
  index: Uint32Array;
  /** (N, 2) texture coordinates in 0..1, v up (MediaPipe canonical UV convention). */
  uv: Float32Array;
  adjacency: Adjacency;
}

export interface T1Topology extends MeshTopology {
  /** (N, 3) mean shape A_s, mm, model frame (Eq. 2). Vertices 0..467 are MediaPipe's 468 landmarks. */
  meanShape: Float32Array;
}

export interface T2Topology extends MeshTopology {
  /** Sparse linear map L: T1 → T2 (Sec. 9.2). T2 vertex j = Σ_k weight[3j+k] · T1 vertex index[3j+k]. */
  fromT1: { index: Uint32Array; weight: Float32Array };
}

export interface FaceModel {
  /** Bundle format version (integer) and the model's own semantic version string. */
  formatVersion: number;
  version: string;
  /** Hex SHA-256 of the bundle's data section, as verified at load time. */
  sha256: string;
  /** Free-form provenance (sources, licences, generator script and parameters). */
  provenance: Record<string, unknown>;

  t1: T1Topology;
  t2: T2Topology;

  /** E_s: (3N, 80) mm per unit coefficient (Eq. 2). */
  shapeBasis: Float32Array;
  shapeDim: number;
  /** E_e: (3N, 64) mm per unit coefficient (Eq. 2). */
  expressionBasis: Float32Array;
  expressionDim: number;
  /** Name of each expression column; ARKit blendshape names where the column is one. */
  expressionNames: string[];
  /** σ_k of each expression column: column k of E_e is σ_k × (blendshape k at full activation),
   * so the ARKit-style weight of column k is σ_k · δ_k (1 = full activation). */
  expressionSigma: Float32Array;
  /** A_r: (N, 3) mean albedo, linear RGB 0..1 (Eq. 3). */
  albedoMean: Float32Array;
  /** E_r: (3N, 80) linear RGB per unit coefficient (Eq. 3). */
  albedoBasis: Float32Array;
  albedoDim: number;

  landmarks: {
    /** The 468 MediaPipe landmarks as T1 vertex indices (identity: 0..467). */
    mediapipe468: Uint32Array;
    /** 68-point iBUG/Multi-PIE subset, T1 vertex indices in iBUG order. */
    ibug68: Uint32Array;
  };
  /** T1 vertex indices that take part in the photometric loss ("front face", Sec. 6). */
  frontFace: Uint32Array;
  /** Named T1 vertex sets (lips, eyes, brows, face oval, …) from MediaPipe's region lists. */
  regions: Record<string, Uint32Array>;
}
