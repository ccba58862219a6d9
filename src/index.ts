/**
 * webgpu-lrp's core: takes a GPUDevice, imports nothing from Node, runs in a browser unchanged.
 * Node start-up (Dawn, files, images) lives in src/node/.
 */
export type { Graph, Layer, LayerKind, Shape, ValueInfo } from './graph/ir.ts';
export { GraphBuilder } from './graph/builder.ts';
export { importOnnx, SUPPORTED_OPS } from './graph/onnx/import.ts';
export { builtinModel, BUILTIN_MODELS } from './graph/zoo.ts';
export { summarizeGraph, formatSummary } from './graph/summary.ts';
export { GpuContext, deviceDescriptor } from './gpu/context.ts';
export type { Dispatch } from './gpu/context.ts';
export { GpuError } from './gpu/errors.ts';
export type { ShaderLoader } from './gpu/shaders.ts';
export { SHADER_FILES } from './kernels/index.ts';
export { ForwardModel, Activations } from './forward/model.ts';
export { predict, topK } from './forward/predict.ts';
export { parseNpy, encodeNpy, npyToFloat32 } from './io/npy.ts';
export { parsePreprocessSpec, type PreprocessSpec } from './preprocess/spec.ts';
export { preprocessImage, type RgbaImage } from './preprocess/image.ts';
export { PatternStatistics, type StatsCost } from './patterns/statistics.ts';
export { patternFromSums, type LayerSums } from './patterns/sums.ts';
export { bindPatterns, weightsDigest, sourceWeightShape, type PatternSet, type PatternEntry } from './patterns/pattern-set.ts';
export * from './heatmap/index.ts';
