/**
 * Hardening a model: what a Harden job computes and what `harden train` runs — the same function
 * for both (and for the Kubernetes worker, through the Harden job's thread task, harden-task.ts):
 *
 * 1. the training split, with the per-epoch check's images held out of it (held-out.ts);
 * 2. the target (a saved model, or a fresh `arch`) and, for methods with one, the guidance model,
 *    their initial weights seeded from the run's seed (streams 1 and 2), so the same request gives
 *    the same models; the guidance architecture, when none is named, is one that accepts the
 *    input size (`defaultGuidanceArch`);
 * 3. `train` with checkpoints under `out/checkpoints/`, then the final target saved to `out/model/`,
 *    with its ONNX export `out/model/model.onnx` beside model.json.
 */
import type { tfl } from '../engine/index.js';
import { countBatches, deriveSeed, type Dataset } from '../data/index.js';
import { ARCH_NAMES, buildModel, isArchName, loadModelFromUri, ModelError, resolveModelConfig, saveModelWithOnnx, type ArchName } from '../models/index.js';
import type { ArtifactStore } from '../storage/index.js';
import type { TrainOptions } from './config.js';
import { TrainingError } from './errors.js';
import { loadTrainingSplits } from './held-out.js';
import { getMethod } from './methods.js';
import type { TrainingResult } from './trainer.js';
import { train } from './trainer.js';

/** The guidance architectures tried when none is named: ResNet-18 from 32×32 up (else small-cnn), then the target's, then the rest. */
function guidanceCandidates(inputShape: readonly number[], targetArch: string | null): ArchName[] {
  const preferred: ArchName = inputShape[0] >= 32 ? 'resnet18' : 'small-cnn';
  const target = targetArch !== null && isArchName(targetArch) ? [targetArch] : [];
  return [...new Set<ArchName>([preferred, ...target, ...ARCH_NAMES])];
}

function accepts(arch: ArchName, inputShape: readonly [number, number, number], numClasses: number): boolean {
  try {
    resolveModelConfig({ arch, inputShape, numClasses });
    return true;
  } catch (error) {
    if (error instanceof ModelError) return false;
    throw error;
  }
}

/**
 * The guidance architecture when none is named: ResNet-18 for inputs from 32×32 up, small-cnn for
 * smaller ones — or, where that one does not accept the input size (8×8 digits), the first
 * architecture that does, the target's own first.
 */
export function defaultGuidanceArch(inputShape: readonly [number, number, number], numClasses: number, targetArch: string | null = null): ArchName {
  const fits = guidanceCandidates(inputShape, targetArch).find((a) => accepts(a, inputShape, numClasses));
  if (!fits) throw new TrainingError('invalid-argument', `no guidance architecture accepts ${inputShape.join('×')} inputs`, { field: 'guidance_arch' });
  return fits;
}

/** Names the fields in errors: the CLI's flags or the RPC's request fields. */
export interface HardenFieldNames {
  arch: string;
  guidanceArch: string;
}

const RPC_FIELDS: HardenFieldNames = { arch: 'arch', guidanceArch: 'guidance_arch' };

export interface HardenModelOptions extends Omit<TrainOptions, 'method' | 'target' | 'guidance' | 'train' | 'heldOut' | 'checkpoints' | 'evalSize'> {
  method: string;
  /** Start from the model saved at this URI… */
  modelUri?: string | null;
  /** …or build this architecture from scratch (exactly one of the two). */
  arch?: string | null;
  /** The guidance model's architecture (methods with one); default `defaultGuidanceArch`. */
  guidanceArch?: string | null;
  /** Data set spec (`mnist`, `fashion-mnist`, `cifar10:DIR`, …): its training split. */
  dataset: string;
  /** Training images; absent = the whole split less the held-out images. */
  limit?: number;
  /** Images held out of the training split for the per-epoch check. */
  evalSize: number;
  /** Checkpoints go to `out/checkpoints/`, the hardened model to `out/model/`. */
  out: ArtifactStore;
  seed: number;
  /** Instead of `progressEvery`: about this many `batch` events per epoch (at least one per batch). */
  batchEventsPerEpoch?: number;
  fieldNames?: HardenFieldNames;
}

