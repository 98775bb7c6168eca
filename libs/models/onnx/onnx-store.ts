/**
 * Loading the ONNX file a model URI names (onnx-uri.ts), converted (onnx-import.ts):
 * `loadModelFromUri` comes through here for `.onnx` URIs.
 */
import type { tfl } from '../../engine/index.js';
import { modelFromBytes } from '../model-format.js';
import { onnxToModelBytes, type OnnxImport } from './onnx-import.js';
import { readOnnxFile } from './onnx-uri.js';

/** Reads and converts the ONNX file a URI names, without building it (no engine needed). */
export async function readOnnxModel(uri: string): Promise<OnnxImport> {
  return onnxToModelBytes(await readOnnxFile(uri));
}

/** Loads the ONNX file a URI names as a trainable model; `warnings` says what the import changed. */
export async function loadOnnxModelFromUri(uri: string): Promise<{ model: tfl.LayersModel; warnings: string[] }> {
  const imported = await readOnnxModel(uri);
  return { model: await modelFromBytes(imported.bytes), warnings: imported.warnings };
}
