/**
 * The reconstruction pipeline of issue 5, independent of where it runs (the Web Worker in
 * workers/reconstruct-worker.ts, or the calling thread in Node):
 *
 *   load (once) → decode → detect → [per face] landmarks → crop → init → [opt] → [refine] → result
 *
 * Stages are pluggable (sdk/pipeline/stages.ts). Calls are queued: one runs at a time, in call
 * order. Between stages the caller's AbortSignal (→ ABORTED) and `close()` (→ CLOSED) are
 * checked. All results are plain data (`PlainReconstructionResult`).
 */
import { MofaError } from '../errors.js';
import { loadFaceModel } from '../model/load-face-model.js';
import type { FaceModel } from '../types/face-model.js';
import type { ReconstructBackend, ReconstructProgress, ReconstructQuality, ReconstructStage } from '../types/reconstruct-options.js';
import type { FaceEnergies, ReconstructionDiagnostics } from '../types/reconstruct-result.js';
import { sha256Hex } from '../util/sha256.js';
import { FaceDetector } from '../vision/face-detector.js';
import { FaceLandmarker } from '../vision/face-landmarker.js';
import type { RgbaImage } from '../vision/image.js';
import { loadModelBytes, type Ort } from '../vision/onnx-session.js';
import type { FaceDetection } from '../vision/types.js';
import { type BackendChoice, selectBackend } from './backend-select.js';
import { cropLinearImage, faceCropFromLandmarks, landmarksToCrop } from './crop.js';
import { downscaleForDetection, type ImageInput, toRgbaImage } from './input.js';
import { LandmarkFitInitializer } from './landmark-initializer.js';
import { assembleFace, checkModelMatchesCodeLayout, type PlainFaceReconstruction, type PlainReconstructionResult } from './result.js';
import type { FaceStageInput, Initializer, OptStage, RefinedSurface, RefineStage } from './stages.js';

/** Lowest detector score the pipeline's detector keeps; `minDetectionScore` must be ≥ this. */
export const DETECTOR_FLOOR_SCORE = 0.25;
/** Default `minDetectionScore`. */
export const DEFAULT_MIN_DETECTION_SCORE = 0.5;
/** Largest `maxFaces`. */
export const MAX_FACES_LIMIT = 16;
/** Landmarker presence below which a detected face is dropped (false detection). */
export const MIN_LANDMARK_PRESENCE = 0.5;

/** Asset sources, already resolved (absolute URLs, file paths or bytes). */
export interface PipelineAssets {
  faceModel: string | URL | ArrayBuffer | Uint8Array;
  faceDetector: string | URL | ArrayBuffer | Uint8Array;
  faceLandmarker: string | URL | ArrayBuffer | Uint8Array;
}

export interface PipelineConfig {
  assets: PipelineAssets;
  backend: ReconstructBackend;
  runIn: 'worker' | 'thread';
  /** onnxruntime-web module (the worker passes its bundled `onnxruntime-web/wasm`); default: import it. */
  ort?: Ort;
  /** Stage overrides; default: the landmark-fit initialiser and no Opt / Refine (not in this build yet). */
  stages?: { initializer?: Initializer; opt?: OptStage; refine?: RefineStage };
}

/** Options of one run, validated. */
export interface PipelineRunOptions {
  quality?: ReconstructQuality;
  maxFaces?: number;
  minDetectionScore?: number;
  signal?: AbortSignal;
  onProgress?: (p: ReconstructProgress) => void;
}

interface Loaded {
  model: FaceModel;
  detector: FaceDetector;
  landmarker: FaceLandmarker;
  backend: BackendChoice;
  assetVersions: Record<string, string>;
}

function abortError(signal: AbortSignal): MofaError {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : signal.reason !== undefined ? `: ${String(signal.reason)}` : '';
  return new MofaError('ABORTED', `reconstruction aborted by the caller's AbortSignal${reason}`);
}

/** Validates per-call options and fills defaults. @throws MofaError('BAD_INPUT'). */
export function resolveRunOptions(o: PipelineRunOptions): Required<Omit<PipelineRunOptions, 'signal' | 'onProgress'>> {
  const quality = o.quality ?? 'fast';
  if (quality !== 'fast' && quality !== 'balanced' && quality !== 'high') throw new MofaError('BAD_INPUT', `quality must be 'fast', 'balanced' or 'high', got '${String(quality)}'`);
  const maxFaces = o.maxFaces ?? 1;
  if (!Number.isInteger(maxFaces) || maxFaces < 1 || maxFaces > MAX_FACES_LIMIT) throw new MofaError('BAD_INPUT', `maxFaces must be an integer 1..${MAX_FACES_LIMIT}, got ${maxFaces}`);
  const minDetectionScore = o.minDetectionScore ?? DEFAULT_MIN_DETECTION_SCORE;
  if (!(minDetectionScore >= DETECTOR_FLOOR_SCORE && minDetectionScore <= 1)) throw new MofaError('BAD_INPUT', `minDetectionScore must be in [${DETECTOR_FLOOR_SCORE}, 1], got ${minDetectionScore}`);
  return { quality, maxFaces, minDetectionScore };
}

