/**
 * The protocol's exact geometry (shared/docs/evaluation-protocol.md, "Preprocessing"): one layout
 * (where the input's origin lies in the image, and the side it covers) drives the pixel
 * resampling, the box masks and the affine map, so they cannot drift apart.
 */
import { mat2d } from 'gl-matrix';
import type { PreprocessSpec } from './spec.ts';

/** An axis-aligned box. VOC boxes are 1-based inclusive pixel indices; input boxes are continuous, half-open. */
export interface Box {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

type GeometrySpec = Pick<PreprocessSpec, 'size' | 'resize' | 'shorter'>;

/** Where the input's origin sits in the image and how wide/high the mapped image region is. */
function layout(imageW: number, imageH: number, spec: GeometrySpec) {
  if (!(imageW > 0 && imageH > 0)) throw new Error(`invalid image size ${imageW}x${imageH}`);
  if (spec.resize === 'rescale') return { x0: 0, y0: 0, ex: imageW, ey: imageH };
  const s = spec.size[1]; // square, checked by parsePreprocessSpec
  const m = Math.min(imageW, imageH) * s / (spec.shorter ?? s);
  return { x0: (imageW - m) / 2, y0: (imageH - m) / 2, ex: m, ey: m };
}

/**
 * The image rectangle that lands on the whole model input, [0, S_w) x [0, S_h): the whole image for
 * rescale, the centred square of side m = min(W, H) * S / shorter for shorter-side-crop.
 */
export function sourceRect(imageW: number, imageH: number, spec: GeometrySpec): Box {
  const { x0, y0, ex, ey } = layout(imageW, imageH, spec);
  return { xmin: x0, ymin: y0, xmax: x0 + ex, ymax: y0 + ey };
}

/**
 * Maps continuous image coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)) to model-input
 * ones, for drawing and overlays. Float64 storage: gl-matrix defaults to Float32Array.
 */
export function inputTransform(imageW: number, imageH: number, spec: GeometrySpec): mat2d {
  const { x0, y0, ex, ey } = layout(imageW, imageH, spec);
  const [sh, sw] = spec.size;
  const kx = sw / ex;
  const ky = sh / ey;
  return mat2d.set(new Float64Array(6), kx, 0, 0, ky, -x0 * kx, -y0 * ky);
}

/**
 * The inverse of `inputTransform`: where a continuous model-input point (u, v) lies in the image
 * (the same continuous pixel convention), for drawing maps and boxes back onto the original.
 * Input (0, 0) is the source rectangle's top-left corner, input (S_w, S_h) its bottom-right.
 */
export function imagePoint(u: number, v: number, imageW: number, imageH: number, spec: GeometrySpec): [number, number] {
  const { x0, y0, ex, ey } = layout(imageW, imageH, spec);
  const [sh, sw] = spec.size;
  return [x0 + (u * ex) / sw, y0 + (v * ey) / sh];
}

/**
 * Which model-input pixel each image pixel's centre falls in: an `imageW × imageH` row-major
 * array of input pixel indices (row * S_w + column), -1 where the centre lies outside the region
 * the model saw (the margins a shorter-side crop cuts off). This is the inverse warp of the
 * preprocessing geometry, nearest-neighbour, so a map drawn through it keeps every value as is.
 */
export function inputPixelOfImagePixels(imageW: number, imageH: number, spec: GeometrySpec): Int32Array {
  const { x0, y0, ex, ey } = layout(imageW, imageH, spec);
  const [sh, sw] = spec.size;
  const col = new Int32Array(imageW);
  for (let x = 0; x < imageW; x++) {
    const u = ((x + 0.5 - x0) * sw) / ex;
    col[x] = u >= 0 && u < sw ? Math.floor(u) : -1;
  }
  const out = new Int32Array(imageW * imageH);
  for (let y = 0; y < imageH; y++) {
    const v = ((y + 0.5 - y0) * sh) / ey;
    const row = v >= 0 && v < sh ? Math.floor(v) : -1;
    for (let x = 0; x < imageW; x++) out[y * imageW + x] = row < 0 || col[x] < 0 ? -1 : row * sw + col[x];
  }
  return out;
}

/**
 * A VOC box (1-based, inclusive) in model-input coordinates, clipped to the input; null when
 * nothing of positive area is left. A kept box may still contain no pixel centre (a sliver).
 *
 * Evaluated as the protocol writes it, `(x - x0) * S / m` left to right, not through the matrix:
 * box edges often land exactly on a pixel centre (e.g. 250 * 227 / 500 = 113.5), and only the
 * literal order gives the exact value there that other implementations of the formula get.
 */
export function transformBox(box: Box, imageW: number, imageH: number, spec: GeometrySpec): Box | null {
  const { x0, y0, ex, ey } = layout(imageW, imageH, spec);
  const [sh, sw] = spec.size;
  const out = {
    xmin: Math.max(0, (box.xmin - 1 - x0) * sw / ex),
    ymin: Math.max(0, (box.ymin - 1 - y0) * sh / ey),
    xmax: Math.min(sw, (box.xmax - x0) * sw / ex),
    ymax: Math.min(sh, (box.ymax - y0) * sh / ey),
  };
  return out.xmax > out.xmin && out.ymax > out.ymin ? out : null;
}

/**
 * 1 where the pixel centre (u + 0.5, v + 0.5) lies in any box (left/top included, right/bottom
 * excluded), row-major `height x width`. The predicate is evaluated literally per row and column
 * rather than through ceil/floor arithmetic, so edge cases cannot round the other way.
 */
export function boxMask(boxes: readonly Box[], width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  const span = (lo: number, hi: number, n: number): [number, number] => {
    let a = 0;
    while (a < n && !(a + 0.5 >= lo)) a++;
    let b = a;
    while (b < n && b + 0.5 < hi) b++;
    return [a, b];
  };
  for (const bx of boxes) {
    const [u0, u1] = span(bx.xmin, bx.xmax, width);
    const [v0, v1] = span(bx.ymin, bx.ymax, height);
    if (u1 <= u0) continue;
    for (let v = v0; v < v1; v++) mask.fill(1, v * width + u0, v * width + u1);
  }
  return mask;
}