export interface HardenedModel {
  result: TrainingResult;
  /** Where the hardened target was saved. */
  modelUri: string;
  checkpointsUri: string;
  guidanceArch: ArchName | null;
  train: Pick<Dataset, 'size' | 'shape' | 'numClasses'>;
  heldOut: Pick<Dataset, 'size' | 'split'> | null;
}

/** Hardens a model (see the module comment). The engine must be initialised. */
export async function hardenModel(o: HardenModelOptions): Promise<HardenedModel> {
  const fields = o.fieldNames ?? RPC_FIELDS;
  const method = getMethod(o.method);
  const { train: trainData, heldOut } = await loadTrainingSplits(o.dataset, { evalSize: o.evalSize, ...(o.limit !== undefined && o.limit > 0 ? { limit: o.limit } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  const inputShape = trainData.shape;
  const build = (arch: string, stream: number, field: string) => {
    try {
      return buildModel(resolveModelConfig({ arch, inputShape, numClasses: trainData.numClasses, seed: deriveSeed(o.seed, stream) >>> 1 }));
    } catch (error) {
      if (error instanceof ModelError) throw new TrainingError('invalid-argument', `${field}: ${error.message}`, { field, cause: error });
      throw error;
    }
  };
  if (!o.modelUri === !o.arch) throw new TrainingError('invalid-argument', `${fields.arch}: give an architecture or a model URI (exactly one)`, { field: fields.arch });
  if (o.guidanceArch && !isArchName(o.guidanceArch)) {
    throw new TrainingError('invalid-argument', `${fields.guidanceArch}: unknown architecture "${o.guidanceArch}"; expected one of ${ARCH_NAMES.join(', ')}`, { field: fields.guidanceArch });
  }
  const guidanceArch = method.usesGuidance ? ((o.guidanceArch as ArchName | null | undefined) ?? defaultGuidanceArch(inputShape, trainData.numClasses, o.arch ?? null)) : null;
  const target: tfl.LayersModel = o.modelUri ? await loadModelFromUri(o.modelUri) : build(o.arch!, 1, fields.arch);
  let guidance: tfl.LayersModel | undefined;
  try {
    guidance = guidanceArch ? build(guidanceArch, 2, fields.guidanceArch) : undefined;
    const { method: _m, modelUri: _u, arch: _a, guidanceArch: _g, dataset: _d, limit: _l, out, fieldNames: _f, batchEventsPerEpoch, ...trainOptions } = o;
    if (batchEventsPerEpoch !== undefined) trainOptions.progressEvery = Math.max(1, Math.round(countBatches(trainData.size, o.batchSize ?? 128) / batchEventsPerEpoch));
    const result = await train({
      ...trainOptions,
      method: method.name,
      target,
      ...(guidance ? { guidance } : {}),
      train: trainData,
      ...(heldOut ? { heldOut } : {}),
      checkpoints: out.child('checkpoints'),
    });
    // model.json + weights, and model.onnx beside them (the hardened model for the caller's own stack).
    const saved = await saveModelWithOnnx(target, out, 'model');
    return {
      result: saved.warnings.length > 0 ? { ...result, warnings: [...result.warnings, ...saved.warnings] } : result,
      modelUri: saved.uri,
      checkpointsUri: `${out.uri}/checkpoints`,
      guidanceArch,
      train: { size: trainData.size, shape: trainData.shape, numClasses: trainData.numClasses },
      heldOut: heldOut ? { size: heldOut.size, split: heldOut.split } : null,
    };
  } finally {
    target.dispose();
    guidance?.dispose();
  }
}