async function assetVersion(name: string, source: PipelineAssets[keyof PipelineAssets]): Promise<{ bytes: Uint8Array; version: string }> {
  const bytes = await loadModelBytes(source as string | URL | ArrayBuffer | Uint8Array, name);
  return { bytes, version: `${bytes.byteLength} B sha256:${(await sha256Hex(bytes)).slice(0, 16)}` };
}

export class ReconstructionPipeline {
  private loaded: Promise<Loaded> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly initializer: Initializer;

  constructor(private readonly config: PipelineConfig) {
    this.initializer = config.stages?.initializer ?? new LandmarkFitInitializer();
  }

  /** Loads assets and chooses the backend (once; a failed load is retried by the next call). */
  private load(): Promise<Loaded> {
    this.loaded ??= (async () => {
      const { assets, ort } = this.config;
      const backend = await selectBackend(this.config.backend);
      const [model, det, lm] = await Promise.all([
        loadFaceModel(assets.faceModel),
        assetVersion('face detector', assets.faceDetector),
        assetVersion('face landmarker', assets.faceLandmarker),
      ]);
      checkModelMatchesCodeLayout(model);
      const detector = await FaceDetector.create({ model: det.bytes, ort, minScore: DETECTOR_FLOOR_SCORE });
      let landmarker: FaceLandmarker;
      try {
        landmarker = await FaceLandmarker.create({ model: lm.bytes, ort, passes: 2 });
      } catch (e) {
        await detector.close();
        throw e;
      }
      return {
        model,
        detector,
        landmarker,
        backend,
        assetVersions: {
          faceModel: `${model.version} (format ${model.formatVersion}) sha256:${model.sha256.slice(0, 16)}`,
          faceDetector: det.version,
          faceLandmarker: lm.version,
        },
      };
    })();
    this.loaded.catch(() => {
      this.loaded = null;
    });
    return this.loaded;
  }

