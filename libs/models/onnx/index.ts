export { checkOnnxModel, ONNX_META_KEY, ONNX_OPSETS, onnxToModelBytes, SUPPORTED_ONNX_OPS, type OnnxImport, type OnnxMeta } from './onnx-import.js';
export { EXPORT_OPSET, EXPORTABLE_LAYERS, getOnnxMeta, modelToOnnx, type OnnxExportOptions } from './onnx-export.js';
export { decodeOnnx, type OnnxModel } from './onnx-proto.js';
export { loadOnnxModelFromUri, readOnnxModel } from './onnx-store.js';
export { isOnnxUri, MODEL_ONNX, readOnnxFile, splitFileUri } from './onnx-uri.js';
export { exportOnnxToUri, saveModelWithOnnx, saveOnnx, type SavedOnnx } from './onnx-save.js';
