/// <reference types="@webgpu/types" />
/**
 * webgpu-lrp: Layer-wise Relevance Propagation on WebGPU, the browser-safe core (`import ... from
 * 'webgpu-lrp'`). It takes a GPUDevice and imports nothing from Node; `webgpu-lrp/node` adds Dawn
 * start-up, files, images and datasets, and re-exports all of this.
 *
 * ```ts
 * const lrp = await Lrp.create();
 * const model = await lrp.loadModel(new URL('model.onnx', location.href));
 * const explainer = await model.explainer('cmp-alpha2-flat');
 * const explanation = await explainer.explain(await readImage(file));
 * const picture = explanation.heatmap(0);             // RGBA at the model's input size
 * ```
 *
 * Everything exported here is the public API (docs/api.md); modules under src/ are internal.
 */
export { Lrp, NoWebGpuError, type LoadModelOptions, type LrpOptions, type ModelSource, type PreprocessSource } from './api/lrp.ts';
export { inspectModel, Model, topClasses, type LayerInfo, type LearnPatternsOptions, type ModelInfo, type Prediction, type RankedClass } from './api/model.ts';
export {
  Explainer, Explanation, type ExplainOptions, type GpuExplanation, type GpuTensor, type LayerPlan, type Target,
  type AopcOptions, type AopcResult, type AopcSample,
} from './api/explainer.ts';
export {
  Composite, type CompositeJson, type CompositeOptions, type CompositeRuleJson, type CompositeSource, type DescribedModel, type LayerSelector,
  type PresetInfo, type PresetName,
} from './api/composite.ts';
export * from './api/heatmap.ts';
export { Patterns, type PatternsProvenance } from './api/patterns.ts';
export { croppedImage, type ModelInput, type RgbaImage, type Tensor } from './api/input.ts';
export { readImage, type ImageSource } from './api/image.ts';
export { npyToTensor, tensorToNpy } from './api/npy.ts';
export {
  aggregate, boxMask, Evaluator, isPrepared, localization, prepareImage,
  type Aggregates, type Box, type ClassBoxes, type Curve, type EvaluateOptions, type Evaluation, type EvaluatorOptions,
  type Localization, type PairRecord, type PairSums, type PreparedSample, type PrepareFailure, type PrepareResult,
  type ReportRow, type Sample, type Skip,
} from './api/evaluator.ts';
export type { MapPairSimilarity, SanityCheckOptions, SanityResult, SanityRow, SanityStat, SanityStep } from './api/sanity.ts';
export { parsePreprocessSpec, parsePreprocessSpecText, type ChannelOrder, type PreprocessSpec, type ResizeMode } from './preprocess/spec.ts';
export { parseLabels } from './io/labels.ts';
export type { PipelineProgress } from './gpu/pipeline-cache.ts';
export type { ConvMode } from './forward/winograd.ts';
export { GpuError } from './gpu/errors.ts';
export type { ShaderLoader } from './gpu/shaders.ts';
