/**
 * What a model takes and gives: tensors (float32 with a shape) and images (RGBA pixels), and the
 * one place where either becomes the model's N×(input shape) batch.
 *
 * Decisions:
 * - A tensor may leave out the batch axis (C×H×W is one sample); a bare Float32Array is taken as
 *   N samples when its length is a multiple of one sample's size.
 * - Images go through the model's preprocessing spec (resize or shorter-side crop, channel order,
 *   scale, mean, std) exactly as `lrp explain` does; a model without one cannot take images, and
 *   the error says how to give one.
 */
import { numel, type Graph } from '../graph/ir.ts';
import { assertFinite } from '../io/finite.ts';
import { preprocessImage, type RgbaImage } from '../preprocess/image.ts';
import { channelCount, type PreprocessSpec } from '../preprocess/spec.ts';

/** A float32 array and its shape, row-major; images are N×C×H×W (NCHW), as in PyTorch. */
export interface Tensor {
  /** The values, `shape` multiplied out. */
  readonly data: Float32Array;
  /** The size of each axis, outermost first. */
  readonly shape: readonly number[];
}

/**
 * What `predict` and `explain` take: a tensor of N samples (N×C×H×W, or C×H×W for one), a
 * Float32Array of N samples, one image, or a list of images. Images need the model's preprocessing
 * spec (see {@link LoadModelOptions.preprocess}). In a browser an `ImageData` is an image.
 */
export type ModelInput = Tensor | Float32Array | RgbaImage | readonly RgbaImage[];

export type { RgbaImage };
export { croppedImage } from '../preprocess/image.ts';

/** The model as input conversion needs it. */
interface InputModel {
  readonly name: string;
  readonly graph: Graph;
  readonly preprocess: PreprocessSpec | null;
}

function isImage(x: unknown): x is RgbaImage {
  const i = x as RgbaImage;
  return typeof i === 'object' && i !== null && typeof i.width === 'number' && typeof i.height === 'number'
    && (i.data instanceof Uint8Array || i.data instanceof Uint8ClampedArray);
}

/** The model's float32 batch, its number of samples, and the images it was made from (null for tensors). */
export interface Batch {
  readonly data: Float32Array;
  readonly count: number;
  readonly images: readonly RgbaImage[] | null;
}

/**
 * `input` as the model's float32 batch. Tensors must be finite: a non-finite value is an error
 * naming `what` (the argument) and its index; images are finite by construction.
 */
export function toBatch(input: ModelInput, model: InputModel, what = 'input'): Batch {
  const want = model.graph.input.shape;
  const per = numel(want);
  const takes = `model '${model.name}' takes N×${want.join('×')} float32`;
  if (input instanceof Float32Array) {
    if (input.length === 0 || input.length % per !== 0) {
      throw new Error(`an input of ${input.length} values is not a whole number of samples: ${takes} (${per} values per sample)`);
    }
    assertFinite(input, [input.length / per, ...want], what);
    return { data: input, count: input.length / per, images: null };
  }
  if (isImage(input)) return imagesToBatch([input], model);
  if (Array.isArray(input)) {
    const list = input as readonly unknown[];
    if (list.length === 0) throw new Error(`no input: the list of images is empty (${takes})`);
    const bad = list.findIndex((x) => !isImage(x));
    if (bad >= 0) throw new Error(`input[${bad}] is not an image ({ width, height, data: RGBA bytes }); give a list of images or one tensor`);
    return imagesToBatch(list as RgbaImage[], model);
  }
  const t = input as Tensor;
  if (typeof t !== 'object' || t === null || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) {
    throw new Error(`input must be a tensor { data: Float32Array, shape }, a Float32Array, an image { width, height, data } or a list of images (${takes})`);
  }
  const shape = t.shape.length === want.length ? [1, ...t.shape] : t.shape;
  const fits = shape.length === want.length + 1 && want.every((d, i) => shape[i + 1] === d) && shape[0] >= 1;
  if (!fits) throw new Error(`input tensor has shape [${t.shape.join(', ')}], but ${takes}`);
  if (t.data.length !== numel(shape)) {
    throw new Error(`input tensor has ${t.data.length} values, but its shape [${t.shape.join(', ')}] needs ${numel(shape)}`);
  }
  assertFinite(t.data, shape, what);
  return { data: t.data, count: shape[0], images: null };
}

function imagesToBatch(images: readonly RgbaImage[], model: InputModel): Batch {
  const spec = model.preprocess;
  if (!spec) {
    throw new Error(`model '${model.name}' has no preprocessing spec, so images cannot become its input: pass `
      + '{ preprocess: { size: [H, W], channels: "RGB", scale: 1 / 255, mean: [...], std: [...], resize: "shorter-side-crop" } } '
      + 'to loadModel (in Node, or put MODEL.onnx.json beside the model), or give a tensor');
  }
  checkPreprocessFits(model.graph, spec, model.name);
  const per = numel(model.graph.input.shape);
  const data = new Float32Array(images.length * per);
  images.forEach((img, i) => data.set(preprocessImage(img, spec), i * per));
  return { data, count: images.length, images };
}

/** Throws unless `spec` makes inputs of the model's input shape. */
export function checkPreprocessFits(graph: Graph, spec: PreprocessSpec, name: string): void {
  const [c, h, w] = graph.input.shape;
  const channels = channelCount(spec);
  if (graph.input.shape.length !== 3 || c !== channels || h !== spec.size[0] || w !== spec.size[1]) {
    throw new Error(`preprocessing gives ${channels}×${spec.size.join('×')} but model '${name}' takes ${graph.input.shape.join('×')}`);
  }
}
