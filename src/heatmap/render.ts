/**
 * Relevance maps as pictures, the way the LRP literature draws them (zennit's `imgify`): the map
 * summed over channels, scaled symmetrically about zero, coloured through a 256-entry palette.
 * One implementation for the CLI, the galleries and the web page. Browser-safe: returns RGBA
 * bytes; encoding and writing are the caller's.
 *
 * Decisions:
 * - The scale `vmax` is a percentile of the magnitudes (|R| for `signed` and `absolute`, max(R, 0)
 *   for `positive`), default the 99.5th, so that a few extreme pixels do not wash out the rest;
 *   `clip: 100` is zennit's max-abs scaling. The percentile is the sorted magnitudes' entry at
 *   floor(p/100 · n) (the last for p = 100). A map whose percentile is 0 (mostly zeros) falls back
 *   to its largest magnitude; an all-zero map is drawn in the zero colour.
 * - Colour: `signed` maps [-vmax, vmax] onto the whole palette (zero in the middle, as zennit's
 *   `symmetric=True`); `positive` and `absolute` map [0, vmax] onto the upper half of a diverging
 *   palette (from its zero colour up) and onto all of a sequential one. Palette entry:
 *   floor(255 t), clipped, as zennit's imgify.
 * - Overlay: the image turned grey (ITU-R 601 luma), the heat colour over it with alpha
 *   `opacity · m / vmax` (m the magnitude, clipped to 1), so weak relevance lets the image through.
 * - Original size: each image pixel takes the relevance of the model-input pixel its centre falls
 *   in (preprocess/geometry.ts), nearest, so no value is smoothed; pixels the model did not see
 *   (the margins of a shorter-side crop) are transparent, or the bare grey image in an overlay.
 *   The scale is the model-input map's, so both sizes of one map share their colours.
 */
import { inputPixelOfImagePixels, sourceRect } from '../preprocess/geometry.ts';
import { resampleRect, type RgbaImage } from '../preprocess/image.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { colormap, paletteIndex, type Colormap } from './colormap.ts';

/** An H×W map of one value per pixel, row-major. */
export interface Plane {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** What is coloured: the signed relevance, its positive part, or its magnitude. */
export type HeatmapMode = 'signed' | 'positive' | 'absolute';
/** Every heatmap mode. */
export const HEATMAP_MODES: readonly HeatmapMode[] = ['signed', 'positive', 'absolute'];

/** How a plane becomes colours (every field has a default, see HEATMAP_DEFAULTS). */
export interface HeatmapOptions {
  /** A zennit colour map name or cmsl source (default `bwr`), or a compiled map. */
  readonly cmap?: string | Colormap;
  /** Default `signed`. */
  readonly mode?: HeatmapMode;
  /** Percentile of the magnitudes that reaches the end of the colour map, in (0, 100]; default 99.5. */
  readonly clip?: number;
  /** An explicit scale instead of the percentile (e.g. one scale for several maps). */
  readonly vmax?: number;
  /** Draw over this image (the map's size): heat over the grey image, alpha from the magnitude. */
  readonly overlay?: RgbaImage | null;
  /** Largest alpha of the heat over an overlay, in [0, 1]; default 1. */
  readonly opacity?: number;
}

/** The defaults every renderer uses (the CLI's, the gallery's and the web page's). */
export const HEATMAP_DEFAULTS = { cmap: 'bwr', mode: 'signed', clip: 99.5 } as const satisfies HeatmapOptions;

/** How values became colours, for a colour bar and for messages. */
export interface HeatmapScale {
  readonly cmap: Colormap;
  readonly mode: HeatmapMode;
  /** The percentile used (null when `vmax` was given). */
  readonly clip: number | null;
  /** Values map onto [vmin, vmax]; vmin is -vmax for `signed`, 0 otherwise. */
  readonly vmin: number;
  readonly vmax: number;
  /** Palette entries in use: 0..255 for signed or sequential maps, 127..255 for magnitudes on a diverging one. */
  readonly paletteRange: readonly [number, number];
}

/** Sums a C×H×W map over channels into an H×W plane. */
export function channelSum(rel: ArrayLike<number>, channels: number, height: number, width: number): Float32Array {
  const plane = height * width;
  const out = new Float32Array(plane);
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) out[i] += rel[c * plane + i];
  return out;
}

