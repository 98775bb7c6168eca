/**
 * Refusing early: before Harden or Evaluate queue a job, the data set's first example is read (the
 * split the job will read) and a saved model's `model.json` and weights files are read and parsed,
 * so that a missing folder, an uninstalled data set or a `model.json` that is not a model is
 * NOT_FOUND / FAILED_PRECONDITION at once (libs/rpc errors.ts), as GenerateAdversarial answers,
 * instead of a job that is QUEUED and then FAILED. An `.onnx` model is converted here too
 * (libs/models `readModelBytes`), so an operator the importer does not take is refused at once.
 */
import { loadDataset, type Split } from '../../libs/data/index.js';
import { readModelBytes } from '../../libs/models/index.js';

export async function checkJobInputs(input: { dataset: string; split: Split; modelUri: string | null }): Promise<void> {
  await loadDataset(input.dataset, { split: input.split, limit: 1 });
  if (input.modelUri) await readModelBytes(input.modelUri);
}
