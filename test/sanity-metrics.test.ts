/**
 * The randomization check's similarities on the GPU (shaders/similarity/) against float64 oracles
 * written here: scipy's average ranks and Spearman correlation, and skimage's
 * structural_similarity (gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 * data_range=1: a separable Gaussian filter in 'reflect' mode over the whole map, then the mean of
 * the SSIM map with a 5-pixel border cropped), on small odd-sized maps with ties.
 */
import { describe, expect, it } from 'vitest';
import { gaussianWindow, MapSimilarity } from '../src/eval/map-similarity.ts';
import { Rng } from '../src/synth/rng.ts';
import { useGpu } from './helpers/gpu.ts';

const gpu = useGpu();

/** |sum over channels| / its maximum, in float64; null for an all-zero map. */
function scaled(rel: Float32Array, n: number, c: number, plane: number): Float64Array | null {
  const out = new Float64Array(plane);
  let mx = 0;
  for (let i = 0; i < plane; i++) {
    let r = 0;
    for (let k = 0; k < c; k++) r += rel[(n * c + k) * plane + i];
    out[i] = Math.abs(r);
    mx = Math.max(mx, out[i]);
  }
  if (mx === 0) return null;
  return out.map((v) => v / mx);
}

/** scipy.stats.rankdata(x, 'average'): sort, then every run of equal values gets its mean position (1-based). */
function averageRanks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(x.length);
  for (let s = 0; s < idx.length;) {
    let e = s;
    while (e + 1 < idx.length && x[idx[e + 1]] === x[idx[s]]) e++;
    for (let k = s; k <= e; k++) r[idx[k]] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return r;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** scipy.ndimage.gaussian_filter(x, 1.5, mode='reflect', truncate=3.5) on an h × w map. */
function gaussianFilter(x: Float64Array, h: number, w: number): Float64Array {
  const g = gaussianWindow(1.5, 5);
  const reflect = (i: number, n: number) => {
    // 'reflect' (half-sample symmetric): d c b a | a b c d | d c b a
    for (;;) {
      if (i < 0) i = -i - 1;
      else if (i >= n) i = 2 * n - i - 1;
      else return i;
    }
  };
  const tmp = new Float64Array(h * w);
  for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    let s = 0;
    for (let k = -5; k <= 5; k++) s += g[k + 5] * x[reflect(y + k, h) * w + xx];
    tmp[y * w + xx] = s;
  }
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    let s = 0;
    for (let k = -5; k <= 5; k++) s += g[k + 5] * tmp[y * w + reflect(xx + k, w)];
    out[y * w + xx] = s;
  }
  return out;
}

/** skimage.metrics.structural_similarity(a, b, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False). */
function ssim(a: Float64Array, b: Float64Array, h: number, w: number): number {
  const C1 = 0.01 ** 2, C2 = 0.03 ** 2;
  const f = (v: Float64Array) => gaussianFilter(v, h, w);
  const ux = f(a), uy = f(b);
  const uxx = f(a.map((v) => v * v)), uyy = f(b.map((v) => v * v)), uxy = f(a.map((v, i) => v * b[i]));
  let sum = 0, n = 0;
  for (let y = 5; y < h - 5; y++) for (let x = 5; x < w - 5; x++) {
    const i = y * w + x;
    const vx = uxx[i] - ux[i] ** 2, vy = uyy[i] - uy[i] ** 2, vxy = uxy[i] - ux[i] * uy[i];
    sum += ((2 * ux[i] * uy[i] + C1) * (2 * vxy + C2)) / ((ux[i] ** 2 + uy[i] ** 2 + C1) * (vx + vy + C2));
    n++;
  }
  return sum / n;
}

