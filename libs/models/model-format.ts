/**
 * The tfjs layers format, in memory: model.json (`format`, `generatedBy`, `modelTopology`,
 * `weightsManifest`, `userDefinedMetadata`) plus the weight bytes. Weights are copied byte for byte,
 * so a save/load round trip is bit-identical, BatchNorm moving statistics included.
 */
import { tf, tfl } from '../engine/index.js';
// Register our Conv2D and BatchNormalization under the stock names before any model.json is deserialised.
import './batch-norm-layer.js';
import './conv-layer.js';
import './dropout-layer.js';
import './onnx/onnx-layers.js';
import { ModelError } from './errors.js';

/** The file name of the topology + manifest inside a model folder. */
export const MODEL_JSON = 'model.json';

/** A model serialised in memory, safe to post to worker threads (structured clone). */
export interface ModelBytes {
  /** model.json text, as a model folder would hold it. */
  modelJson: string;
  /** All weights, in manifest order (the weight files concatenated). */
  weightData: ArrayBuffer;
}

/** What `model.save` hands to an IOHandler, with the weights as one buffer. */
export interface Artifacts {
  artifacts: tf.io.ModelArtifacts;
  weightData: ArrayBuffer;
  weightSpecs: tf.io.WeightsManifestEntry[];
}

/** Runs `model.save` into memory (no optimizer state) and returns the artifacts. */
export async function captureArtifacts(model: tfl.LayersModel): Promise<Artifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (!captured) throw new ModelError('io', `saving model ${model.name} produced no artifacts`);
  return fromArtifacts(captured);
}

/** Normalises artifacts (from `model.save` or an IOHandler caller) to one weight buffer. */
export function fromArtifacts(artifacts: tf.io.ModelArtifacts): Artifacts {
  const data = artifacts.weightData;
  const weightData = data === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(data);
  return { artifacts, weightData, weightSpecs: artifacts.weightSpecs ?? [] };
}

/** model.json's object for `artifacts`, its weights split into files named `paths`. */
export function toModelJson(artifacts: tf.io.ModelArtifacts, weightSpecs: tf.io.WeightsManifestEntry[], paths: string[]): tf.io.ModelJSON {
  if (artifacts.modelTopology === undefined || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new ModelError('corrupt', 'only layers models with a JSON topology can be saved');
  }
  const json: tf.io.ModelJSON = {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: weightSpecs }],
  };
  if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  return json;
}

/** Parses and checks model.json text; `where` names the file in errors. */
export function parseModelJson(text: string, where: string): tf.io.ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelError('corrupt', `${where} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const j = json as Partial<tf.io.ModelJSON> | null;
  if (typeof j !== 'object' || j === null || typeof j.modelTopology !== 'object' || j.modelTopology === null) {
    throw new ModelError('corrupt', `${where} has no modelTopology: not a tfjs layers model`);
  }
  if (j.format !== undefined && j.format !== 'layers-model') {
    throw new ModelError('corrupt', `${where} has format "${j.format}"; only "layers-model" is supported`);
  }
  const manifest = j.weightsManifest;
  if (
    !Array.isArray(manifest) ||
    !manifest.every((g) => Array.isArray(g?.paths) && g.paths.every((p) => typeof p === 'string') && Array.isArray(g.weights))
  ) {
    throw new ModelError('corrupt', `${where} has no valid weightsManifest`);
  }
  return j as tf.io.ModelJSON;
}

/** Bytes the manifest's weights take, or `undefined` when a string weight makes it data-dependent. */
export function expectedWeightBytes(specs: tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const spec of specs) {
    const perElement = spec.quantization ? QUANTIZED_BYTES[spec.quantization.dtype] : DTYPE_BYTES[spec.dtype];
    if (perElement === undefined) return undefined;
    total += perElement * spec.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

const DTYPE_BYTES: Record<string, number | undefined> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** Builds the model from model.json and its weights; `where` names the source in errors. */
export async function modelFromJson(json: tf.io.ModelJSON, weightData: ArrayBuffer, where: string): Promise<tfl.LayersModel> {
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const expected = expectedWeightBytes(weightSpecs);
  if (expected !== undefined && expected !== weightData.byteLength) {
    throw new ModelError('corrupt', `${where}: the weights are ${weightData.byteLength} bytes but the manifest needs ${expected}`);
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    weightSpecs,
    weightData,
  };
  if (json.trainingConfig !== undefined) artifacts.trainingConfig = json.trainingConfig;
  if (json.userDefinedMetadata !== undefined) artifacts.userDefinedMetadata = json.userDefinedMetadata;
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory(artifacts), { strict: true });
  } catch (cause) {
    throw new ModelError('corrupt', `${where}: tfjs cannot build the model: ${(cause as Error).message}`, { cause });
  }
}

/** Serialises a model in memory (model.json text + one weight buffer). */
export async function modelToBytes(model: tfl.LayersModel): Promise<ModelBytes> {
  const { artifacts, weightData, weightSpecs } = await captureArtifacts(model);
  const json = toModelJson(artifacts, weightSpecs, ['weights.bin']);
  return { modelJson: JSON.stringify(json), weightData };
}

/** Rebuilds a model from `modelToBytes` output. Throws `ModelError` `corrupt` on bad input. */
export async function modelFromBytes(bytes: ModelBytes): Promise<tfl.LayersModel> {
  return modelFromJson(parseModelJson(bytes.modelJson, 'model bytes'), bytes.weightData, 'model bytes');
}
