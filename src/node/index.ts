/**
 * webgpu-lrp in Node (`import ... from 'webgpu-lrp/node'`): everything the core exports, with an
 * `Lrp` that starts Dawn (the `webgpu` package) and loads models by file path, and the file
 * helpers a script needs: images, PNG heatmaps, `.npy` tensors, label files, datasets.
 *
 * ```ts
 * import { Lrp, readImage, writePng } from 'webgpu-lrp/node';
 * const lrp = await Lrp.create();
 * const model = await lrp.loadModel('vgg16.onnx');          // vgg16.onnx.json beside it: preprocessing
 * const explainer = await model.explainer('cmp-alpha2-flat');
 * const explanation = await explainer.explain(await readImage('cat.jpg'));
 * await writePng('cat-heatmap.png', explanation.heatmap(0));
 * lrp.destroy();
 * ```
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Lrp as CoreLrp, adapterName, type LoadModelOptions, type LrpOptions, type ModelSource, type PreprocessSource } from '../api/lrp.ts';
import { Model, type ModelParts } from '../api/model.ts';
import { argumentError, requireImage, requireInstance, requireOptions, requireString, requireTensor } from '../io/arguments.ts';
import { Patterns } from '../api/patterns.ts';
import { weightsDigest } from '../patterns/pattern-set.ts';
import { fileError } from './file-errors.ts';
import { readPatterns, writePatterns } from './patterns/files.ts';
import type { Tensor } from '../api/input.ts';
import { GpuContext } from '../gpu/context.ts';
import { parseLabels } from '../io/labels.ts';
import { npyToFloat32 } from '../io/npy.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import type { RgbaImage } from '../preprocess/image.ts';
import { createNodeGpu, nodeShaderLoader, type NodeGpu } from './gpu.ts';
import { decodeImage, readImage as readImageFile } from './image-decode.ts';
import { loadModel as loadModelFile, readPreprocessFile } from './model-file.ts';
import { readNpy as readNpyFile, writeNpy as writeNpyFile } from './npy-file.ts';
import { encodePng, writePng as writePngFile } from './png.ts';

export * from '../index.ts';

/** Options of the Node {@link Lrp.create}: the core's, and Dawn's. */
export interface NodeLrpOptions extends LrpOptions {
  /** Dawn toggles and options, e.g. `['backend=vulkan']` or `['adapter=NAME']`. */
  readonly dawnOptions?: readonly string[];
}

/**
 * The library in Node: like the core's `Lrp`, but `create()` starts Dawn (the `webgpu` package:
 * Vulkan, Metal or D3D12, or Mesa's lavapipe on a machine without a GPU), and `loadModel()` also
 * takes a file path, reading `MODEL.onnx.json` beside it for the preprocessing and the ONNX
 * external data files. Strings in `preprocess` and `labels` may be file paths.
 *
 * @example
 * ```ts
 * const lrp = await Lrp.create();
 * const model = await lrp.loadModel('models/vgg16.onnx', { labels: 'synset_words.txt' });
 * ```
 */
export class Lrp extends CoreLrp {
  /** Holds Dawn's instance, which must outlive its device (see src/node/gpu.ts). */
  private gpu: NodeGpu | null = null;

