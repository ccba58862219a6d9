/**
 * The model's preprocessing spec (`MODEL.onnx.json` or `--preprocess FILE`), format in
 * shared/docs/evaluation-protocol.md, "Preprocessing".
 */
import { argumentError, describeValue } from '../io/arguments.ts';

/** The input's channels: RGB (PyTorch, torchvision), BGR (Caffe), or one grey channel (luma). */
export type ChannelOrder = 'RGB' | 'BGR' | 'GRAY';
/** `rescale`: the whole image to the input size; `shorter-side-crop`: shorter side to `shorter`, then the centre square. */
export type ResizeMode = 'rescale' | 'shorter-side-crop';

/** How an image becomes a model's input (the JSON of `MODEL.onnx.json`). */
export interface PreprocessSpec {
  /**
   * Model input `[height, width]`. The protocol does not fix the order of the JSON `"size"` pair
   * (every shipped model is square); we read it like the tensor's NCHW dims, height first.
   */
  size: [number, number];
  /** The input's channel order. */
  channels: ChannelOrder;
  /** A pixel value v in 0..255 becomes `(v * scale - mean[c]) / std[c]`, c in `channels` order. */
  scale: number;
  /** Per channel, in `channels` order (default 0). */
  mean: number[];
  /** Per channel, in `channels` order (default 1). */
  std: number[];
  /** How the image is brought to the input size (default `rescale`). */
  resize: ResizeMode;
  /** shorter-side-crop only: the shorter side is resized to this before the centre crop (default: the input size). */
  shorter?: number;
}

const KEYS = new Set(['size', 'channels', 'scale', 'mean', 'std', 'resize', 'shorter']);

function checkSource(where: string, source: unknown): void {
  if (typeof source !== 'string') throw argumentError(where, 'source', 'a name for messages (a string, or left out)', source);
}

export function channelCount(spec: Pick<PreprocessSpec, 'channels'>): number {
  return spec.channels === 'GRAY' ? 1 : 3;
}

/** Parses the JSON text of a spec file; errors name `source` (default `parsePreprocessSpecText`). */
export function parsePreprocessSpecText(text: string, source = 'parsePreprocessSpecText'): PreprocessSpec {
  checkSource('parsePreprocessSpecText', source);
  if (typeof text !== 'string') throw argumentError('parsePreprocessSpecText', 'text', 'JSON text (a string)', text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: preprocessing spec is not valid JSON: ${(e as Error).message}`);
  }
  return parsePreprocessSpec(json, source);
}

/**
 * Validates an already-parsed spec, filling the defaults (scale 1, mean 0, std 1, resize 'rescale');
 * errors name `source` (a file name; default `parsePreprocessSpec`).
 */
export function parsePreprocessSpec(json: unknown, source = 'parsePreprocessSpec'): PreprocessSpec {
  checkSource('parsePreprocessSpec', source);
  const fail = (field: string, what: string): never => {
    throw new Error(`${source}: preprocessing spec field "${field}" ${what}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${source}: preprocessing spec must be a JSON object, got ${describeValue(json)}`);
  }
  const o = json as Record<string, unknown>;
  // Unknown keys are almost always typos ("channel", "sizes") that would silently fall back to a default.
  for (const k of Object.keys(o)) if (!KEYS.has(k)) fail(k, `is not a known field (known: ${[...KEYS].join(', ')})`);

  const size = o.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isSafeInteger(v) && v > 0)) {
    fail('size', `must be two positive integers [height, width], got ${JSON.stringify(size)}`);
  }

  const channels = o.channels;
  if (channels !== 'RGB' && channels !== 'BGR' && channels !== 'GRAY') {
    fail('channels', `must be "RGB", "BGR" or "GRAY", got ${JSON.stringify(channels)}`);
  }
  const n = channelCount({ channels: channels as ChannelOrder });

  const scale = o.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    fail('scale', `must be a positive number, got ${JSON.stringify(o.scale)}`);
  }

  const vector = (field: 'mean' | 'std', fallback: number): number[] => {
    const v = o[field];
    if (v === undefined) return new Array<number>(n).fill(fallback);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return fail(field, `must be an array of numbers, got ${JSON.stringify(v)}`);
    }
    if (v.length !== n) fail(field, `has ${v.length} values but "channels" ${channels as string} has ${n}`);
    return [...(v as number[])];
  };
  const mean = vector('mean', 0);
  const std = vector('std', 1);
  if (!std.every((s) => s > 0)) fail('std', `must be positive, got ${JSON.stringify(std)}`);

  const resize = o.resize ?? 'rescale';
  if (resize !== 'rescale' && resize !== 'shorter-side-crop') {
    fail('resize', `must be "rescale" or "shorter-side-crop", got ${JSON.stringify(o.resize)}`);
  }

  const [h, w] = size as [number, number];
  const spec: PreprocessSpec = {
    size: [h, w], channels: channels as ChannelOrder, scale: scale as number, mean, std, resize: resize as ResizeMode,
  };
  if (resize === 'shorter-side-crop' && h !== w) {
    fail('size', `must be square for "resize": "shorter-side-crop", got ${JSON.stringify(size)}`);
  }
  if (o.shorter !== undefined) {
    if (resize !== 'shorter-side-crop') fail('shorter', 'is only meaningful with "resize": "shorter-side-crop"');
    const s = o.shorter;
    if (typeof s !== 'number' || !Number.isFinite(s)) return fail('shorter', `must be a number, got ${JSON.stringify(s)}`);
    // A shorter side below the crop would need padding outside the image, which the protocol does not define.
    if (s < h) fail('shorter', `must be at least the input size ${h}, got ${s}`);
    spec.shorter = s;
  }
  return spec;
}
