/**
 * The flags `harden attack` and `harden eval` share (a model, a data set split, how many examples,
 * the seed, workers and backend), their checks, and loading both with one check that they fit.
 */
import { defaultWorkerCount, initEngine, resolveBackendChoice, type BackendChoice, type EngineInfo, type tfl } from '../libs/engine/index.js';
import { loadDataset, type Dataset } from '../libs/data/index.js';
import { loadModelFromUri } from '../libs/models/index.js';
import { CliError } from './cli-error.js';
import { DATASET_CHOICES, datasetWithSize, nonNegativeInt, positiveInt } from './flags.js';

/** `parseArgs` options of the shared flags. */
export const MODEL_DATA_OPTIONS = {
  model: { type: 'string' },
  dataset: { type: 'string' },
  size: { type: 'string' },
  split: { type: 'string', default: 'test' },
  limit: { type: 'string' },
  seed: { type: 'string' },
  workers: { type: 'string' },
  backend: { type: 'string' },
} as const;

export interface ModelDataArgs {
  modelUri: string;
  dataset: string;
  split: 'train' | 'test';
  limit: number;
  seed: number;
  workers: number;
  backend: BackendChoice;
}

/** Checks the shared flags; defaults: split test, limit 1000, seed 0, workers as the machine allows. */
export function parseModelDataArgs(values: { model?: string; dataset?: string; size?: string; split?: string; limit?: string; seed?: string; workers?: string; backend?: string }): ModelDataArgs {
  if (!values.model) throw new CliError('--model is required (a folder holding model.json, e.g. file:///tmp/run/model, or an .onnx file)');
  if (!values.dataset) throw new CliError(`--dataset is required (${DATASET_CHOICES})`);
  if (values.split !== 'train' && values.split !== 'test') throw new CliError(`--split must be train or test; got "${values.split}"`);
  return {
    modelUri: values.model,
    dataset: datasetWithSize(values.dataset, values.size)!,
    split: values.split,
    limit: positiveInt('--limit', values.limit) ?? 1000,
    seed: nonNegativeInt('--seed', values.seed) ?? 0,
    workers: positiveInt('--workers', values.workers) ?? defaultWorkerCount(),
    backend: resolveBackendChoice(values.backend),
  };
}

/** Starts the engine, loads the model and the data, and checks the model takes these images. */
export async function loadModelAndData(args: ModelDataArgs): Promise<{ engine: EngineInfo; model: tfl.LayersModel; data: Dataset }> {
  const engine = await initEngine(args.backend);
  const model = await loadModelFromUri(args.modelUri);
  const data = await loadDataset(args.dataset, { split: args.split, limit: args.limit });
  const inputShape = model.inputs[0].shape.slice(1);
  if (inputShape.join('x') !== data.shape.join('x')) {
    model.dispose();
    throw new CliError(`--model takes ${inputShape.join('×')} inputs but --dataset ${args.dataset} has ${data.shape.join('×')} images`);
  }
  return { engine, model, data };
}
