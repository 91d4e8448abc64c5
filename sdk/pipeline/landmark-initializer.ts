/**
 * `Initializer` by landmark fit (issue 5): pose + shape + expression from the 468 landmarks
 * (sdk/pipeline/landmark-fit.ts), albedo at the model mean (β = 0), SH lighting by linear least
 * squares on the crop given that geometry (sdk/pipeline/lighting-fit.ts).
 */
import { computeShape } from '../model/decode.js';
import { computeNormals } from '../model/normals.js';
import { packCode } from '../model/code-layout.js';
import type { FaceModel } from '../types/face-model.js';
import { fitLandmarksPerspective, landmarkBasis, type LandmarkBasis, type LandmarkFitOptions } from './landmark-fit.js';
import { fitLightingLinear } from './lighting-fit.js';
import type { FaceStageInput, InitialCode, Initializer } from './stages.js';

function median(v: ArrayLike<number>): number {
  const a = Float64Array.from(v).sort();
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}

export class LandmarkFitInitializer implements Initializer {
  readonly name = 'landmark-fit';
  private basisCache: { model: FaceModel; basis: LandmarkBasis } | null = null;

  constructor(private readonly options: LandmarkFitOptions = {}) {}

  async initialize(input: FaceStageInput): Promise<InitialCode> {
    const { model, crop, cropImage, landmarks } = input;
    if (this.basisCache?.model !== model) this.basisCache = { model, basis: landmarkBasis(model) };
    const fit = fitLandmarksPerspective(this.basisCache.basis, landmarks, crop.intrinsics, this.options);
    const position = computeShape(model, fit.alpha, fit.delta);
    const normal = computeNormals(position, model.t1.index);
    const light = fitLightingLinear(position, normal, model.t1.index, model.albedoMean, fit.rotation, fit.translation, crop.intrinsics, cropImage, model.frontFace);
    const code = packCode({
      alpha: fit.alpha,
      delta: fit.delta,
      beta: new Float64Array(model.albedoDim),
      rotation: fit.euler,
      translation: fit.translation,
      gamma: light.gamma,
    });
    let sq = 0;
    for (const r of fit.residualPx) sq += r * r;
    let reg = 0;
    for (const a of fit.alpha) reg += a * a;
    for (const d of fit.delta) reg += d * d;
    return {
      code,
      report: {
        landmarkMedianPx: median(fit.residualPx),
        landmarkRmsPx: Math.sqrt(sq / fit.residualPx.length),
        regularizer: reg,
        photometricRms: light.rms,
        photometricVertices: light.vertices,
      },
    };
  }
}
