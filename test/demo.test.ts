/** `lrp demo` end to end, on a reduced size: data, patterns, report, plots and gallery are all written. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_ANALYZERS, DEMO_SANITY_ANALYZERS, runDemo } from '../src/node/demo/run.ts';

describe('lrp demo', () => {
  it('runs end to end on 12 images and writes every output', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lrp-demo-'));
    try {
      const lines: string[] = [];
      const r = await runDemo({ out, images: 12, gallery: 3, batch: 12, patternImages: 24, aopcImages: 4, sanityImages: 2, log: (l) => lines.push(l), progress: false });
      for (const a of [...DEMO_ANALYZERS, 'Baseline']) expect(r.table).toContain(`| ${a} |`);
      const report = JSON.parse(readFileSync(join(out, 'eval', 'report.json'), 'utf8'));
      expect(report.rows).toHaveLength(DEMO_ANALYZERS.length + 1);
      expect(report.pairs).toBeGreaterThanOrEqual(12);
      const baseline = report.rows.find((row: { analyzer: string }) => row.analyzer === 'Baseline');
      expect(baseline.mu_w).toBe(1);
      expect(JSON.parse(readFileSync(join(out, 'patterns', 'patterns.json'), 'utf8')).samples).toBe(24);
      // The run's identity names the learned patterns by their digest, not by their values.
      const run = readFileSync(join(out, 'eval', 'run.json'), 'utf8');
      expect(run).toMatch(/"rule": ?"pattern",\s*"patterns": ?"[0-9a-f]{16}"/);
      expect(run.length).toBeLessThan(100_000);
      // Region perturbation on the first 4 images: every analyzer and the random order; on the demo
      // model, cmp-alpha2-flat's MoRF AOPC beats the random order's (the demo's claim).
      expect(r.aopc).not.toBeNull();
      for (const a of [...DEMO_ANALYZERS, 'random']) expect(r.aopc!.table).toContain(`| ${a} |`);
      expect(r.aopc!.aopc['cmp-alpha2-flat'].morf.mean!).toBeGreaterThan(r.aopc!.aopc.random.morf.mean!);
      // The randomization check on the first 2 images: step 0 (nothing randomised) is 1 exactly, and
      // with every layer randomised the gradient's maps are no longer the original's.
      expect(r.sanity).not.toBeNull();
      for (const a of DEMO_SANITY_ANALYZERS) expect(r.sanity!.table).toContain(a);
      const rows = r.sanity!.result.rows;
      for (const row of rows.filter((x) => x.step === 0)) expect(row.spearman.mean).toBe(1);
      const last = Math.max(...rows.map((x) => x.step));
      expect(rows.find((x) => x.analyzer === 'gradient' && x.step === last)!.spearman.mean!).toBeLessThan(0.9);
      for (const f of ['sanity/report.md', 'sanity/sanity-spearman.svg', 'sanity/sanity-ssim.svg', 'faithfulness/aopc.svg', 'faithfulness/report.md', 'eval/report.md', 'eval/curve.svg', 'eval/curve.csv', 'occlusion/occlusion.svg', 'occlusion/occlusion.csv', 'gallery/index.html']) {
        expect(existsSync(join(out, f)), f).toBe(true);
      }
      const html = readFileSync(r.gallery, 'utf8');
      expect((html.match(/<tr>/g) ?? []).length).toBe(4); // header + 3 images
      // The gallery's 3 images are chosen by the seed (0): the same every run, each with every analyzer's heatmap.
      const shown = [...html.matchAll(/<img src="(synth_\d+)\.png"/g)].map((m) => m[1]);
      expect(shown).toHaveLength(3);
      for (const id of shown) for (const a of DEMO_ANALYZERS) expect(existsSync(join(out, 'gallery', `${id}_${a}.png`)), `${id} ${a}`).toBe(true);
      expect(html).toContain('<svg');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