  /**
   * Starts the library on Dawn's first adapter (the best one by `powerPreference`), or on
   * `options.device`. Starting Dawn sets `LP_NUM_THREADS` in this process's environment to 8 per
   * CPU core unless it is set already: lavapipe (Mesa's Vulkan on the CPU) runs 1.5 times faster
   * so on few cores than with its default of one per core; other drivers ignore it.
   */
  static override async create(options: NodeLrpOptions = {}): Promise<Lrp> {
    options = requireOptions('Lrp.create', options);
    const shaders = options.shaders ?? nodeShaderLoader;
    if (options.device !== undefined) {
      const ctx = new GpuContext(options.device, { shaders, onPipelineProgress: options.onPipelineProgress });
      return new Lrp(ctx, adapterName((options.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo), () => ctx.destroy());
    }
    // A library prints nothing unasked: compile progress goes to onPipelineProgress only.
    const gpu = await createNodeGpu({
      dawnOptions: options.dawnOptions ? [...options.dawnOptions] : undefined, powerPreference: options.powerPreference, shaders,
      compileProgress: false, onPipelineProgress: options.onPipelineProgress,
    });
    const lrp = new Lrp(gpu.ctx, gpu.adapterName, () => gpu.close());
    lrp.gpu = gpu;
    return lrp;
  }

  /** @internal Files and built-ins by path; bytes and URLs as in the core. */
  protected override async readModel(source: ModelSource, options: LoadModelOptions): Promise<ModelParts> {
    if (typeof source !== 'string') return super.readModel(source, options);
    const file = isPath(options.preprocess) ? options.preprocess : undefined;
    const loaded = loadModelFile(source, { output: options.output, preprocess: file });
    let preprocess: PreprocessSpec | null = loaded.preprocess;
    if (options.preprocess !== undefined && file === undefined) preprocess = await this.readPreprocess(options.preprocess);
    const labels = options.labels === undefined ? null : await this.readLabels(options.labels);
    return { graph: loaded.graph, name: options.name ?? loaded.source, preprocess, labels };
  }

  /** @internal A JSON object or text as in the core; any other string is a file path. */
  protected override async readPreprocess(value: PreprocessSource): Promise<PreprocessSpec> {
    return isPath(value) ? readPreprocessFile(value) : super.readPreprocess(value);
  }

  /** @internal A list or a labels file's text as in the core; a one-line string is a file path. */
  protected override async readLabels(value: readonly string[] | string): Promise<string[]> {
    if (typeof value !== 'string' || value.includes('\n')) return super.readLabels(value);
    return parseLabels(await readText(value, 'labels file'), value);
  }
}

/** A string option that names a file rather than holding JSON text. */
function isPath(value: unknown): value is string {
  return typeof value === 'string' && !value.trim().startsWith('{') && !value.trim().startsWith('[');
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the ${what}: ${(e as Error).message}`);
  }
}

/**
 * Decodes a JPEG or PNG file (or its bytes) to RGBA pixels, as `lrp explain` does: JPEG through
 * libjpeg-turbo (sharp), the decoder of Pillow and torchvision, so pixels match theirs.
 */
export async function readImage(source: string | Uint8Array): Promise<RgbaImage> {
  if (!(typeof source === 'string' || source instanceof Uint8Array)) throw argumentError('readImage', 'source', 'a file path or the file\'s bytes (a Uint8Array)', source);
  return typeof source === 'string' ? readImageFile(source) : decodeImage(source, 'image bytes');
}

/** Writes an RGBA image (e.g. `explanation.heatmap(0)`) as a PNG file. */
export async function writePng(path: string, image: RgbaImage): Promise<void> {
  requireString('writePng', 'path', path, 'a file path (a string)');
  requireImage('writePng', 'image', image);
  await writePngFile(path, image);
}

/** An RGBA image as PNG bytes. */
export function pngBytes(image: RgbaImage): Uint8Array {
  requireImage('pngBytes', 'image', image);
  return new Uint8Array(encodePng(image));
}

/** Reads a `.npy` file as a float32 tensor (float64 and integer arrays are converted). */
export async function readNpy(path: string): Promise<Tensor> {
  requireString('readNpy', 'path', path, 'a file path (a string)');
  const arr = await readNpyFile(path);
  return { data: npyToFloat32(arr), shape: arr.shape };
}

/** Writes a tensor (e.g. `explanation.relevance`) as a float32 `.npy` file, which `numpy.load` reads. */
export async function writeNpy(path: string, tensor: Tensor): Promise<void> {
  requireString('writeNpy', 'path', path, 'a file path (a string)');
  requireTensor('writeNpy', 'tensor', tensor);
  await writeNpyFile(path, tensor.shape, tensor.data);
}

/**
 * Reads the patterns `lrp patterns` wrote to `dir` (or any folder of `NODE.npy` patterns in the
 * shape of each node's ONNX weight) and checks them against `model`: the weights digest of
 * `patterns.json`, a pattern for every Conv, Gemm and MatMul, their shapes. Give them to
 * `model.explainer('pattern-attribution', { patterns })`.
 */
export function loadPatterns(dir: string, model: Model): Patterns {
  requireString('loadPatterns', 'dir', dir, 'the patterns folder\'s path (a string)');
  requireInstance('loadPatterns', 'model', model, Model, 'a Model from lrp.loadModel()');
  return Patterns.of(readPatterns(dir, model.graph).set, null);
}

/**
 * Writes patterns as `lrp patterns` does: `NODE.npy` per node and `patterns.json`, so that
 * `lrp explain --patterns DIR` and `loadPatterns` read them.
 */
export function savePatterns(dir: string, patterns: Patterns, model: Model): void {
  requireString('savePatterns', 'dir', dir, 'the patterns folder\'s path (a string)');
  requireInstance('savePatterns', 'patterns', patterns, Patterns, 'Patterns from model.learnPatterns(), loadPatterns() or Patterns.fromTensors()');
  requireInstance('savePatterns', 'model', model, Model, 'a Model from lrp.loadModel()');
  if (patterns.set.graph !== model.graph) throw new Error(`savePatterns: these patterns are not '${model.name}''s`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileError(dir, 'create the patterns folder', e);
  }
  const p = patterns.provenance;
  writePatterns(dir, model.graph, patterns.set.byLayer, {
    // Patterns given as tensors or read back carry no statistics: their samples are not known (null), never 0.
    model: model.name, weights: weightsDigest(model.graph), statistics: { library: p ? 'model.learnPatterns()' : 'Patterns.fromTensors() or loadPatterns()', limit: null },
    samples: p?.samples ?? null, skipped: 0, batch: 0, preprocess: model.preprocess, rows: p?.rows ?? new Map(),
  });
}

export { readLabels } from './labels.ts';
export { openDataset, DATASET_KINDS, type Dataset, type DatasetKind, type OpenDatasetOptions } from './datasets/index.ts';
export { prepareSample } from './prepare/prepare-sample.ts';
