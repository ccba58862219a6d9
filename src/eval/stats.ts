/**
 * Uncertainty of the report's means, over images: pairs of one image share its picture and its
 * forward pass, so images, not pairs, are the independent units (clusters).
 *
 * For a mean over pairs, m = Σ_i S_i / Σ_i n_i (image i contributing n_i pairs with sum S_i):
 * - Standard error: the cluster-robust (sandwich) estimate over the G images with pairs,
 *   SE = sqrt(G / (G - 1) · Σ_i (S_i - m n_i)²) / Σ_i n_i; with one pair per image this is the
 *   textbook s / sqrt(n). Null below two images.
 * - 95 % confidence interval: the percentile bootstrap over images. Each of `resamples` draws
 *   takes G images with replacement (uniform, from the seeded mulberry32 of synth/rng.ts) and
 *   recomputes m; the interval is the 2.5th and 97.5th percentiles of the draws (linear
 *   interpolation between order statistics, numpy's default). Every statistic draws from its own
 *   stream, seeded by the report's seed and the statistic's key (analyzer, metric), so adding an
 *   analyzer changes no other interval. Null below two images.
 * All in float64, summed in a fixed order, so a report is reproducible to the bit.
 */
import { fmix32, Rng } from '../synth/rng.ts';

export interface BootstrapSettings {
  /** Draws per interval (default 2000). */
  readonly resamples: number;
  /** Seeds every draw (default 0). */
  readonly seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { resamples: 2000, seed: 0 };

/** A mean with its uncertainty, over the pairs of some images. */
export interface MeanInterval {
  readonly mean: number | null;
  /** Cluster-robust standard error over images. */
  readonly se: number | null;
  /** 95 % percentile-bootstrap interval over images: [low, high]. */
  readonly ci95: readonly [number, number] | null;
  /** Pairs in the mean. */
  readonly pairs: number;
  /** Images those pairs come from. */
  readonly images: number;
}

/** Per-image sums and counts of one statistic (images in a fixed order; images without pairs may be left out). */
export interface Clusters {
  readonly sums: readonly number[];
  readonly counts: readonly number[];
}

/** Clusters built from values that arrive in image order (records sorted by image). */
export class ClusterList implements Clusters {
  readonly sums: number[] = [];
  readonly counts: number[] = [];
  private last = -1;

  add(image: number, v: number): void {
    if (image !== this.last) {
      this.sums.push(0);
      this.counts.push(0);
      this.last = image;
    }
    this.sums[this.sums.length - 1] += v;
    this.counts[this.counts.length - 1]++;
  }
}

/** 32-bit FNV-1a of a string, for per-statistic seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The seed of one statistic's draws. */
export function statisticSeed(seed: number, key: string): number {
  return fmix32((fmix32(seed >>> 0) ^ hashString(key)) >>> 0);
}

/** numpy.quantile(sorted, q) with the default linear method; `sorted` ascending, non-empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The mean, its standard error and its bootstrap interval; `key` names the statistic (its seed). */
export function clusterInterval(c: Clusters, key: string, settings: BootstrapSettings = DEFAULT_BOOTSTRAP): MeanInterval {
  // Only images with pairs take part.
  let G = 0;
  for (let i = 0; i < c.counts.length; i++) if (c.counts[i] > 0) G++;
  const sums = new Float64Array(G);
  const counts = new Float64Array(G);
  for (let i = 0, j = 0; i < c.counts.length; i++) {
    if (c.counts[i] > 0) {
      sums[j] = c.sums[i];
      counts[j++] = c.counts[i];
    }
  }
  let N = 0;
  let S = 0;
  for (let i = 0; i < G; i++) {
    N += counts[i];
    S += sums[i];
  }
  if (G === 0) return { mean: null, se: null, ci95: null, pairs: 0, images: 0 };
  const mean = S / N;
  if (G < 2) return { mean, se: null, ci95: null, pairs: N, images: G };
  let ss = 0;
  for (let i = 0; i < G; i++) {
    const r = sums[i] - mean * counts[i];
    ss += r * r;
  }
  const se = Math.sqrt((G / (G - 1)) * ss) / N;
  const rng = new Rng(statisticSeed(settings.seed, key));
  const draws = new Float64Array(settings.resamples);
  const pick = new Uint32Array(G);
  for (let b = 0; b < settings.resamples; b++) {
    rng.fillBelow(pick, G);
    let s = 0;
    let n = 0;
    for (let k = 0; k < G; k++) {
      const i = pick[k];
      s += sums[i];
      n += counts[i];
    }
    draws[b] = s / n;
  }
  draws.sort();
  return { mean, se, ci95: [quantileSorted(draws, 0.025), quantileSorted(draws, 0.975)], pairs: N, images: G };
}
