/**
 * Heatmaps in the public API: the core's heatmap module (src/heatmap/: zennit's colour maps,
 * percentile clipping, modes, overlays, original-size maps, colour bars) re-exported as it is,
 * and the one entry point an explanation draws through.
 */
import { relevancePicture, relevancePlane, type PictureOptions } from '../heatmap/index.ts';
import type { RgbaImage } from '../preprocess/image.ts';
import type { Tensor } from './input.ts';

export * from '../heatmap/index.ts';

/**
 * Sample `sample` of an N×C×H×W relevance tensor as a heatmap, drawn as `lrp explain --heatmap`
 * draws it: summed over channels, scaled to the 99.5th percentile of its magnitudes, through
 * zennit's `bwr` map (red positive, blue negative) unless `options` say otherwise. With
 * `options.image` and `options.spec` (the image the input was made from and its preprocessing)
 * it can be drawn over the image (`overlay: true`) or at the image's own size (`size: 'original'`).
 */
export function relevanceHeatmap(relevance: Tensor, sample = 0, options: PictureOptions = {}): RgbaImage {
  if (relevance.shape.length !== 4) {
    throw new Error(`a heatmap needs an N×C×H×W relevance, this one has shape [${relevance.shape.join(', ')}]`);
  }
  const n = relevance.shape[0];
  if (!Number.isInteger(sample) || sample < 0 || sample >= n) throw new Error(`sample ${sample} is not in the batch of ${n}`);
  return relevancePicture(relevancePlane(relevance.data, relevance.shape.slice(1), sample), options).image;
}