  /** Queues one reconstruction (see the module comment). */
  run(input: ImageInput, options: PipelineRunOptions = {}): Promise<PlainReconstructionResult> {
    if (this.closed) return Promise.reject(new MofaError('CLOSED', 'this reconstructor was closed; create a new one with createReconstructor()'));
    if (options.signal?.aborted) return Promise.reject(abortError(options.signal));
    const job = this.queue.then(() => this.runNow(input, options));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async runNow(input: ImageInput, options: PipelineRunOptions): Promise<PlainReconstructionResult> {
    const t0 = performance.now();
    const { signal, onProgress } = options;
    const { quality, maxFaces, minDetectionScore } = resolveRunOptions(options);
    const stageMs: ReconstructionDiagnostics['stageMs'] = {};
    const willLoad = this.loaded === null;
    const stages: ReconstructStage[] = [...(willLoad ? ['load' as const] : []), 'decode', 'detect', 'landmarks', 'init'];
    if (quality !== 'fast') stages.push('opt');
    if (quality === 'high') stages.push('refine');
    stages.push('result');
    let done = 0;
    let last = performance.now();
    const check = (): void => {
      if (this.closed) throw new MofaError('CLOSED', 'this reconstructor was closed during the call; create a new one with createReconstructor()');
      if (signal?.aborted) throw abortError(signal);
    };
    const finish = (stage: ReconstructStage): void => {
      const now = performance.now();
      stageMs[stage] = (stageMs[stage] ?? 0) + (now - last);
      last = now;
      done++;
      try {
        onProgress?.({ stage, fraction: done / stages.length });
      } catch {
        // A throwing progress callback must not break the reconstruction (documented).
      }
    };

    check();
    const L = await this.load();
    if (willLoad) finish('load');
    // Quality → stages: refuse loudly when a stage is not plugged in (no silent downgrade).
    const opt = this.config.stages?.opt;
    const refine = this.config.stages?.refine;
    if (quality !== 'fast' && !opt) {
      throw new MofaError('NO_BACKEND', `quality '${quality}' needs the Opt stage (Gauss-Newton analysis-by-synthesis), which is not available in this build yet: use quality 'fast'`);
    }
    if (quality === 'high' && !refine) {
      throw new MofaError('NO_BACKEND', "quality 'high' needs the Refine stage, which is not available in this build yet: use quality 'fast'");
    }
    check();
    const image = await toRgbaImage(input);
    finish('decode');

    check();
    const small = downscaleForDetection(image);
    const detections = (await L.detector.detect(small.image))
      .filter((d) => d.score >= minDetectionScore)
      .slice(0, maxFaces)
      .map((d) => scaleDetection(d, small.scaleX, small.scaleY));
    finish('detect');
    if (detections.length === 0) {
      throw new MofaError('NO_FACE', `no face found (detector score ≥ ${minDetectionScore}) in the ${image.width}×${image.height} image: use a photo with a visible, roughly frontal face at least ~40 px wide, or lower minDetectionScore`);
    }

    const faces: { det: FaceDetection; points: Float32Array }[] = [];
    for (const det of detections) {
      check();
      const lm = await L.landmarker.landmarks(image, det);
      if (lm.presence >= MIN_LANDMARK_PRESENCE) faces.push({ det, points: lm.points });
    }
    finish('landmarks');
    if (faces.length === 0) {
      throw new MofaError('NO_FACE', `the detector fired but the landmarker found no face (presence < ${MIN_LANDMARK_PRESENCE}): use a photo with a clearly visible face`);
    }

    const results: PlainFaceReconstruction[] = [];
    const energies: FaceEnergies[] = [];
    const perFace: { input: FaceStageInput; code: Float64Array; face: (typeof faces)[number] }[] = [];
    for (const face of faces) {
      check();
      const crop = faceCropFromLandmarks(face.points);
      const stageInput: FaceStageInput = {
        model: L.model,
        crop,
        cropImage: cropLinearImage(image, crop),
        landmarks: landmarksToCrop(face.points, crop),
        signal,
      };
      const init = await this.initializer.initialize(stageInput);
      perFace.push({ input: stageInput, code: init.code, face });
      energies.push({ ...init.report, opt: [] });
    }
    finish('init');

    if (opt) {
      for (let i = 0; i < perFace.length; i++) {
        check();
        const r = await opt.optimize(perFace[i].input, perFace[i].code);
        perFace[i].code = r.code;
        energies[i].opt = r.energies;
      }
      finish('opt');
    }
    const refined: RefinedSurface[] = [];
    if (quality === 'high' && refine) {
      for (const f of perFace) {
        check();
        refined.push(await refine.refine(f.input, f.code));
      }
      finish('refine');
    }

    check();
    for (let i = 0; i < perFace.length; i++) {
      const { input: si, code, face } = perFace[i];
      results.push(assembleFace(L.model, code, si.crop, image, face.det, face.points, refined[i]));
    }
    finish('result');
    stageMs.total = performance.now() - t0;
    return {
      faces: results,
      imageSize: { width: image.width, height: image.height },
      diagnostics: {
        quality,
        backend: opt?.backend ?? L.backend.backend,
        backendReason: L.backend.reason + (quality === 'fast' ? " (quality 'fast' runs no Opt/Refine kernels; the networks run on onnxruntime-web wasm)" : ''),
        runIn: this.config.runIn,
        stageMs,
        energies,
        modelVersion: L.model.version,
        modelSha256: L.model.sha256,
        assetVersions: { ...L.assetVersions },
        initializer: this.initializer.name,
        detectionImageSize: { width: small.image.width, height: small.image.height },
      },
    };
  }

  /**
   * Stops accepting calls (they reject with CLOSED; a running call stops at its next stage
   * boundary with CLOSED), waits for the queue, and releases the ONNX sessions and stages.
   * Calling it again is harmless.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    const loaded = this.loaded;
    this.loaded = null;
    if (loaded) {
      const L = await loaded.catch(() => null);
      if (L) await Promise.all([L.detector.close(), L.landmarker.close()]);
    }
    this.config.stages?.opt?.destroy();
    this.config.stages?.refine?.destroy();
  }
}

function scaleDetection(d: FaceDetection, sx: number, sy: number): FaceDetection {
  if (sx === 1 && sy === 1) return d;
  return {
    box: { x: d.box.x * sx, y: d.box.y * sy, width: d.box.width * sx, height: d.box.height * sy },
    score: d.score,
    keypoints: d.keypoints.map(([x, y]) => [x * sx, y * sy] as [number, number]),
  };
}