/** Sample `n` of an N×C×H×W relevance batch as an H×W plane (summed over channels). */
export function relevancePlane(rel: Float32Array, shape: readonly number[], n = 0): Plane {
  if (shape.length !== 3) throw new Error(`a heatmap needs a C×H×W input, this one is ${shape.join('×')}`);
  const [c, h, w] = shape;
  const per = c * h * w;
  if ((n + 1) * per > rel.length) throw new Error(`relevance has ${rel.length} values, sample ${n} needs ${(n + 1) * per}`);
  return { width: w, height: h, data: channelSum(rel.subarray(n * per, (n + 1) * per), c, h, w) };
}

function checkOptions(o: HeatmapOptions): { cmap: Colormap; mode: HeatmapMode; clip: number } {
  const mode = o.mode ?? HEATMAP_DEFAULTS.mode;
  if (!HEATMAP_MODES.includes(mode)) throw new Error(`heatmap mode must be one of ${HEATMAP_MODES.join(', ')}, got '${mode}'`);
  const clip = o.clip ?? HEATMAP_DEFAULTS.clip;
  if (!(typeof clip === 'number' && clip > 0 && clip <= 100)) throw new Error(`clip must be a percentile in (0, 100], got ${clip}`);
  if (o.vmax !== undefined && !(Number.isFinite(o.vmax) && o.vmax > 0)) throw new Error(`vmax must be a positive number, got ${o.vmax}`);
  if (o.opacity !== undefined && !(o.opacity >= 0 && o.opacity <= 1)) throw new Error(`opacity must be in [0, 1], got ${o.opacity}`);
  const cmap = typeof o.cmap === 'object' ? o.cmap : colormap(o.cmap ?? HEATMAP_DEFAULTS.cmap);
  return { cmap, mode, clip };
}

/** The magnitude a mode colours: |v|, or max(v, 0) for `positive`; 0 for non-finite values. */
function magnitude(v: number, mode: HeatmapMode): number {
  if (!Number.isFinite(v)) return 0;
  return mode === 'positive' ? Math.max(0, v) : Math.abs(v);
}

/** The p-th percentile of the magnitudes (see the file header), with its fallbacks. */
export function percentileScale(values: ArrayLike<number>, mode: HeatmapMode, clip: number): number {
  const n = values.length;
  if (n === 0) return 1;
  const m = new Float32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    m[i] = magnitude(values[i], mode);
    if (m[i] > max) max = m[i];
  }
  if (!(max > 0)) return 1;
  if (clip >= 100) return max;
  m.sort();
  const v = m[Math.min(n - 1, Math.floor((clip / 100) * n))];
  return v > 0 ? v : max;
}

/** How `plane` would be coloured under `opts` (without drawing it). */
export function heatmapScale(plane: Pick<Plane, 'data'>, opts: HeatmapOptions = {}): HeatmapScale {
  const { cmap, mode, clip } = checkOptions(opts);
  const vmax = opts.vmax ?? percentileScale(plane.data, mode, clip);
  const half = mode !== 'signed' && cmap.diverging;
  return { cmap, mode, clip: opts.vmax === undefined ? clip : null, vmin: mode === 'signed' ? -vmax : 0, vmax, paletteRange: half ? [127, 255] : [0, 255] };
}

/** The palette position t in [0, 1] of a value, and its alpha weight m / vmax in [0, 1]. */
function position(v: number, s: HeatmapScale): { t: number; weight: number } {
  const m = magnitude(v, s.mode);
  const weight = Math.min(1, m / s.vmax);
  if (s.mode === 'signed') {
    const x = Number.isFinite(v) ? v : 0;
    return { t: (x + s.vmax) / (2 * s.vmax), weight };
  }
  return { t: s.paletteRange[0] === 0 ? weight : 0.5 + weight / 2, weight };
}

/** The colour of one value under a scale, as [r, g, b] bytes. */
export function heatColour(v: number, s: HeatmapScale): [number, number, number] {
  const k = 3 * paletteIndex(position(v, s).t);
  return [s.cmap.palette[k], s.cmap.palette[k + 1], s.cmap.palette[k + 2]];
}

/** ITU-R 601 luma of an RGBA pixel, unrounded. */
function luma(d: ArrayLike<number>, i: number): number {
  return 0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2];
}

/**
 * Draws `plane` with a scale (from `heatmapScale`, or that of another plane so that several share
 * one). NaN pixels are "not seen by the model": transparent, or the grey image in an overlay.
 */
