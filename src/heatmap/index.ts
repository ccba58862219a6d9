/**
 * Heatmaps: relevance as pictures, as the LRP literature draws them. Browser-safe.
 *
 * ```ts
 * const plane = relevancePlane(explanation.relevance, graph.input.shape, 0); // H×W, summed over channels
 * const { image, scale } = renderHeatmap(plane, { cmap: 'bwr', mode: 'signed', clip: 99.5 });
 * const onPhoto = renderHeatmap(planeToImage(plane, photo.width, photo.height, spec),
 *   { vmax: scale.vmax, overlay: photo });                  // original size, same colours
 * const svg = colorbarSvg(scale, { title: 'relevance' });
 * ```
 *
 * - colormap.ts: zennit's colour maps and palettes, byte for byte.
 * - render.ts: scaling (percentile clip), modes, overlay, original-image geometry.
 * - colorbar.ts: the colour bar as SVG.
 */
export { colormap, COLORMAP_NAMES, isColormapName, paletteIndex, ZENNIT_CMAPS, type Colormap, type ColormapName } from './colormap.ts';
export {
  channelSum, drawHeatmap, heatColour, HEATMAP_DEFAULTS, HEATMAP_MODES, heatmapScale, percentileScale, planeToImage, relevancePlane,
  relevancePicture, renderHeatmap, PICTURE_SIZES, type HeatmapMode, type HeatmapOptions, type HeatmapScale, type PictureOptions,
  type PictureSize, type Plane,
} from './render.ts';
export { colorbarSvg, scaleDescription, type ColorbarOptions } from './colorbar.ts';
