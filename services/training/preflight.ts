/**
 * Refusing early: before Harden or Evaluate queue a job, the data set's first example is read (the
 * split the job will read) and a saved model's `model.json` and weights files are read and parsed,
 * so that a missing folder, an uninstalled data set or a `model.json` that is not a model is
 * NOT_FOUND / FAILED_PRECONDITION at once (libs/rpc errors.ts), as GenerateAdversarial answers,
 * instead of a job that is QUEUED and then FAILED. An `.onnx` model is converted here too
 * (libs/models `readModelBytes`), so an operator the importer does not take is refused at once; and
 * a model whose input size or class count does not fit the data set is INVALID_ARGUMENT.
 */
import { loadDataset, type Split } from '../../libs/data/index.js';
import { modelSignature, readModelBytes } from '../../libs/models/index.js';
import { invalidField } from '../../libs/rpc/index.js';

/**
 * `classes`: `equal` for training (the model's logits are the data set's classes, as the trainer
 * requires), `at-least` for evaluation (a model may know more classes than a test set holds).
 */
export async function checkJobInputs(input: { dataset: string; split: Split; modelUri: string | null; classes: 'equal' | 'at-least' }): Promise<void> {
  const data = await loadDataset(input.dataset, { split: input.split, limit: 1 });
  if (!input.modelUri) return;
  const { inputShape, numClasses } = modelSignature((await readModelBytes(input.modelUri)).modelJson);
  if (inputShape && inputShape.join('x') !== data.shape.join('x')) {
    throw invalidField('dataset', `the model takes ${inputShape.join('×')} inputs but ${input.dataset} has ${data.shape.join('×')} images`);
  }
  if (numClasses !== undefined && (input.classes === 'equal' ? data.numClasses !== numClasses : data.numClasses > numClasses)) {
    throw invalidField('dataset', `the model has ${numClasses} classes but ${input.dataset} has ${data.numClasses}`);
  }
}