export function drawHeatmap(plane: Plane, scale: HeatmapScale, opts: Pick<HeatmapOptions, 'overlay' | 'opacity'> = {}): RgbaImage {
  const { width, height, data: map } = plane;
  const under = opts.overlay ?? null;
  if (under && (under.width !== width || under.height !== height)) {
    throw new Error(`overlay image is ${under.width}×${under.height}, the map ${width}×${height}`);
  }
  const opacity = opts.opacity ?? 1;
  const pal = scale.cmap.palette;
  const out = new Uint8Array(4 * width * height);
  for (let i = 0; i < width * height; i++) {
    const v = map[i];
    const o = 4 * i;
    if (Number.isNaN(v)) {
      if (under) {
        const g = Math.round(luma(under.data, i));
        out[o] = g; out[o + 1] = g; out[o + 2] = g; out[o + 3] = 255;
      }
      continue;
    }
    const { t, weight } = position(v, scale);
    const k = 3 * paletteIndex(t);
    if (under) {
      const a = opacity * weight;
      const g = (1 - a) * luma(under.data, i);
      out[o] = Math.round(a * pal[k] + g);
      out[o + 1] = Math.round(a * pal[k + 1] + g);
      out[o + 2] = Math.round(a * pal[k + 2] + g);
    } else {
      out[o] = pal[k]; out[o + 1] = pal[k + 1]; out[o + 2] = pal[k + 2];
    }
    out[o + 3] = 255;
  }
  return { width, height, data: out };
}

/** `plane` as a picture: its scale from `opts` (percentile or `vmax`), then drawn. */
export function renderHeatmap(plane: Plane, opts: HeatmapOptions = {}): { image: RgbaImage; scale: HeatmapScale } {
  const scale = heatmapScale(plane, opts);
  return { image: drawHeatmap(plane, scale, opts), scale };
}

/**
 * A model-input plane in the original image's coordinates (`imageW × imageH`): each pixel takes
 * the value of the input pixel its centre falls in; NaN where the model saw nothing.
 */
export function planeToImage(plane: Plane, imageW: number, imageH: number, spec: Pick<PreprocessSpec, 'size' | 'resize' | 'shorter'>): Plane {
  if (spec.size[0] !== plane.height || spec.size[1] !== plane.width) {
    throw new Error(`the map is ${plane.height}×${plane.width} but the preprocessing makes ${spec.size.join('×')}`);
  }
  const index = inputPixelOfImagePixels(imageW, imageH, spec);
  const data = new Float32Array(imageW * imageH);
  for (let i = 0; i < data.length; i++) data[i] = index[i] < 0 ? NaN : plane.data[index[i]];
  return { width: imageW, height: imageH, data };
}

/** A heatmap at the model input's size, or at the original image's. */
export type PictureSize = 'input' | 'original';
/** Every picture size. */
export const PICTURE_SIZES: readonly PictureSize[] = ['input', 'original'];

/** How `relevancePicture` draws: the heatmap options, and where the picture sits relative to the image. */
export interface PictureOptions extends Omit<HeatmapOptions, 'overlay'> {
  /** The image the model input was made from (needed for `overlay` and for `size: 'original'`). */
  readonly image?: RgbaImage | null;
  /** Its preprocessing (the geometry of crop and resize). */
  readonly spec?: Pick<PreprocessSpec, 'size' | 'resize' | 'shorter'> | null;
  /** `input` (default): the model's input grid; `original`: the image's own pixels. */
  readonly size?: PictureSize;
  /** Draw over the image (grey), at either size. */
  readonly overlay?: boolean;
}

/**
 * The picture of one relevance plane as an application shows it: at the model's input size or the
 * original image's, plain or over the image. The scale always comes from the input-size plane.
 */
export function relevancePicture(plane: Plane, opts: PictureOptions = {}): { image: RgbaImage; scale: HeatmapScale } {
  const size = opts.size ?? 'input';
  if (!PICTURE_SIZES.includes(size)) throw new Error(`heatmap size must be 'input' or 'original', got '${size}'`);
  const scale = heatmapScale(plane, { ...opts, overlay: null });
  const { image, spec } = opts;
  if ((size === 'original' || opts.overlay) && !(image && spec)) {
    throw new Error(`${size === 'original' ? 'an original-size heatmap' : 'an overlay'} needs the image and its preprocessing (an image input, not a tensor)`);
  }
  if (size === 'original') {
    const big = planeToImage(plane, image!.width, image!.height, spec!);
    return { image: drawHeatmap(big, scale, { overlay: opts.overlay ? image : null, opacity: opts.opacity }), scale };
  }
  const under = opts.overlay ? resampleRect(image!, sourceRect(image!.width, image!.height, spec!), plane.width, plane.height) : null;
  return { image: drawHeatmap(plane, scale, { overlay: under, opacity: opts.opacity }), scale };
}
