/**
 * Relevance maps as pictures: summed over channels, scaled by the largest absolute value, and
 * coloured with a diverging map centred at zero (blue negative, white zero, red positive, as in
 * the LRP papers). Browser-safe: returns RGBA bytes; encoding is the caller's.
 */
import type { RgbaImage } from '../preprocess/image.ts';

/** Sums a C×H×W map over channels into H×W. */
export function channelSum(rel: ArrayLike<number>, channels: number, height: number, width: number): Float32Array {
  const plane = height * width;
  const out = new Float32Array(plane);
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) out[i] += rel[c * plane + i];
  return out;
}

// Anchors of the map from -1 to 1: dark blue, blue, white, red, dark red (matplotlib's "bwr"
// darkened at the ends so small and large relevance stay apart).
const ANCHORS: readonly [number, number, number, number][] = [
  [-1, 0, 0, 0.45], [-0.5, 0, 0.3, 1], [0, 1, 1, 1], [0.5, 1, 0.25, 0], [1, 0.5, 0, 0],
];

/** Colour of a value in [-1, 1], as bytes. */
export function diverging(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, Number.isFinite(v) ? v : 0));
  let k = 0;
  while (k < ANCHORS.length - 2 && t > ANCHORS[k + 1][0]) k++;
  const [t0, r0, g0, b0] = ANCHORS[k];
  const [t1, r1, g1, b1] = ANCHORS[k + 1];
  const f = (t - t0) / (t1 - t0);
  return [r0 + f * (r1 - r0), g0 + f * (g1 - g0), b0 + f * (b1 - b0)].map((c) => Math.round(255 * c)) as [number, number, number];
}

/** How a heatmap is drawn. */
export interface HeatmapOptions {
  /** Draw over this image (same size as the map) with the heatmap's opacity. */
  overlay?: RgbaImage;
  /** The heatmap's opacity over `overlay`, 0 to 1 (default 0.6). */
  opacity?: number;
}

/** An H×W map as an RGBA image, scaled so the largest |value| reaches the end of the colour map. */
export function heatmap(map: ArrayLike<number>, height: number, width: number, opts: HeatmapOptions = {}): RgbaImage {
  let scale = 0;
  for (let i = 0; i < map.length; i++) scale = Math.max(scale, Math.abs(map[i]));
  const data = new Uint8Array(4 * height * width);
  const alpha = opts.overlay ? (opts.opacity ?? 0.6) : 1;
  for (let i = 0; i < height * width; i++) {
    const rgb = diverging(scale > 0 ? map[i] / scale : 0);
    for (let c = 0; c < 3; c++) {
      const under = opts.overlay ? opts.overlay.data[4 * i + c] : 0;
      data[4 * i + c] = Math.round(alpha * rgb[c] + (1 - alpha) * under);
    }
    data[4 * i + 3] = 255;
  }
  return { width, height, data };
}
