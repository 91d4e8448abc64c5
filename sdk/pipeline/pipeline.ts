/**
 * The reconstruction pipeline of issue 5, independent of where it runs (the Web Worker in
 * workers/reconstruct-worker.ts, or the calling thread in Node):
 *
 *   load (once) → decode → detect → [per face] landmarks → crop → init → [opt] → [refine] → result
 *
 * Stages are pluggable (sdk/pipeline/stages.ts). By default Opt (quality 'balanced', 'high')
 * and Refine ('high') run on the backend chosen by sdk/pipeline/backend-select.ts, created on
 * the first call that needs them and kept until `close()` (sdk/pipeline/compute-stages.ts: one
 * compiled mofa.wasm or one GpuContext per reconstructor). Calls are queued: one runs at a time,
 * in call order. Between stages the caller's AbortSignal (→ ABORTED) and `close()` (→ CLOSED)
 * are checked; Opt also checks the signal between Gauss-Newton iterations. All results are
 * plain data (`PlainReconstructionResult`).
 */
import { MofaError } from '../errors.js';
import { loadFaceModel } from '../model/load-face-model.js';
import type { FaceModel } from '../types/face-model.js';
import type { ReconstructBackend, ReconstructProgress, ReconstructQuality, ReconstructStage, StageIterations } from '../types/reconstruct-options.js';
import type { FaceEnergies, ReconstructionDiagnostics } from '../types/reconstruct-result.js';
import { sha256Hex } from '../util/sha256.js';
import { FaceDetector } from '../vision/face-detector.js';
import { FaceLandmarker } from '../vision/face-landmarker.js';
import type { RgbaImage } from '../vision/image.js';
import { loadModelBytes, type Ort } from '../vision/onnx-session.js';
import type { FaceDetection } from '../vision/types.js';
import { defaultMofaWasm } from './assets.js';
import { type BackendChoice, selectBackend } from './backend-select.js';
import { compileMofaWasm, type ComputeStages, createComputeStages } from './compute-stages.js';
import { cropLinearImage, type FaceCrop, faceCropFromLandmarks, landmarksToCrop } from './crop.js';
import { decodeInput, downscaleForDetection, type ImageInput } from './input.js';
import { LandmarkFitInitializer } from './landmark-initializer.js';
import { assembleFace, checkModelMatchesCodeLayout, type PlainFaceReconstruction, type PlainReconstructionResult } from './result.js';
import type { FaceStageInput, Initializer, OptStage, OptStageResult, RefinedSurface, RefineStage } from './stages.js';

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
  /** mofa.wasm; undefined = `defaultMofaWasm()` (resolved where the pipeline runs). */
  mofaWasm?: string | URL | ArrayBuffer | Uint8Array;
}

