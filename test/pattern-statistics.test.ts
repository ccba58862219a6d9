/**
 * PatternAttribution's statistics on the GPU (src/patterns/statistics.ts) against the float64 CPU
 * oracle (test/reference/patterns.ts) on a small model of awkward shapes, in both kernel tile
 * families, with split and unsplit row reductions and sums chunked across bindings; a set split
 * into batches of different sizes against one pass; and the patterns of every folder of
 * ../shared/testvectors/pattern/ from their statistics sets.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GpuContext, type Tuning } from '../src/gpu/context.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { isLinear, numel } from '../src/graph/ir.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { Rng } from '../src/graph/zoo.ts';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { nodeShaderLoader } from '../src/node/gpu.ts';
import { PatternStatistics, statsSplit, statsTile, type StatisticsOptions, type StatsCost } from '../src/patterns/statistics.ts';
import { patternFromSums, type LayerSums } from '../src/patterns/sums.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import { referencePatternSums } from './reference/patterns.ts';

function randomF32(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
}

/**
 * Odd sizes everywhere: a 5x3 conv with stride 2, asymmetric pads and dilation on a 3x29x23
 * input; a grouped 3x3 conv; a max pool; a dense layer after a ReLU and one without.
 */
function awkwardModel(seed: number): Graph {
  const rng = new Rng(seed);
  const b = new GraphBuilder('awkward', 'x', [3, 29, 23]);
  const conv = (name: string, input: string, inC: number, outC: number, kernel: [number, number], stride: [number, number],
    pads: [number, number, number, number], dilation: [number, number], groups: number) => {
    const fanIn = (inC / groups) * kernel[0] * kernel[1];
    b.add({
      kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel, stride, pads, dilation, groups,
      weight: randomF32(rng, outC * fanIn, Math.sqrt(2 / fanIn)), bias: randomF32(rng, outC, 0.2),
    });
  };
  conv('c1', 'x', 3, 6, [5, 3], [2, 2], [2, 1, 1, 0], [1, 2], 1);
  b.add({ kind: 'relu', name: 'r1', inputs: ['c1'], output: 'r1' });
  conv('c2', 'r1', 6, 10, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 2);
  b.add({ kind: 'relu', name: 'r2', inputs: ['c2'], output: 'r2' });
  b.add({ kind: 'maxpool', name: 'p2', inputs: ['r2'], output: 'p2', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], dilation: [1, 1], ceilMode: true });
  b.add({ kind: 'flatten', name: 'f', inputs: ['p2'], output: 'f' });
  const inF = numel(b.shapeOf('f'));
  b.add({ kind: 'dense', name: 'd1', inputs: ['f'], output: 'd1', inFeatures: inF, outFeatures: 13, weight: randomF32(rng, 13 * inF, Math.sqrt(2 / inF)), bias: randomF32(rng, 13, 0.2) });
  b.add({ kind: 'relu', name: 'r3', inputs: ['d1'], output: 'r3' });
  b.add({ kind: 'dense', name: 'd2', inputs: ['r3'], output: 'd2', inFeatures: 13, outFeatures: 5, weight: randomF32(rng, 65, 0.4), bias: randomF32(rng, 5, 0.2) });
  return b.build('d2');
}

/**
 * Runs the statistics over `input` in batches of the given sizes; returns the sums by layer (and
 * the cost table of the first batch size, which says how each layer was chunked and split).
 */
async function gpuSums(
  ctx: GpuContext, graph: Graph, input: Float32Array, sizes: readonly number[], costs?: StatsCost[], opts?: StatisticsOptions,
): Promise<Map<string, LayerSums>> {
  const per = numel(graph.input.shape);
  const fm = await ForwardModel.create(ctx, graph);
  const stats = await PatternStatistics.create(fm, opts);
  try {
    let n0 = 0;
    for (const n of sizes) {
      const acts = await fm.forward(input.subarray(n0 * per, (n0 + n) * per), n);
      try {
        await stats.accumulate(acts);
      } finally {
        acts.release();
      }
      n0 += n;
    }
    expect(stats.samples).toBe(n0);
    costs?.push(...stats.cost(sizes[0]));
    return new Map((await stats.read()).map((s) => [s.layer, s]));
  } finally {
    stats.destroy();
    fm.destroy();
  }
}

function sumsError(a: LayerSums, b: LayerSums): number {
  expect(a.rows).toBe(b.rows);
  return Math.max(relL2(a.sx, b.sx), relL2(a.sxy, b.sxy), relL2(a.sy, b.sy), relL2(a.count, b.count));
}

