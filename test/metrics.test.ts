/**
 * The evaluation's metrics: the GPU masked sums (shaders/metrics/masked_sums.wgsl) against a
 * float64 CPU computation, and the float64 aggregates, bins and report on hand-made records.
 */
import { describe, expect, it } from 'vitest';
import { aggregate, BASELINE, fractionAtMost, pairRecord, sizeBin, sortRecords, Sum } from '../src/eval/aggregate.ts';
import { MaskedSums, maskedSumsCpu, packMasks } from '../src/eval/masked-sums.ts';
import { buildReport, curveCsv, curveSvg, reportMarkdown, type EvalSettings } from '../src/eval/report.ts';
import type { PairRecord } from '../src/eval/types.ts';
import { useGpu } from './helpers/gpu.ts';
import { Rng } from '../src/synth/rng.ts';

const gpu = useGpu();

/** Deterministic uniform [0, 1): the synthetic generator's mulberry32. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function rectMask(h: number, w: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(h * w);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

function upload(data: Float32Array): GPUBuffer {
  return gpu.ctx.upload(data, 'test relevance', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
}

function relErr(a: number, b: number): number {
  return b === 0 ? Math.abs(a) : Math.abs(a - b) / Math.abs(b);
}

describe('packMasks', () => {
  it('packs pixel i into bit i & 31 of word i >> 5, masks back to back', () => {
    const plane = 37;
    const a = new Uint8Array(plane);
    a[0] = 1; a[31] = 1; a[32] = 1; a[36] = 1;
    const b = new Uint8Array(plane).fill(1);
    const p = packMasks([a, b], plane);
    expect(p.length).toBe(4);
    expect([...p]).toEqual([(1 | (1 << 31)) >>> 0, 1 | (1 << 4), 0xffffffff, 0x1f]);
  });
});

describe('GPU masked sums match float64', () => {
  it('odd size 37×29, masks on every border, several masks per sample, all-negative sample', async () => {
    const [c, h, w] = [3, 37, 29];
    const plane = h * w;
    const n = 3;
    const r = rng(7);
    const rel = new Float32Array(n * c * plane);
    for (let i = 0; i < rel.length; i++) rel[i] = (r() - 0.45) * 2;
    // Sample 2: all negative in every channel, so the channel sum is negative everywhere.
    for (let i = 2 * c * plane; i < 3 * c * plane; i++) rel[i] = -0.01 - r();
    const masks = [
      rectMask(h, w, 0, 0, w, 1), // top row
      rectMask(h, w, 0, h - 1, w, h), // bottom row
      rectMask(h, w, 0, 0, 1, h), // left column
      rectMask(h, w, w - 1, 0, w, h), // right column
      rectMask(h, w, 0, 0, w, h), // everything
      rectMask(h, w, w - 1, h - 1, w, h), // bottom-right pixel
      rectMask(h, w, 5, 7, 20, 30), // inside
      rectMask(h, w, 3, 3, 9, 9), // on the all-negative sample
    ];
    // Union of two boxes, as a multi-box class.
    const union = rectMask(h, w, 0, 0, 10, 10);
    rectMask(h, w, 20, 25, 29, 37).forEach((v, i) => { if (v) union[i] = 1; });
    masks.push(union);
    const samples = [0, 0, 1, 1, 0, 1, 2, 2, 1];
    const sums = await MaskedSums.create(gpu.ctx, [c, h, w]);
    const buf = upload(rel);
    try {
      const got = await sums.compute(buf, masks.map((mask, k) => ({ sample: samples[k], mask })));
      expect(got.length).toBe(masks.length);
      masks.forEach((mask, k) => {
        const want = maskedSumsCpu(rel, c, plane, mask, samples[k] * c * plane);
        expect(got[k].S_in, `pair ${k} S_in`).toBe(want.S_in);
        expect(got[k].S_tot).toBe(plane);
        expect(relErr(got[k].R_in, want.R_in), `pair ${k} R_in ${got[k].R_in} vs ${want.R_in}`).toBeLessThan(1e-6);
        expect(relErr(got[k].R_tot, want.R_tot), `pair ${k} R_tot`).toBeLessThan(1e-6);
      });
      // The whole-image mask sees everything: R_in = R_tot.
      expect(got[4].R_in).toBe(got[4].R_tot);
      // The all-negative sample: R_in = R_tot = 0, a degenerate pair.
      expect(got[7].R_tot).toBe(0);
      expect(got[7].R_in).toBe(0);
      const rec = pairRecord({ image: 'x', class: 'c', classIndex: 0, analyzer: 'a' }, got[7]);
      expect(rec.mu).toBeNull();
      expect(rec.mu_w).toBeNull();
      expect(rec.S_in).toBe(36);
    } finally {
      buf.destroy();
      sums.destroy();
    }
  });

  it('224×224: sums of 50,176 pixels accurate to 1e-6 relative', async () => {
    const [c, h, w] = [3, 224, 224];
    const plane = h * w;
    const r = rng(11);
    const rel = new Float32Array(2 * c * plane);
    // Sample 0: mostly positive, wide dynamic range; sample 1: heavy-tailed, mixed signs.
    for (let i = 0; i < c * plane; i++) rel[i] = r() * (r() < 0.01 ? 100 : 1) - 0.1;
    for (let i = c * plane; i < rel.length; i++) rel[i] = (r() - 0.5) * Math.exp(6 * r());
    const masks = [rectMask(h, w, 0, 0, 224, 224), rectMask(h, w, 13, 0, 200, 57), rectMask(h, w, 100, 100, 224, 224), rectMask(h, w, 0, 0, 1, 1)];
    const sums = await MaskedSums.create(gpu.ctx, [c, h, w]);
    const buf = upload(rel);
    try {
      const pairs = [0, 1].flatMap((s) => masks.map((mask) => ({ sample: s, mask })));
      const got = await sums.compute(buf, pairs);
      pairs.forEach((p, k) => {
        const want = maskedSumsCpu(rel, c, plane, p.mask, p.sample * c * plane);
        expect(got[k].S_in).toBe(want.S_in);
        expect(relErr(got[k].R_tot, want.R_tot), `pair ${k} R_tot`).toBeLessThan(1e-6);
        // Single pixel: the f32 channel sum itself rounds; compare absolutely there.
        if (want.S_in > 1) expect(relErr(got[k].R_in, want.R_in), `pair ${k} R_in`).toBeLessThan(1e-6);
        else expect(Math.abs(got[k].R_in - want.R_in)).toBeLessThan(1e-5 * (1 + Math.abs(want.R_in)));
      });
      // The channel-summed maps come back as the metric sees them.
      const maps = await sums.channelSums(buf, 2);
      expect(maps.length).toBe(2 * plane);
      for (const i of [0, 1, 777, plane - 1, plane, 2 * plane - 1]) {
        const s = Math.floor(i / plane);
        const j = i % plane;
        const want = rel[(s * c) * plane + j] + rel[(s * c + 1) * plane + j] + rel[(s * c + 2) * plane + j];
        expect(Math.abs(maps[i] - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
      }
    } finally {
      buf.destroy();
      sums.destroy();
    }
  });

  it('rejects a mask of the wrong size and a buffer too small for the samples', async () => {
    const sums = await MaskedSums.create(gpu.ctx, [1, 4, 4]);
    const buf = upload(new Float32Array(16));
    try {
      await expect(sums.compute(buf, [{ sample: 0, mask: new Uint8Array(15) }])).rejects.toThrow(/15 pixels/);
      await expect(sums.compute(buf, [{ sample: 5, mask: new Uint8Array(16) }])).rejects.toThrow(/too small/);
      expect(await sums.compute(buf, [])).toEqual([]);
    } finally {
      buf.destroy();
      sums.destroy();
    }
  });
});

describe('bins and thresholds', () => {
  it('bin k holds (k/100, (k+1)/100]: a fraction on an edge belongs to the bin below it', () => {
    expect(sizeBin(1, 100)).toBe(0);
    expect(sizeBin(25, 100)).toBe(24);
    expect(sizeBin(26, 100)).toBe(25);
    expect(sizeBin(50, 100)).toBe(49);
    expect(sizeBin(100, 100)).toBe(99);
    expect(sizeBin(99, 100)).toBe(98);
    expect(sizeBin(0, 100)).toBe(0);
    // 224 × 224: exactly a quarter, and one pixel more.
    const tot = 224 * 224;
    expect(sizeBin(tot / 4, tot)).toBe(24);
    expect(sizeBin(tot / 4 + 1, tot)).toBe(25);
    expect(sizeBin(tot / 2, tot)).toBe(49);
    expect(sizeBin(tot, tot)).toBe(99);
    // 0.29 = 29/100 is not exact in binary (0.29 * 100 = 28.999...); integers decide.
    expect(sizeBin(29, 100)).toBe(28);
    expect(sizeBin(2900, 10000)).toBe(28);
    expect(sizeBin(2901, 10000)).toBe(29);
    expect(() => sizeBin(5, 4)).toThrow();
  });

  it('the <= thresholds include the edge, exactly', () => {
    expect(fractionAtMost(25, 100, 1, 4)).toBe(true);
    expect(fractionAtMost(26, 100, 1, 4)).toBe(false);
    expect(fractionAtMost(50, 100, 1, 2)).toBe(true);
    expect(fractionAtMost(12544, 50176, 1, 4)).toBe(true);
    expect(fractionAtMost(12545, 50176, 1, 4)).toBe(false);
  });

  it('compensated sums', () => {
    const s = new Sum();
    for (const v of [1e16, 1, -1e16, 1]) s.add(v);
    expect(s.value).toBe(2);
    expect(s.mean).toBe(0.5);
    expect(new Sum().mean).toBeNull();
  });
});

function rec(image: string, classIndex: number, analyzer: string, S_in: number, S_tot: number, R_in: number, R_tot: number): PairRecord {
  return pairRecord({ image, class: `c${classIndex}`, classIndex, analyzer }, { S_in, S_tot, R_in, R_tot });
}

describe('aggregates in float64', () => {
  // Pairs (image, class, S_in/100): a 25 (edge of <=0.25), a 50 (edge of <=0.5), b 10, c 100, c2 60.
  const pairs: [string, number, number][] = [['a', 1, 25], ['a', 3, 50], ['b', 0, 10], ['c', 2, 100], ['c', 5, 60]];
  const R: Record<string, number[][]> = {
    // [R_in, R_tot] per pair, in the order above.
    A: [[5, 10], [2, 8], [1, 4], [3, 3], [0, 0]], // last pair degenerate
    B: [[1, 10], [4, 8], [1, 1], [3, 3], [6, 10]],
  };
  const records = ['A', 'B'].flatMap((an) => pairs.map(([img, cls, s], k) => rec(img, cls, an, s, 100, R[an][k][0], R[an][k][1])));

  it('mu, mu_w and the degenerate pair', () => {
    const a0 = records[0];
    expect(a0.mu).toBe(0.5);
    expect(a0.mu_w).toBe(2);
    const deg = records[4];
    expect(deg.mu).toBeNull();
    expect(deg.mu_w).toBeNull();
    expect(() => rec('z', 0, 'A', 0, 100, 0, 1)).toThrow(/empty mask/);
  });

  it('the table columns, the Baseline row and the row order', () => {
    const agg = aggregate(records, ['A', 'B']);
    const row = (n: string) => agg.rows.find((r) => r.analyzer === n)!;
    // A: mu = 0.5, 0.25, 0.25, 1 (degenerate left out).
    const A = row('A');
    expect(A.pairs).toBe(5);
    expect(A.degenerate).toBe(1);
    expect(A.n).toBe(4);
    expect(A.mu).toBeCloseTo((0.5 + 0.25 + 0.25 + 1) / 4, 15);
    expect(A.mu_w).toBeCloseTo((0.5 / 0.25 + 0.25 / 0.5 + 0.25 / 0.1 + 1) / 4, 15);
    expect(A['mu<=0.25']).toBeCloseTo((0.5 + 0.25) / 2, 15); // a/1 at exactly 0.25 counts
    expect(A['n<=0.25']).toBe(2);
    expect(A['mu<=0.5']).toBeCloseTo((0.5 + 0.25 + 0.25) / 3, 15); // a/3 at exactly 0.5 counts
    // B: mu = 0.1, 0.5, 1, 1, 0.6.
    const B = row('B');
    expect(B.degenerate).toBe(0);
    expect(B.mu).toBeCloseTo((0.1 + 0.5 + 1 + 1 + 0.6) / 5, 15);
    expect(B.mu_w).toBeCloseTo((0.1 / 0.25 + 0.5 / 0.5 + 1 / 0.1 + 1 + 0.6 / 0.6) / 5, 15);
    expect(B['mu<=0.25']).toBeCloseTo((0.1 + 1) / 2, 15);
    // Baseline over the 5 distinct pairs: mu = S_in / S_tot, mu_w = 1.
    const base = row(BASELINE);
    expect(base.pairs).toBe(5);
    expect(base.degenerate).toBe(0);
    expect(base.mu_w).toBe(1);
    expect(base.mu).toBeCloseTo((0.25 + 0.5 + 0.1 + 1 + 0.6) / 5, 15);
    expect(base['mu<=0.25']).toBeCloseTo((0.25 + 0.1) / 2, 15);
    expect(base['mu<=0.5']).toBeCloseTo((0.25 + 0.5 + 0.1) / 3, 15);
    // mu_w: B 2.68 > A 1.5 > Baseline 1.
    expect(agg.rows.map((r) => r.analyzer)).toEqual(['B', 'A', BASELINE]);
    expect(agg.pairs).toBe(5);
    expect(agg.images).toBe(3);
    expect(agg.degenerate).toBe(1);
  });

  it('the curve: bins, counts, means, edges', () => {
    const { curve } = aggregate(records, ['A', 'B']);
    expect(curve.bins).toBe(100);
    expect(curve.lo[24]).toBe(0.24);
    expect(curve.hi[99]).toBe(1);
    expect(curve.pairs.reduce((s, n) => s + n, 0)).toBe(5);
    expect(curve.pairs[24]).toBe(1); // 0.25 → bin 24
    expect(curve.pairs[49]).toBe(1); // 0.5 → bin 49
    expect(curve.pairs[9]).toBe(1);
    expect(curve.pairs[99]).toBe(1);
    expect(curve.pairs[59]).toBe(1);
    const A = curve.series.find((s) => s.analyzer === 'A')!;
    expect(A.mean[24]).toBe(0.5);
    expect(A.mean[59]).toBeNull(); // only the degenerate pair there
    expect(A.count[59]).toBe(0);
    const base = curve.series.find((s) => s.analyzer === BASELINE)!;
    expect(base.mean[99]).toBe(1);
    expect(base.mean[0]).toBeNull();
  });

  it('does not depend on record order; refuses duplicates and unknown analyzers', () => {
    const shuffled = [...records].reverse();
    shuffled.push(shuffled.shift()!);
    expect(JSON.stringify(aggregate(shuffled, ['A', 'B']))).toBe(JSON.stringify(aggregate(records, ['A', 'B'])));
    expect(sortRecords(shuffled, ['A', 'B'])).toEqual(sortRecords(records, ['A', 'B']));
    expect(() => aggregate([...records, records[2]], ['A', 'B'])).toThrow(/two records/);
    expect(() => aggregate(records, ['A'])).toThrow(/unknown analyzer 'B'/);
  });

  it('an analyzer whose every pair is degenerate sorts last with null means', () => {
    const only = [rec('a', 0, 'Z', 10, 100, 0, 0), rec('a', 0, 'Y', 10, 100, 1, 2)];
    const agg = aggregate(only, ['Z', 'Y']);
    expect(agg.rows.map((r) => r.analyzer)).toEqual(['Y', BASELINE, 'Z']);
    const z = agg.rows[2];
    expect(z.mu_w).toBeNull();
    expect(z.mu).toBeNull();
    expect(z['mu<=0.25']).toBeNull();
  });

  it('report.json, report.md, the curve CSV and SVG', () => {
    const settings: EvalSettings = {
      model: 'm.onnx', dataset: 'voc:/d', split: 'test', labels: null, analyzers: ['A', 'B'], composites: ['A', 'b.json'],
      init: 'logit', preprocess: { size: [32, 32], channels: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: 'rescale' },
      skipDifficult: false, limit: null,
    };
    const skips = [{ id: 'z', reason: 'corrupt' }, { id: 'b', classIndex: 4, className: 'c4', reason: 'box outside' }];
    const report = buildReport({ settings, shard: null, images: 5, records, skips, timing: null });
    expect(report.images).toBe(5);
    expect(report.pairs).toBe(5);
    expect(report.records).toBe(10);
    expect(report.skipped.count).toBe(2);
    expect(report.skipped.entries.map((s) => s.id)).toEqual(['b', 'z']);
    expect(report.degenerate).toEqual({ total: 1, byAnalyzer: { A: 1, B: 0 } });
    // Same inputs in another order: the same JSON.
    const again = buildReport({ settings, shard: null, images: 5, records: [...records].reverse(), skips: [...skips].reverse(), timing: null });
    expect(JSON.stringify(again)).toBe(JSON.stringify(report));
    const md = reportMarkdown(report);
    expect(md).toMatch(/\| B \| 2\.6800 ± \d+\.\d{4} \[\d+\.\d{4}, \d+\.\d{4}\] \|/);
    expect(md).toMatch(/\| Baseline \| 1\.0000 ± 0\.0000 \[1\.0000, 1\.0000\] \|/);
    expect(md).toContain('`R_in` and `R_tot` sum positive relevance');
    expect(md).toMatch(/1 degenerate/);
    expect(md).toMatch(/2 skipped/);
    const csv = curveCsv(report.curve).trim().split('\n');
    // Long format: a header, then 100 bins for each of A, B and the Baseline.
    expect(csv.length).toBe(1 + 300);
    expect(csv[0]).toBe('analyzer,bin_lo,bin_hi,pairs,mean_mu,ci_lo,ci_hi');
    // One pair in bin 24: a mean, no interval (it needs two images).
    expect(csv[1 + 24]).toBe('A,0.24,0.25,1,0.5,,');
    expect(csv[1 + 100 + 24]).toBe('B,0.24,0.25,1,0.1,,');
    expect(csv[1 + 200 + 24]).toBe('Baseline,0.24,0.25,1,0.25,,');
    expect(csv[1 + 200 + 30]).toBe('Baseline,0.3,0.31,0,,,');
    const svg = curveSvg(report.curve);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('>Baseline</text>');
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('pairs per bin (max 1)');
  });
});
