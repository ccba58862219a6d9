/**
 * The model-parameter randomization check end to end: the cascade's random weights (CPU: order,
 * seeding, distribution, the original untouched), `lrp sanity` on the demo model with two images
 * (step 0 exactly 1, the first randomised step below 1, LRP-z and the gradient losing similarity
 * down the cascade, the report files), the same run through `model.sanityCheck` giving identical
 * numbers, and the command's usage errors.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../cli/app.ts';
import { cascadeLayers, randomizedGraph, weightStd } from '../src/eval/randomize.ts';
import type { SanityRow } from '../src/eval/sanity.ts';
import type { DenseLayer, LinearLayer } from '../src/graph/ir.ts';
import { openDataset } from '../src/node/datasets/index.ts';
import { readSanityPairs } from '../src/node/eval/sanity.ts';
import { loadEvalModel } from '../src/node/eval/setup.ts';
import { loadModel } from '../src/node/model-file.ts';
import { writeSynthDataset } from '../src/node/synth-dataset.ts';
import { Lrp, readImage } from '../src/node/index.ts';

const DEMO = 'models/demo/demo.onnx';
const IMAGES = ['models/demo/demo.png', 'heatmaps/input_0.png'];
const tmp = mkdtempSync(join(tmpdir(), 'lrp-sanity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.map(String).join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.map(String).join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await runCli(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

describe('the cascade of random weights', () => {
  const { graph } = loadModel(DEMO);
  const cascade = cascadeLayers(graph);

  it('takes the linear layers from the output down', () => {
    const linear = graph.layers.filter((l) => l.kind === 'conv' || l.kind === 'dense').map((l) => l.name);
    expect(cascade.map((l) => l.name)).toEqual([...linear].reverse());
    expect(cascade[0].kind).toBe('dense');
    expect(cascade.length).toBe(8);
  });

  it('replaces exactly the first k layers\' weights by seeded normals of the layer\'s std; biases and the original kept', () => {
    const before = graph.layers.map((l) => ('weight' in l ? Float32Array.from(l.weight) : null));
    const g3 = randomizedGraph(graph, 3, 7);
    const g4 = randomizedGraph(graph, 4, 7);
    const linear = (g: typeof graph) => cascadeLayers(g);
    linear(g3).forEach((l, k) => {
      const orig = cascade[k];
      expect(l.bias).toBe(orig.bias);
      if (k >= 3) {
        expect(l).toBe(orig);
        return;
      }
      expect(l.weight).not.toBe(orig.weight);
      expect(l.weight.length).toBe(orig.weight.length);
      // Mean 0 and the layer's std, within 4 standard errors of a draw of n.
      const n = l.weight.length;
      const mean = l.weight.reduce((a, b) => a + b, 0) / n;
      const s = weightStd(orig.weight);
      expect(Math.abs(mean)).toBeLessThan((4 * s) / Math.sqrt(n));
      expect(Math.abs(weightStd(l.weight) / s - 1)).toBeLessThan(4 / Math.sqrt(2 * n));
    });
    // Cascading: step 4 keeps step 3's random layers bit for bit and adds the next.
    linear(g4).slice(0, 3).forEach((l, k) => expect(l.weight).toEqual(linear(g3)[k].weight));
    expect(linear(g4)[3].weight).not.toEqual(cascade[3].weight);
    // The same seed gives the same weights; another seed others.
    expect(linear(randomizedGraph(graph, 3, 7))[2].weight).toEqual(linear(g3)[2].weight);
    expect(linear(randomizedGraph(graph, 3, 8))[2].weight).not.toEqual(linear(g3)[2].weight);
    // The original graph is untouched.
    graph.layers.forEach((l, i) => {
      if ('weight' in l) expect(l.weight).toEqual(before[i]);
    });
    expect(randomizedGraph(graph, 0, 7)).toBe(graph);
    expect(() => randomizedGraph(graph, 9, 7)).toThrow(/step 9 is not in 0\.\.8/);
  });

  it('draws a normal distribution (the share within 1 and 2 std of a large draw)', () => {
    const big: DenseLayer = { ...(cascade[0] as DenseLayer), weight: Float32Array.from({ length: 40000 }, (_, i) => (i % 2 ? 1 : -1)) };
    const g = randomizedGraph({ ...graph, layers: graph.layers.map((l) => (l === cascade[0] ? big : l)) }, 1, 0);
    const w = (cascadeLayers(g)[0] as LinearLayer).weight;
    const within = (k: number) => w.filter((v) => Math.abs(v) < k).length / w.length;
    expect(Math.abs(within(1) - 0.6827)).toBeLessThan(0.01);
    expect(Math.abs(within(2) - 0.9545)).toBeLessThan(0.006);
  });
});

describe('the pairs of a dataset', () => {
  it('are every (image, class) of the first --images images by id, the annotated class fixed', async () => {
    const dir = join(tmp, 'synth');
    writeSynthDataset(dir, { images: 4, size: 64, seed: 7, split: 'test' });
    const labels = 'models/demo/demo.labels.txt';
    const opts = { model: DEMO, composites: [], out: join(tmp, 'unused'), dataset: `voc:${dir}`, labels, images: 2, workers: 0 };
    const { pairs, skips } = await readSanityPairs(opts, loadEvalModel(DEMO), () => {});
    const ds = await openDataset(`voc:${dir}`, { labels });
    const first = [...ds.samples].sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, 2);
    const want = first.flatMap((s) => s.classes.map((c) => ({ id: `${s.id} ${c.className}`, target: c.classIndex }))).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(skips).toEqual([]);
    expect(want.length).toBeGreaterThan(2);
    expect(pairs.map((p) => ({ id: p.id, target: p.target }))).toEqual(want);
    for (const p of pairs) expect(p.input.length).toBe(3 * 64 * 64);
  });
});

describe('lrp sanity on the demo model', () => {
  let rows: SanityRow[] = [];

  it('step 0 is exactly 1, randomised steps below it, LRP-z and the gradient lose similarity; files written', async () => {
    const out = join(tmp, 'run');
    const r = await cli(['sanity', '--model', DEMO, '--input', ...IMAGES, '--composite', 'lrp-z,gradient', '--seed', '3', '--out', out]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    rows = report.rows;
    expect(report.steps).toHaveLength(9);
    expect(report.pairs).toHaveLength(2);
    for (const a of ['lrp-z', 'gradient']) {
      const mine = rows.filter((x) => x.analyzer === a);
      expect(mine.map((x) => x.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      expect(mine[0].layer).toBeNull();
      expect(mine[1].layer).toBe(report.steps[1].layer);
      expect(mine[0].spearman.mean).toBe(1);
      expect(mine[0].ssim.mean).toBe(1);
      expect(mine[0].spearman.stderr).toBe(0);
      for (const x of mine.slice(1)) {
        expect(x.spearman.mean!).toBeLessThan(1);
        expect(x.ssim.mean!).toBeLessThan(1);
        expect(x.degenerate).toBe(0);
        expect(x.spearman.n).toBe(2);
      }
      // Decreasing overall: the fully randomised model's maps are less alike than the first step's.
      expect(mine[8].spearman.mean!).toBeLessThan(mine[1].spearman.mean!);
      expect(mine[8].ssim.mean!).toBeLessThan(mine[1].ssim.mean!);
    }
    expect(r.out).toMatch(/gradient\s+8 \/features\/features\.0\/Conv\s+\d\.\d{4} ± \d\.\d{4}/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/\| lrp-z \| 1 \| `\/classifier\/classifier\.4\/Gemm` \| 0\.\d{4} \|/);
    for (const f of ['sanity-spearman.svg', 'sanity-ssim.svg']) expect(readFileSync(join(out, f), 'utf8')).toMatch(/<polyline/);
  }, 300_000);

  it('model.sanityCheck on the same images and seed gives identical numbers', async () => {
    const gradient = rows.filter((x) => x.analyzer === 'gradient');
    expect(gradient.length).toBe(9);
    const lrp = await Lrp.create();
    try {
      const model = await lrp.loadModel(DEMO);
      const images = await Promise.all(IMAGES.map((p) => readImage(p)));
      const r = await model.sanityCheck(images, ['gradient'], { seed: 3 });
      expect(JSON.parse(JSON.stringify(r.rows))).toEqual(gradient);
    } finally {
      lrp.destroy();
    }
  }, 300_000);
});

describe('lrp sanity refuses bad options before any work', () => {
  for (const [argv, msg] of [
    [['--input', 'a.png', '--dataset', 'voc:d'], /--input and --dataset exclude each other/],
    [[], /give the images to explain: --input FILES or --dataset/],
    [['--input', 'a.png', '--images', '0'], /--images must be a whole number >= 1, got 0/],
    [['--input', 'a.png', '--seed', '-1'], /--seed must be a whole number >= 0, got -1/],
    [['--dataset', 'voc:d', '--target', '3'], /--target is for --input/],
    [['--input', 'a.png', '--split', 'test'], /--split, --skip-difficult and --workers are for --dataset/],
  ] as const) {
    it(argv.join(' ') || '(no images)', async () => {
      const r = await cli(['sanity', '--model', DEMO, ...argv, '--out', join(tmp, 'bad')]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(existsSync(join(tmp, 'bad'))).toBe(false);
    });
  }

  it('an unreadable composite or image is named', async () => {
    const c = await cli(['sanity', '--model', DEMO, '--input', IMAGES[0], '--composite', 'lrp-zz', '--out', join(tmp, 'bad')]);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/lrp-zz/);
    const i = await cli(['sanity', '--model', DEMO, '--input', 'missing.png', '--out', join(tmp, 'bad')]);
    expect(i.code).toBe(1);
    expect(i.err).toMatch(/missing\.png/);
    expect(existsSync(join(tmp, 'bad'))).toBe(false);
  });
});
