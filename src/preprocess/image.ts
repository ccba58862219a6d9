/**
 * Pixels to model input: resampling and normalisation, browser-safe.
 */
import { sourceRect, type Box } from './geometry.ts';
import { channelCount, type PreprocessSpec } from './spec.ts';

/** An image as RGBA bytes (a browser's `ImageData` is one). */
export interface RgbaImage {
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** RGBA, 4 bytes per pixel, row-major. */
  data: Uint8Array | Uint8ClampedArray;
  /** The EXIF orientation (2..8) already applied to `data`, for messages; absent when none. */
  orientation?: number;
}

/**
 * The part of `image` a model sees under `spec` (the whole image, or the centre crop), resized to
 * the model's input size with the same resampling as the model's input, before normalisation:
 * for previews, and to draw a heatmap over.
 */
export function croppedImage(image: RgbaImage, spec: Pick<PreprocessSpec, 'size' | 'resize' | 'shorter'>): RgbaImage {
  return resampleRect(image, sourceRect(image.width, image.height, spec), spec.size[1], spec.size[0]);
}

/** The model input tensor `[C, S_h, S_w]` (no batch axis) for one image. */
export function preprocessImage(img: RgbaImage, spec: PreprocessSpec): Float32Array {
  const [sh, sw] = spec.size;
  const px = croppedImage(img, spec).data;
  const n = sw * sh;
  const out = new Float32Array(channelCount(spec) * n);
  const { scale, mean, std } = spec;
  if (spec.channels === 'GRAY') {
    // Luma from the resampled RGB, unrounded: grey images (R = G = B) come through exactly.
    for (let i = 0; i < n; i++) {
      const v = 0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2];
      out[i] = (v * scale - mean[0]) / std[0];
    }
    return out;
  }
  const src = spec.channels === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  for (let c = 0; c < 3; c++) {
    const s = src[c], m = mean[c], d = std[c], base = c * n;
    for (let i = 0; i < n; i++) out[base + i] = (px[4 * i + s] * scale - m) / d;
  }
  return out;
}

/**
 * Samples the image rectangle `rect` (continuous pixel coordinates, may be fractional) onto an
 * `outW x outH` grid. This is Pillow's `Image.resize(size, BILINEAR, box=rect)`: a triangle filter
 * whose support widens with the downscale factor (antialiasing), separable, horizontal pass first,
 * weights quantised to Pillow's 22 fractional bits and each pass rounded to 0..255 as Pillow does,
 * so results match it to the byte (Pillow rounds `box` to float32 first; a box that float32 holds
 * exactly gives identical bytes, any other may differ by 1 in a few pixels). Alpha is resampled like the colours. Pillow refuses a `box`
 * beyond the image; here samples outside it are left out and the weights renormalised.
 */
export function resampleRect(img: RgbaImage, rect: Box, outW: number, outH: number): RgbaImage {
  const { width: w, height: h, data } = img;
  if (!(w > 0 && h > 0) || data.length < w * h * 4) throw new Error(`resampleRect: bad image ${w}x${h} with ${data.length} bytes`);
  if (!(outW > 0 && outH > 0)) throw new Error(`resampleRect: bad output size ${outW}x${outH}`);
  if (!(rect.xmax > rect.xmin && rect.ymax > rect.ymin)) throw new Error('resampleRect: empty source rectangle');
  const hx = filterWeights(w, rect.xmin, rect.xmax, outW);
  const hy = filterWeights(h, rect.ymin, rect.ymax, outH);

  // Horizontal pass over only the rows the vertical pass will read. Clamped: a rectangle reaching
  // past the image edge can yield windows that start beyond it.
  const y0 = Math.min(hy.first[0], h);
  const y1 = Math.min(h, hy.first[outH - 1] + hy.count[outH - 1]);
  const rows = Math.max(0, y1 - y0);
  const tmp = new Uint8Array(rows * outW * 4);
  {
    const { ksize, first, count, weights } = hx;
    for (let y = 0; y < rows; y++) {
      const srcRow = (y + y0) * w * 4;
      let q = y * outW * 4;
      for (let x = 0; x < outW; x++, q += 4) {
        const k0 = x * ksize, n = count[x];
        let p = srcRow + first[x] * 4;
        let r = HALF, g = HALF, b = HALF, a = HALF;
        for (let k = 0; k < n; k++, p += 4) {
          const wt = weights[k0 + k];
          r = (r + data[p] * wt) | 0; g = (g + data[p + 1] * wt) | 0;
          b = (b + data[p + 2] * wt) | 0; a = (a + data[p + 3] * wt) | 0;
        }
        tmp[q] = clip8(r); tmp[q + 1] = clip8(g); tmp[q + 2] = clip8(b); tmp[q + 3] = clip8(a);
      }
    }
  }

  // Vertical pass row by row, so the inner loop runs over contiguous bytes.
  const out = new Uint8Array(outW * outH * 4);
  const stride = outW * 4;
  const acc = new Int32Array(stride);
  const { ksize, first, count, weights } = hy;
  for (let y = 0; y < outH; y++) {
    acc.fill(HALF);
    const k0 = y * ksize, n = count[y];
    for (let k = 0, p = (first[y] - y0) * stride; k < n; k++, p += stride) {
      const wt = weights[k0 + k];
      for (let q = 0; q < stride; q++) acc[q] = (acc[q] + tmp[p + q] * wt) | 0;
    }
    const o = y * stride;
    for (let q = 0; q < stride; q++) out[o + q] = clip8(acc[q]);
  }
  return { width: outW, height: outH, data: out };
}

const PRECISION_BITS = 22; // Pillow: 32 - 8 - 2
const ONE = 2 ** PRECISION_BITS;
const HALF = ONE / 2;

// Pillow's clip8. The triangle filter has no negative weights and they sum to ~2^22, so every sum
// stays below 256 * 2^22 + 2^21 < 2^31: int32 arithmetic is exact, and as fast as JS gets.
function clip8(v: number): number {
  if (v <= 0) return 0;
  if (v >= ONE * 256) return 255;
  return v >> PRECISION_BITS;
}

interface Weights { ksize: number; first: Int32Array; count: Int32Array; weights: Int32Array }

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter. */
function filterWeights(inSize: number, in0: number, in1: number, outSize: number): Weights {
  const scale = (in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let x = 0; x < outSize; x++) {
    const center = in0 + (x + 0.5) * scale;
    // Math.trunc, not floor: Pillow casts to int, and the clamp makes the two agree anyway.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const n = Math.max(0, Math.min(xmax, ksize));
    let sum = 0;
    const k = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t = Math.abs((i + xmin - center + 0.5) * ss);
      k[i] = t < 1 ? 1 - t : 0;
      sum += k[i];
    }
    for (let i = 0; i < n; i++) {
      const v = sum !== 0 ? k[i] / sum : k[i];
      weights[x * ksize + i] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    first[x] = xmin;
    count[x] = n;
  }
  return { ksize, first, count, weights };
}
