/**
 * Heatmaps in the public API: the one entry point the explanation uses, over the heatmap module
 * of the core (src/io/heatmap.ts), whose functions are re-exported as they are.
 */
import { channelSum, heatmap, type HeatmapOptions } from '../io/heatmap.ts';
import type { RgbaImage } from '../preprocess/image.ts';
import type { Tensor } from './input.ts';

export { channelSum, diverging, heatmap, type HeatmapOptions } from '../io/heatmap.ts';

/**
 * Sample `sample` of an N×C×H×W relevance tensor as a heatmap: summed over channels, scaled by
 * its largest magnitude, red positive, blue negative, white zero (as the LRP papers draw them).
 * `options.overlay` draws it over an image of the same H×W.
 */
export function relevanceHeatmap(relevance: Tensor, sample = 0, options: HeatmapOptions = {}): RgbaImage {
  const [n, c, h, w] = relevance.shape;
  if (relevance.shape.length !== 4) {
    throw new Error(`a heatmap needs an N×C×H×W relevance, this one has shape [${relevance.shape.join(', ')}]`);
  }
  if (!Number.isInteger(sample) || sample < 0 || sample >= n) throw new Error(`sample ${sample} is not in the batch of ${n}`);
  const per = c * h * w;
  return heatmap(channelSum(relevance.data.subarray(sample * per, (sample + 1) * per), c, h, w), h, w, options);
}