describe('GPU map similarity matches float64 (scipy / skimage)', () => {
  it('23×17 maps of 3 channels with ties: ranks, Spearman, SSIM; identical, sign-flipped and all-zero maps', async () => {
    const [c, h, w] = [3, 23, 17];
    const plane = h * w;
    const n = 5;
    const r = new Rng(11);
    const a = new Float32Array(n * c * plane);
    const b = new Float32Array(n * c * plane);
    // Values on a coarse grid (multiples of 1/8), so channel sums tie often and are exact in
    // float32 as in float64: the ties the GPU ranks are the oracle's.
    const grid = (v: number) => Math.round(v * 8) / 8;
    const q = () => grid((r.next() - 0.5) * 2);
    for (let i = 0; i < a.length; i++) a[i] = q();
    for (let i = 0; i < b.length; i++) b[i] = grid(0.6 * a[i] + 0.4 * q());
    // Map 1: b identical to a. Map 2: b = -a (the same |R|). Map 3: b all zero (degenerate).
    // Map 4: b a smooth blob, a noise: little alike.
    for (let i = 0; i < c * plane; i++) {
      b[c * plane + i] = a[c * plane + i];
      b[2 * c * plane + i] = -a[2 * c * plane + i];
      b[3 * c * plane + i] = 0;
    }
    for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      b[(4 * c + k) * plane + y * w + x] = Math.exp(-((y - 8) ** 2 + (x - 10) ** 2) / 20);
    }
    const sim = await MapSimilarity.create(gpu.ctx, [c, h, w]);
    const up = (d: Float32Array) => gpu.ctx.upload(d, 'test relevance', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const [ra, rb] = [up(a), up(b)];
    const pa = await sim.prepare(ra, n);
    const pb = await sim.prepare(rb, n);
    try {
      // Ranks of every map against the oracle's (exact: half-integers).
      const gpuRanks = await gpu.ctx.readF32(pb.ranks, 0, n * plane, 'ranks');
      const gpuMaps = await gpu.ctx.readF32(pb.maps, 0, n * plane, 'maps');
      for (let k = 0; k < n; k++) {
        const s = scaled(b, k, c, plane);
        if (s === null) {
          expect(pb.maxima[k]).toBe(0);
          continue;
        }
        const mapK = gpuMaps.subarray(k * plane, (k + 1) * plane);
        for (let i = 0; i < plane; i++) expect(Math.abs(mapK[i] - s[i])).toBeLessThan(1e-6);
        // Ranks of the GPU's own scaled values (ties are those of the float32 map it ranked).
        expect([...gpuRanks.subarray(k * plane, (k + 1) * plane)]).toEqual([...averageRanks(mapK)]);
      }
      const ties = new Set(gpuMaps.subarray(0, plane)).size;
      expect(ties).toBeLessThan(plane / 2); // many ties: 391 pixels, about 140 distinct values

      const got = await sim.compare(pa, pb);
      for (let k = 0; k < n; k++) {
        const sa = scaled(a, k, c, plane)!;
        const sb = scaled(b, k, c, plane);
        if (sb === null) {
          expect(got[k]).toEqual({ spearman: null, ssim: null });
          continue;
        }
        const rho = pearson(averageRanks(sa), averageRanks(sb));
        const s = ssim(sa, sb, h, w);
        expect(Math.abs(got[k].spearman! - rho)).toBeLessThan(2e-5);
        expect(Math.abs(got[k].ssim! - s)).toBeLessThan(2e-5);
      }
      // Identical and sign-flipped maps compare as exactly 1.
      expect(got[1]).toEqual({ spearman: 1, ssim: 1 });
      expect(got[2]).toEqual({ spearman: 1, ssim: 1 });
      expect(got[0].spearman!).toBeLessThan(0.99);
      expect(got[4].ssim!).toBeLessThan(0.5);
      expect(pa.nonFinite.every((v) => v === 0)).toBe(true);
    } finally {
      pa.release();
      pb.release();
      ra.destroy();
      rb.destroy();
      sim.destroy();
    }
  });

  it('counts non-finite pixels; ranks a power-of-two plane; refuses maps smaller than the SSIM window', async () => {
    const [c, h, w] = [1, 11, 13];
    const rel = new Float32Array(2 * h * w).fill(0.5);
    rel[3] = Infinity;
    rel[h * w + 7] = NaN;
    rel[h * w + 8] = -Infinity;
    const sim = await MapSimilarity.create(gpu.ctx, [c, h, w]);
    const buf = gpu.ctx.upload(rel, 'test relevance', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const p = await sim.prepare(buf, 2);
    expect([...p.nonFinite]).toEqual([1, 2]);
    expect([...p.maxima]).toEqual([0.5, 0.5]);
    p.release();
    buf.destroy();
    sim.destroy();
    // A plane that is a power of two (no sort padding), with long runs of ties.
    const sq = await MapSimilarity.create(gpu.ctx, [1, 16, 16]);
    const vals = Float32Array.from({ length: 2 * 256 }, (_, i) => ((i * 37) % 7) - 3);
    const vb = gpu.ctx.upload(vals, 'test relevance', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const ps = await sq.prepare(vb, 2);
    const ranks = await gpu.ctx.readF32(ps.ranks, 0, 512, 'ranks');
    for (let k = 0; k < 2; k++) {
      expect([...ranks.subarray(k * 256, (k + 1) * 256)]).toEqual([...averageRanks(scaled(vals, k, 1, 256)!)]);
    }
    ps.release();
    vb.destroy();
    sq.destroy();
    await expect(MapSimilarity.create(gpu.ctx, [3, 10, 40])).rejects.toThrow(/at least 11×11 pixels; the model's input is 10×40/);
  });
});