describe('pattern statistics', () => {
  const shared = useGpu();
  const graph = awkwardModel(7);
  const N = 9;
  const input = randomF32(new Rng(11), N * numel(graph.input.shape), 1);
  const oracle = referencePatternSums(graph, Float64Array.from(input), N);

  it('the split of the rows fills the device and covers every row once', () => {
    expect(statsSplit(1, 401408, 16, 4 * 3456, 2 ** 27, 528)).toEqual({ splits: 256, rChunk: 1568 });
    expect(statsSplit(1, 100, 16, 64, 2 ** 27, 64)).toEqual({ splits: 1, rChunk: 112 });
    const s = statsSplit(2, 1000, 16, 64, 2 ** 27, 64);
    expect(s.splits * s.rChunk).toBeGreaterThanOrEqual(1000);
    expect((s.splits - 1) * s.rChunk).toBeLessThan(1000);
    // Few k: one quad row per thread column.
    expect(statsTile(27, 128, true)).toEqual({ TX: 8, TY: 8, PQ: 1, TN: 16, BR: 16 });
  });

  for (const tuning of ['cpu', 'gpu'] as Tuning[]) {
    it(`every layer's sums match the float64 oracle (${tuning} tiles; odd sizes, stride 2, pads, dilation, groups, dense)`, async () => {
      const ctx = new GpuContext(shared.gpu.device, { shaders: nodeShaderLoader, tuning });
      try {
        const costs: StatsCost[] = [];
        const sums = await gpuSums(ctx, graph, input, [N], costs);
        // Both ways of reducing the rows run: c1 and c2 have one or two output tiles and many rows.
        expect(costs.filter((c) => c.splits > 1).map((c) => c.layer)).toEqual(['c1', 'c2']);
        expect(costs.filter((c) => c.splits === 1).map((c) => c.layer)).toEqual(['d1', 'd2']);
        for (const layer of graph.layers.filter(isLinear)) {
          const err = sumsError(sums.get(layer.name)!, oracle.get(layer.name)!);
          expect(err, layer.name).toBeLessThan(2e-6);
          const A = patternFromSums(layer.weight, sums.get(layer.name)!);
          const ref = patternFromSums(layer.weight, oracle.get(layer.name)!);
          expect(relL2(A, ref), `${layer.name} pattern`).toBeLessThan(1e-4);
        }
      } finally {
        ctx.destroy();
      }
    });
  }

  it('sums chunked across small bindings match the oracle', async () => {
    // 8 KiB bindings: d1's sums (5.6 KB per output) take one output per chunk, and a batch one
    // sample; at most 2 channels per chunk split the others (c2's within each of its groups).
    const ctx = new GpuContext(shared.gpu.device, { shaders: nodeShaderLoader, bindingLimit: 8192 });
    try {
      const costs: StatsCost[] = [];
      const sums = await gpuSums(ctx, graph, input, new Array<number>(N).fill(1), costs, { chunkChannels: 2 });
      expect(costs.map((c) => c.chunks)).toEqual([3, 3, 13, 3]);
      for (const layer of graph.layers.filter(isLinear)) {
        expect(sumsError(sums.get(layer.name)!, oracle.get(layer.name)!), layer.name).toBeLessThan(2e-6);
      }
    } finally {
      ctx.destroy();
    }
  });

  it('a set split into batches of different sizes gives the sums of one pass', async () => {
    const one = await gpuSums(shared.ctx, graph, input, [N]);
    const parts = await gpuSums(shared.ctx, graph, input, [4, 1, 3, 1]);
    for (const layer of graph.layers.filter(isLinear)) {
      expect(sumsError(parts.get(layer.name)!, one.get(layer.name)!), layer.name).toBeLessThan(2e-6);
      expect(sumsError(parts.get(layer.name)!, oracle.get(layer.name)!), layer.name).toBeLessThan(2e-6);
    }
  });
});

const INDEX = 'testvectors/pattern/index.json';
const folders: string[] = haveShared('PatternAttribution reference vectors', INDEX) ? JSON.parse(readFileSync(sharedPath(INDEX), 'utf8')) : [];

describe.skipIf(folders.length === 0)('patterns of ../shared/testvectors/pattern/', () => {
  const shared = useGpu();
  const npy = (path: string) => {
    const a = parseNpy(new Uint8Array(readFileSync(path)), path);
    return { shape: a.shape, data: npyToFloat32(a) };
  };
  for (const f of folders) {
    it(`${f}: every layer's pattern within pattern_tolerance`, async () => {
      const dir = sharedPath(`testvectors/pattern/${f}/`);
      const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as { model: string; train: string; patterns: Record<string, string>; pattern_tolerance: number };
      const graph = importOnnx(new Uint8Array(readFileSync(dir + spec.model)), { source: dir + spec.model });
      const train = npy(dir + spec.train);
      const n = train.shape[0];
      // Uneven batches, as a stream of the set would see them.
      const sizes = [Math.ceil(n / 3), Math.floor(n / 3), n - Math.ceil(n / 3) - Math.floor(n / 3)];
      const sums = await gpuSums(shared.ctx, graph, train.data, sizes);
      const linear = graph.layers.filter(isLinear);
      expect(Object.keys(spec.patterns).sort()).toEqual(linear.map((l) => l.name).sort());
      for (const layer of linear) {
        const A = patternFromSums(layer.weight, sums.get(layer.name)!);
        const err = relL2(A, npy(dir + spec.patterns[layer.name]).data);
        console.log(`${f}/${layer.name}: pattern relative L2 ${err.toExponential(2)} (tolerance ${spec.pattern_tolerance})`);
        expect(err, layer.name).toBeLessThanOrEqual(spec.pattern_tolerance);
      }
    });
  }
});