export interface PipelineConfig {
  assets: PipelineAssets;
  backend: ReconstructBackend;
  runIn: 'worker' | 'thread';
  /** onnxruntime-web module (the worker passes its bundled `onnxruntime-web/wasm`); default: import it. */
  ort?: Ort;
  /**
   * Stage overrides (owned by the pipeline: `close()` destroys them). Default: the landmark-fit
   * initialiser, and Gauss-Newton Opt / shading Refine on the selected backend. `null` disables
   * a stage: the qualities that need it then fail with NO_BACKEND.
   */
  stages?: { initializer?: Initializer; opt?: OptStage | null; refine?: RefineStage | null };
  /** Iteration counts of the default Opt / Refine stages (see `StageIterations`; validated by `resolveStageIterations`). */
  iterations?: StageIterations;
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

/**
 * Validates `StageIterations` and fills the defaults (5 / 2000 / 250).
 * @throws MofaError('BAD_INPUT') outside the documented ranges.
 */
export function resolveStageIterations(it: StageIterations = {}): Required<StageIterations> {
  const opt = it.opt ?? 5;
  const optSamples = it.optSamples ?? 2000;
  const refine = it.refine ?? 250;
  if (!(Number.isInteger(opt) && opt >= 1 && opt <= 50)) throw new MofaError('BAD_INPUT', `iterations.opt must be an integer 1..50, got ${opt}`);
  if (!(Number.isInteger(optSamples) && optSamples >= 0)) throw new MofaError('BAD_INPUT', `iterations.optSamples must be an integer ≥ 0 (0 = all), got ${optSamples}`);
  if (!(Number.isInteger(refine) && refine >= 1 && refine <= 1000)) throw new MofaError('BAD_INPUT', `iterations.refine must be an integer 1..1000, got ${refine}`);
  return { opt, optSamples, refine };
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
  private readonly iterations: Required<StageIterations>;
  /** The default Opt / Refine stages (created by the first call that needs them). */
  private compute: Promise<ComputeStages> | null = null;

  constructor(private readonly config: PipelineConfig) {
    this.initializer = config.stages?.initializer ?? new LandmarkFitInitializer();
    this.iterations = resolveStageIterations(config.iterations);
  }

  /**
   * The default Opt + Refine stages on `choice.backend` (created once; a failed creation is
   * retried by the next call; after DEVICE_LOST they are dropped and recreated).
   */
  private computeStages(choice: BackendChoice): Promise<ComputeStages> {
    this.compute ??= (async () => {
      const wasm = await compileMofaWasm(this.config.assets.mofaWasm ?? (await defaultMofaWasm()));
      return createComputeStages(choice.backend, wasm, {
        opt: { iterations: this.iterations.opt, sampleCount: this.iterations.optSamples },
        refine: { iterations: this.iterations.refine },
      });
    })();
    this.compute.catch(() => {
      this.compute = null;
    });
    return this.compute;
  }

  /** Live GPU buffers of the default stages (0 on wasm or before they exist): for leak checks. */
  async liveGpuBuffers(): Promise<number> {
    const c = await this.compute?.catch(() => null);
    return c ? c.liveGpuBuffers() : 0;
  }

  /**
   * Drops the default stages when their GPU device was lost since the last call (e.g. a driver
   * reset between calls), so that this call recreates them on a new device instead of failing
   * with DEVICE_LOST. A loss DURING a call still rejects that call with DEVICE_LOST (`onDevice`).
   */
  private async dropLostComputeStages(): Promise<void> {
    const c = await this.compute?.catch(() => null);
    if (c?.isLost()) await this.dropComputeStages();
  }

  /** Frees the default stages after the GPU device was lost, so the next call recreates them. */
  private async dropComputeStages(): Promise<void> {
    const c = this.compute;
    this.compute = null;
    (await c?.catch(() => null))?.destroy();
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
    // Opt / Refine: user stage, disabled (null), or the default stage on the selected backend.
    const userOpt = this.config.stages?.opt;
    const userRefine = this.config.stages?.refine;
    const needsDefault = (quality !== 'fast' && userOpt === undefined) || (quality === 'high' && userRefine === undefined);
    if (needsDefault) await this.dropLostComputeStages();
    const willLoad = this.loaded === null || (needsDefault && this.compute === null);
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
    // Quality → stages: refuse loudly when a stage is disabled (no silent downgrade).
    if (quality !== 'fast' && userOpt === null) {
      throw new MofaError('NO_BACKEND', `quality '${quality}' needs the Opt stage (Gauss-Newton analysis-by-synthesis), which this reconstructor was configured without: use quality 'fast'`);
    }
    if (quality === 'high' && userRefine === null) {
      throw new MofaError('NO_BACKEND', "quality 'high' needs the Refine stage, which this reconstructor was configured without: use quality 'balanced'");
    }
    const defaults = needsDefault ? await this.computeStages(L.backend) : null;
    if (willLoad) finish('load');
    const opt: OptStage | null = quality === 'fast' ? null : (userOpt ?? defaults!.opt);
    const refine: RefineStage | null = quality === 'high' ? (userRefine ?? defaults!.refine) : null;
    check();
    // A huge encoded image arrives downscaled (MAX_DECODED_SIDE): every stage runs on `image`,
    // the result is mapped back to the original pixels by `decoded.scale`.
    const decoded = await decodeInput(input);
    const image = decoded.image;
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
      energies.push({ ...init.report, opt: [], optTerms: [], optAtLinearization: [], refine: [], refineFoldRepairedVertices: 0 });
    }
    finish('init');

    if (opt) {
      for (let i = 0; i < perFace.length; i++) {
        check();
        const r: OptStageResult & { atLinearization?: number[] } = await this.onDevice(() => opt.optimize(perFace[i].input, perFace[i].code));
        perFace[i].code = r.code;
        energies[i].opt = r.energies;
        if (r.terms) energies[i].optTerms = r.terms;
        if (r.atLinearization) energies[i].optAtLinearization = r.atLinearization;
      }
      finish('opt');
    }
    const refined: RefinedSurface[] = [];
    if (refine) {
      for (let i = 0; i < perFace.length; i++) {
        check();
        const r = await this.onDevice(() => refine.refine(perFace[i].input, perFace[i].code));
        refined.push(r);
        if (r.energies) energies[i].refine = r.energies;
        energies[i].refineFoldRepairedVertices = r.foldRepairedVertices ?? 0;
      }
      finish('refine');
    }

    check();
    for (let i = 0; i < perFace.length; i++) {
      const { input: si, code, face } = perFace[i];
      const s = decoded.scale;
      const originalSize = { width: decoded.originalWidth, height: decoded.originalHeight };
      results.push(assembleFace(L.model, code, scaleCrop(si.crop, s), originalSize, scaleDetection(face.det, s, s), scalePoints(face.points, s), refined[i]));
    }
    finish('result');
    stageMs.total = performance.now() - t0;
    return {
      faces: results,
      imageSize: { width: decoded.originalWidth, height: decoded.originalHeight },
      diagnostics: {
        quality,
        backend: opt?.backend ?? L.backend.backend,
        backendReason: L.backend.reason + (quality === 'fast' ? " (quality 'fast' runs no Opt/Refine kernels; the networks run on onnxruntime-web wasm)" : defaults?.adapter ? ` (device: ${defaults.adapter})` : ''),
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

  /** Runs a stage; on DEVICE_LOST drops the default stages so that the next call recreates them. */
  private async onDevice<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (e instanceof MofaError && e.code === 'DEVICE_LOST') await this.dropComputeStages();
      throw e;
    }
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
    await this.dropComputeStages();
    this.config.stages?.opt?.destroy();
    this.config.stages?.refine?.destroy();
  }
}

/** The crop with its image side in px of an image `s` times larger (the crop camera is unchanged). */
function scaleCrop(crop: FaceCrop, s: number): FaceCrop {
  if (s === 1) return crop;
  const [k, , ox, , , oy] = crop.cropToImage;
  return { ...crop, cropToImage: [k * s, 0, ox * s, 0, k * s, oy * s], imageToCrop: [1 / (k * s), 0, -ox / k, 0, 1 / (k * s), -oy / k] };
}

/** (L, 3) landmarker points (x, y, relative depth, px) scaled to an image `s` times larger. */
function scalePoints(points: Float32Array, s: number): Float32Array {
  if (s === 1) return points;
  return points.map((v) => v * s);
}

function scaleDetection(d: FaceDetection, sx: number, sy: number): FaceDetection {
  if (sx === 1 && sy === 1) return d;
  return {
    box: { x: d.box.x * sx, y: d.box.y * sy, width: d.box.width * sx, height: d.box.height * sy },
    score: d.score,
    keypoints: d.keypoints.map(([x, y]) => [x * sx, y * sy] as [number, number]),
  };
}
