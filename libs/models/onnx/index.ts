export { checkOnnxModel, ONNX_META_KEY, ONNX_OPSETS, onnxToModelBytes, SUPPORTED_ONNX_OPS, type OnnxImport, type OnnxMeta } from './onnx-import.js';
export { decodeOnnx, type OnnxModel } from './onnx-proto.js';
