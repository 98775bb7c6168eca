import { parseArgs } from 'node:util';
import { initEngine } from '../../libs/engine/index.js';
import { exportOnnxToUri, loadModelFromUri } from '../../libs/models/index.js';
import { CliError } from '../cli-error.js';
import { printJson, printLine } from '../output.js';
import { VERSION } from '../version.js';

export const exportHelp = `harden export --model URI --format onnx --out URI [--json]
  Writes a model (a folder holding model.json, or an .onnx file) as ONNX (opset 13, NCHW input,
  batch dynamic): to --out itself when it ends in .onnx, else to model.onnx inside that folder. A
  model imported from ONNX keeps its input/output names, normalisation and final Softmax.`;

export async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, format: { type: 'string', default: 'onnx' }, out: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.model) throw new CliError('--model is required (a folder holding model.json, or an .onnx file)');
  if (!values.out) throw new CliError('--out is required (an .onnx file URI, or a folder for model.onnx)');
  if (values.format !== 'onnx') throw new CliError(`--format must be onnx; got "${values.format}"`);
  // Export reads weights and writes bytes: the reference engine is enough and always present.
  await initEngine('cpu');
  const model = await loadModelFromUri(values.model);
  try {
    const saved = await exportOnnxToUri(model, values.out, { producerVersion: VERSION });
    if (values.json) printJson({ format: 'onnx', model_uri: values.model, out_uri: saved.uri, bytes: saved.bytes });
    else printLine(`wrote ${saved.uri} (${saved.bytes} bytes, ONNX opset 13)`);
  } finally {
    model.dispose();
  }
  return 0;
}
