// The report's uncertainty: cluster-robust standard errors and percentile-bootstrap intervals over
// images, checked against a plain float64 computation written out here (its own loop over
// Rng.next(), numpy's linear quantile), against the textbook s/sqrt(n) where they coincide, and
// for coverage on synthetic data whose true mean is known.
import { describe, expect, it } from 'vitest';
import { uncertainty } from '../src/eval/aggregate.ts';
import { buildReport, type EvalSettings } from '../src/eval/report.ts';
import { clusterInterval, quantileSorted, statisticSeed } from '../src/eval/stats.ts';
import type { PairRecord } from '../src/eval/types.ts';
import { Rng } from '../src/synth/rng.ts';

/** The bootstrap written out the slow way: one Rng.next() per draw, a sort, numpy's quantile. */
function referenceBootstrap(sums: number[], counts: number[], seed: number, key: string, resamples: number): [number, number] {
  const rng = new Rng(statisticSeed(seed, key));
  const G = sums.length;
  const draws: number[] = [];
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    let n = 0;
    for (let k = 0; k < G; k++) {
      const i = Math.floor(rng.next() * G);
      s += sums[i];
      n += counts[i];
    }
    draws.push(s / n);
  }
  draws.sort((a, b) => a - b);
  const q = (p: number) => {
    const h = (draws.length - 1) * p;
    const lo = Math.floor(h);
    return draws[lo] + (h - lo) * (draws[Math.min(lo + 1, draws.length - 1)] - draws[lo]);
  };
  return [q(0.025), q(0.975)];
}

describe('intervals over images', () => {
  it('one pair per image: the standard error is s / sqrt(n)', () => {
    const x = [0.2, 0.5, 0.9, 0.4, 0.7, 0.1, 0.65];
    const n = x.length;
    const mean = x.reduce((a, b) => a + b, 0) / n;
    const s = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
    const r = clusterInterval({ sums: x, counts: x.map(() => 1) }, 'k');
    expect(r.mean).toBeCloseTo(mean, 15);
    expect(r.se).toBeCloseTo(s / Math.sqrt(n), 15);
    expect(r.pairs).toBe(7);
    expect(r.images).toBe(7);
  });

  it('several pairs per image: the cluster-robust standard error, and the bootstrap, as written out', () => {
    // Image i has c_i pairs summing to s_i.
    const sums = [1.5, 0.2, 2.4, 0.9, 0.3, 1.1, 0, 3.3];
    const counts = [2, 1, 3, 1, 1, 2, 0, 4];
    const used = counts.map((c, i) => [sums[i], c] as const).filter(([, c]) => c > 0);
    const N = used.reduce((a, [, c]) => a + c, 0);
    const m = used.reduce((a, [s]) => a + s, 0) / N;
    const G = used.length;
    const se = Math.sqrt((G / (G - 1)) * used.reduce((a, [s, c]) => a + (s - m * c) ** 2, 0)) / N;
    const r = clusterInterval({ sums, counts }, 'A/mu', { resamples: 500, seed: 7 });
    expect(r.mean).toBeCloseTo(m, 15);
    expect(r.se).toBeCloseTo(se, 15);
    expect(r.images).toBe(7); // the image without pairs takes no part
    expect(r.pairs).toBe(14);
    const ref = referenceBootstrap(used.map(([s]) => s), used.map(([, c]) => c), 7, 'A/mu', 500);
    expect(r.ci95).toEqual(ref);
    // Another statistic's key, or another seed, draws other images.
    expect(clusterInterval({ sums, counts }, 'B/mu', { resamples: 500, seed: 7 }).ci95).not.toEqual(ref);
    expect(clusterInterval({ sums, counts }, 'A/mu', { resamples: 500, seed: 8 }).ci95).not.toEqual(ref);
  });

  it('quantiles interpolate as numpy does', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([0, 10], 0.025)).toBe(0.25);
    expect(quantileSorted([5], 0.975)).toBe(5);
  });

  it('below two images there is a mean but no interval', () => {
    expect(clusterInterval({ sums: [0.4, 0.6], counts: [2, 0] }, 'k')).toEqual({ mean: 0.2, se: null, ci95: null, pairs: 2, images: 1 });
    expect(clusterInterval({ sums: [], counts: [] }, 'k')).toEqual({ mean: null, se: null, ci95: null, pairs: 0, images: 0 });
  });

  it('covers the true mean about 95 % of the time (synthetic data, known mean)', () => {
    // 300 data sets of 40 images, 1 to 3 pairs each, values uniform in [0, 1): true mean 0.5.
    const rng = new Rng(12345);
    let covered = 0;
    const trials = 300;
    for (let t = 0; t < trials; t++) {
      const sums: number[] = [];
      const counts: number[] = [];
      for (let i = 0; i < 40; i++) {
        const c = 1 + Math.floor(rng.next() * 3);
        let s = 0;
        for (let k = 0; k < c; k++) s += rng.next();
        sums.push(s);
        counts.push(c);
      }
      const ci = clusterInterval({ sums, counts }, `t${t}`, { resamples: 400, seed: t }).ci95!;
      if (ci[0] <= 0.5 && 0.5 <= ci[1]) covered++;
    }
    // Binomial(300, 0.95): 285 ± 3.8 sd; the percentile bootstrap runs a little narrow at n = 40.
    expect(covered / trials).toBeGreaterThan(0.89);
    expect(covered / trials).toBeLessThan(0.99);
  });
});

describe('intervals in the report', () => {
  const rec = (image: string, analyzer: string, S_in: number, mu: number | null): PairRecord => ({
    image, class: 'c', classIndex: 0, analyzer, S_in, S_tot: 100, R_in: mu ?? 0, R_tot: mu === null ? 0 : 1, mu, mu_w: mu === null ? null : (mu * 100) / S_in,
  });
  const records = [
    rec('a', 'A', 20, 0.5), rec('b', 'A', 50, 0.7), rec('c', 'A', 10, 0.2), rec('d', 'A', 80, null), rec('e', 'A', 30, 0.9),
  ];

  it('every row and metric carries its SE, interval, pairs and images; bands per curve bin', () => {
    const settings: EvalSettings = {
      model: 'm.onnx', dataset: 'voc:/d', split: null, labels: null, analyzers: ['A'], composites: ['A'], init: 'logit',
      preprocess: { size: [10, 10], channels: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: 'rescale' },
      skipDifficult: false, limit: null, bootstrap: { resamples: 300, seed: 3 },
    };
    const report = buildReport({ settings, shard: null, images: 5, records, skips: [], timing: null });
    const A = report.rows.find((r) => r.analyzer === 'A')!;
    const u = uncertainty(records, ['A'], { resamples: 300, seed: 3 }).rows.get('A')!;
    // mu over the 4 non-degenerate pairs, images a, b, c, e; mu<=0.25 over a (0.2) and c (0.1): 2 images.
    expect(A.intervals.mu).toEqual({ se: u.mu.se, ci95: u.mu.ci95, pairs: 4, images: 4 });
    expect(A.intervals['mu<=0.25'].pairs).toBe(2);
    expect(A.mu).toBeCloseTo(u.mu.mean!, 15);
    const ref = referenceBootstrap([0.5, 0.7, 0.2, 0.9], [1, 1, 1, 1], 3, 'A/mu', 300);
    expect(A.intervals.mu.ci95).toEqual(ref);
    expect(report.bootstrap).toEqual({ resamples: 300, seed: 3 });
    // Each bin holds one pair here: means, but no bands.
    const s = report.curve.series.find((x) => x.analyzer === 'A')!;
    expect(s.ci95Lo.every((v) => v === null)).toBe(true);
  });
});
