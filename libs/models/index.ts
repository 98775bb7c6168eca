export { ARCH_NAMES, buildModel, describeArchs, isArchName, modelConfigFromInfo, resolveModelConfig } from './registry.js';
export type { ArchName, BaseModelConfig, LooseModelConfig, ModelConfig } from './registry.js';
export type { ArchOptions, InputShape } from './arch.js';
export type { SmallCnnOptions } from './small-cnn.js';
export type { WideResnetOptions } from './wide-resnet.js';
export { BATCH_NORM } from './layer-builder.js';
export { getModelInfo, MODEL_INFO_KEY, modelSignature, type ModelInfo, type ModelSignature } from './model-info.js';
export { countParams, forwardMacs, macsByLayer, type LayerMacs, type ParamCount } from './cost.js';
export { MODEL_JSON, modelFromBytes, modelToBytes, type ModelBytes } from './model-format.js';
export {
  loadModel,
  loadModelFromUri,
  readModelBytes,
  saveModel,
  saveModelToUri,
  storeIOHandler,
  type SavedModel,
  type SaveModelOptions,
} from './store-io.js';
export { ModelError, type ModelErrorCode } from './errors.js';
export { withDropoutPass, withDropoutSeed } from './dropout-layer.js';
export {
  checkOnnxModel,
  EXPORT_OPSET,
  exportOnnxToUri,
  getOnnxMeta,
  isOnnxUri,
  loadOnnxModelFromUri,
  MODEL_ONNX,
  modelToOnnx,
  ONNX_OPSETS,
  onnxToModelBytes,
  readOnnxModel,
  saveModelWithOnnx,
  SUPPORTED_ONNX_OPS,
  type OnnxExportOptions,
  type OnnxImport,
  type OnnxMeta,
  type SavedOnnx,
} from './onnx/index.js';
