/**
 * Winograd in the relevance passes (src/lrp/ops/winograd-relevance.ts) against the float64
 * relevance reference (test/reference/relevance.ts): each rule's denominators and redistribution
 * through F(2,3) and F(4,3) on odd sizes (H and W not multiples of the tile, padding 0, 1 and
 * asymmetric, batch > 1 accumulating into R), on the three kinds of input; then the deep case, a
 * stack of 13 3x3 layers (VGG-16's convolutions, narrow) under alpha-beta 2/1, run through the
 * explainer with `--conv winograd` and `direct` against a float64 oracle of the whole stack.
 * Few channel counts: each is a GEMM pipeline to compile.
 */
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { GraphBuilder, inferShape, type LayerSpec } from '../src/graph/builder.ts';
import type { ConvLayer, Pads4, Shape } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import type { BackwardIO, BackwardOpContext } from '../src/lrp/backward-op.ts';
import { Explainer, type LayerRules } from '../src/lrp/explainer.ts';
import type { WinogradTile } from '../src/forward/winograd.ts';
import { createConvRelevance, fitting, flippedWeight, winogradRelevanceChoice } from '../src/lrp/ops/winograd-relevance.ts';
import { planLinearRule } from '../src/lrp/rules.ts';
import type { LinearRule } from '../src/lrp/rule-spec.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { randn, rngFor } from './helpers/seeded.ts';
import { referenceLayer } from './reference/forward.ts';
import { referenceLayerRelevance, referenceRelevances, shortcutBound } from './reference/relevance.ts';

const shared = useGpu();


function conv3x3(rng: Rng, name: string, C: number, O: number, pads: Pads4): ConvLayer {
  const b = randn(rng, O, 0.4);
  b[0] = Math.abs(b[0]) + 0.05;
  b[1] = -Math.abs(b[1]) - 0.05;
  return {
    kind: 'conv', name, inputs: ['x'], output: 'y', inChannels: C, outChannels: O, kernel: [3, 3], stride: [1, 1], pads,
    dilation: [1, 1], groups: 1, weight: randn(rng, O * C * 9, Math.sqrt(2 / (9 * C))), bias: b,
  };
}

const RULES: [string, LinearRule][] = [
  ['z', { rule: 'z', stabilizer: 1e-6 }],
  ['epsilon', { rule: 'epsilon', epsilon: 0.1 }],
  ['zplus', { rule: 'zplus', stabilizer: 1e-6 }],
  ['alpha-beta 2/1', { rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: 1e-6 }],
  ['gamma 0.25', { rule: 'gamma', gamma: 0.25, stabilizer: 1e-6 }],
  ['flat', { rule: 'flat', stabilizer: 1e-6 }],
  ['wsquare', { rule: 'wsquare', stabilizer: 1e-6 }],
  ['zbox', { rule: 'zbox', low: [-4, -4.25, -4.5, -4.75, -5], high: [4, 4.5, 5, 4, 4.5], stabilizer: 1e-6 }],
  ['gradient', { rule: 'gradient' }],
];

type Kind = 'signed' | 'relu-view' | 'nonneg';

// [label, C, O, H, W, pads, batch]: 5 -> 6 channels, planes not multiples of 2 or 4.
const CASES: [string, number, number, number, number, Pads4, number][] = [
  ['7x9, padding 1, batch 2', 5, 6, 7, 9, [1, 1, 1, 1], 2],
  ['9x6, padding 0, batch 3', 5, 6, 9, 6, [0, 0, 0, 0], 3],
  ['6x7, padding [1, 0, 2, 1], batch 1', 5, 6, 6, 7, [1, 0, 2, 1], 1],
];

describe('Winograd relevance: the choice per pass (CPU)', () => {
  const l = (C: number, O: number, pads: Pads4 = [1, 1, 1, 1]): ConvLayer => ({ ...conv3x3(new Rng(1), 'c', 1, 1, pads), inChannels: C, outChannels: O, weight: new Float32Array(0) });
  it('auto takes each pass\'s tile (F(4,3) on large planes, F(2,3) on 14x14 and in a 7x7 redistribution), forced takes the tile, direct never', () => {
    expect(winogradRelevanceChoice(l(64, 64), 56 * 56, 56 * 56, 'auto', 'cpu')).toEqual({ denominators: { m: 4 }, redistribution: { m: 4 } });
    expect(winogradRelevanceChoice(l(512, 512), 14 * 14, 14 * 14, 'auto', 'cpu')).toEqual({ denominators: { m: 2 }, redistribution: { m: 2 } });
    expect(winogradRelevanceChoice(l(512, 512), 7 * 7, 7 * 7, 'auto', 'cpu')).toEqual({
      denominators: { m: null, why: expect.stringMatching(/fewer than 196 pixels/) }, redistribution: { m: 2 },
    });
    // The redistribution's plane is the input's: padding 0 from 28x28 to 26x26.
    expect(winogradRelevanceChoice(l(256, 256, [0, 0, 0, 0]), 28 * 28, 26 * 26, 'auto', 'cpu')).toEqual({ denominators: { m: 2 }, redistribution: { m: 4 } });
    expect(winogradRelevanceChoice(l(64, 64), 56 * 56, 56 * 56, 'auto', 'gpu').denominators.m).toBeNull();
    expect(winogradRelevanceChoice(l(3, 64), 224 * 224, 224 * 224, 'auto', 'cpu').redistribution.m).toBeNull();
    expect(winogradRelevanceChoice(l(3, 64), 9, 9, 'winograd', 'cpu')).toEqual({ denominators: { m: 4 }, redistribution: { m: 4 } });
    expect(winogradRelevanceChoice(l(3, 64), 9, 9, 'winograd', 'cpu', 2).redistribution.m).toBe(2);
    expect(winogradRelevanceChoice(l(64, 64), 56 * 56, 56 * 56, 'direct', 'cpu').redistribution.m).toBeNull();
  });
  it('a pad over 2 keeps the transposed pass direct (it is no padded convolution), not the denominators', () => {
    const c = winogradRelevanceChoice(l(8, 8, [3, 1, 3, 1]), 81, 121, 'winograd', 'cpu');
    expect(c.denominators.m).toBe(4);
    expect(c.redistribution).toEqual({ m: null, why: expect.stringMatching(/padding 3x1 over 2/) });
  });
  it('a pass whose one sample\'s transformed tensors pass a binding runs direct (the other may not)', () => {
    const plan = planLinearRule({ rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: 1e-6 }, true);
    const both = { denominators: { m: 2 as const }, redistribution: { m: 2 as const } };
    // 64 -> 64 at 224x224, F(2,3): V of the one-segment denominators 4 * 16 * 112^2 * 64 bytes
    // (51 MB), of the two-segment redistribution 103 MB.
    const limit = 4 * 16 * 112 * 112 * 64;
    const f = fitting(both, plan, [64, 224, 224], [64, 224, 224], limit);
    expect(f.denominators).toEqual({ m: 2 });
    expect(f.redistribution).toEqual({ m: null, why: expect.stringMatching(/exceed a binding/) });
    expect(fitting(both, plan, [64, 224, 224], [64, 224, 224], 2 * limit)).toEqual(both);
  });
  it('flips the taps and swaps the channels of the transposed kernel', () => {
    const w = Float32Array.from({ length: 2 * 3 * 9 }, (_, i) => i);
    const f = flippedWeight(w, 2, 3);
    // [inC][outC][ky][kx] = w[outC][inC][2 - ky][2 - kx]
    expect(f[((1 * 2 + 0) * 3 + 0) * 3 + 2]).toBe(w[((0 * 3 + 1) * 3 + 2) * 3 + 0]);
    expect(f[((2 * 2 + 1) * 3 + 1) * 3 + 1]).toBe(w[((1 * 3 + 2) * 3 + 1) * 3 + 1]);
  });
});

const storage = (): GPUBufferUsageFlags => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;

describe('Winograd relevance passes on the GPU against the float64 reference', () => {
  for (const [label, C, O, H, W, pads, batch] of CASES) {
    for (const m of [2, 4] as const) {
      for (const kind of ['signed', 'relu-view', 'nonneg'] as Kind[]) {
        it(`F(${m},3), ${label}, ${kind}: every rule`, async () => {
          const { ctx } = shared;
          const title = `${label} ${kind}`;
          const rng = rngFor(title);
          const layer = conv3x3(rng, 'c', C, O, pads);
          // On inputs >= 0 the rules divide by sums of one sign (p = x W+ + b+, n = z - p): here
          // positive biases and few zeros keep them off zero. Near zero, s spans orders of
          // magnitude and Winograd's rounding, which scales with the largest |s| of a tile's
          // patch rather than each term's own, shows: the deep case and bench/winograd-error.ts
          // --relevance measure that on VGG-16-like data.
          if (kind !== 'signed') layer.bias.forEach((v, k) => { layer.bias[k] = Math.abs(v) + 0.05; });
          const shape: Shape = [C, H, W];
          const outShape = inferShape(layer, [shape]);
          let x = randn(rng, batch * numel(shape), 1, kind === 'signed' ? 0 : 0.3);
          if (kind === 'nonneg') x = x.map((v) => Math.max(v, 0));
          const actual = kind === 'relu-view' ? Float64Array.from(x, (v) => Math.max(v, 0)) : Float64Array.from(x);
          const z = Float32Array.from(referenceLayer(layer, [actual], [shape], batch));
          const relOut = randn(rng, z.length);
          // Batch 1 overwrites, the others add into a prior relevance.
          const accumulate = batch > 1;
          const prior = accumulate ? randn(rng, x.length) : new Float32Array(x.length).fill(1234.5);
          const weights = new WeightStore(ctx);
          const lines: string[] = [];
          // PatternAttribution: the redistribution reads A * W (its own transformed copy).
          const pattern: LinearRule = { rule: 'pattern', pattern: randn(rng, layer.weight.length), source: 'test', digest: title };
          for (const [rl, rule] of [...RULES, ['pattern', pattern] as [string, LinearRule]]) {
            const c: BackwardOpContext = {
              ctx, weights, layer, rule, accumulate: [accumulate], inputs: [{ shape, relu: kind === 'relu-view' }],
              nonneg: [kind !== 'signed'], output: { shape: outShape, relu: false }, outShape, forwardOptions: { conv: 'winograd', winogradTile: m },
            };
            const op = await createConvRelevance(c);
            const buffers: GPUBuffer[] = [];
            const up = (d: Float32Array, l: string) => {
              const b = ctx.upload(d, l, storage());
              buffers.push(b);
              return b;
            };
            let got: Float32Array;
            let kernels: string[];
            try {
              const relIn = up(prior, 'relIn');
              const io: BackwardIO = {
                inputs: [{ buffer: up(x, 'x'), shape, relu: kind === 'relu-view' }],
                output: { buffer: up(z, 'z'), shape: outShape, relu: false },
                relOut: up(relOut, 'relOut'), relIn: [relIn], accumulate: [accumulate],
                // Garbage in the scratch: the kernels must write everything they read later.
                scratch: (bytes, l) => up(new Float32Array(Math.ceil(bytes / 4)).fill(777.25), l),
              };
              const dispatches = op.dispatches(batch, io);
              kernels = dispatches.map((d) => d.kernel);
              await ctx.run(`winograd relevance ${rl}`, dispatches);
              got = await ctx.readF32(relIn, 0, x.length, 'relIn');
            } finally {
              buffers.forEach((b) => b.destroy());
              op.destroy();
            }
            // Every pass a rule runs is Winograd's: no direct GEMM left.
            expect(kernels.filter((k) => k === 'conv_stab' || k === 'conv_transpose'), rl).toEqual([]);
            expect(kernels, rl).toContain('winograd_transpose_output');
            expect(op.passes, rl).toMatch(new RegExp(`redistribution F\\(${m},3\\)`));
            const want = referenceLayerRelevance(layer, rule, actual, shape, Float64Array.from(z), Float64Array.from(relOut), batch);
            if (accumulate) want.forEach((v, i) => { want[i] = v + prior[i]; });
            const err = relL2(got, want);
            // F(4,3)'s transforms scale values by up to 10 and 19 (B^T's and A^T's rows): about 10x
            // F(2,3)'s error, as in the forward pass.
            let tol = m === 2 ? 2e-6 : 2e-5;
            if (rule.rule === 'alpha-beta' && kind !== 'signed') tol += shortcutBound(layer, shape, actual, z, relOut, batch, rule, want, m === 2 ? 16 : 128);
            lines.push(`${rl} ${err.toExponential(2)}`);
            expect(err, `${rl}: relative L2 ${err} (tolerance ${tol})`).toBeLessThanOrEqual(tol);
          }
          console.log(`F(${m},3) ${label}, ${kind}: ${lines.join(', ')}`);
          expect(weights.stats.copies).toBe(0);
        });
      }
    }
  }
});

/**
 * The deep case: 13 3x3 padding-1 convolutions with ReLUs in VGG-16's five blocks, 2x2 max pooling
 * after each, a dense layer on top (narrow: 8 channels on a 32x32 input), alpha-beta 2/1 on
 * every convolution (epsilon on the dense layer), batch 2: the relevance at every convolution's
 * input against the float64 reference of the whole stack, with F(2,3) and F(4,3) forced in every
 * pass. With 8 to 16 channels it measured (top layer first) direct 8.2e-7 to 1.1e-6, F(2,3) 8.3e-7
 * to 1.2e-6, F(4,3) 2.6e-6 to 5.5e-6: no growth with depth.
 */
describe('the deep case: a VGG-16-shaped stack of 13 3x3 layers under alpha-beta 2/1', () => {
  // One width after the first layer: each channel count is more GEMM pipelines to compile.
  const BLOCKS = [[8, 2], [8, 2], [8, 3], [8, 3], [8, 3]] as const;
  const H0 = 32;
  const rng = rngFor('deep case');
  const convs: ConvLayer[] = [];
  const b = new GraphBuilder('deep winograd', 'x', [3, H0, H0]);
  let v = 'x';
  let C = 3;
  BLOCKS.forEach(([width, count], bi) => {
    for (let i = 0; i < count; i++) {
      const l = conv3x3(rng, `conv${convs.length + 1}`, C, width, [1, 1, 1, 1]);
      // Biases small against the sums, as in a trained network.
      l.bias.forEach((x, k) => { l.bias[k] = x * 0.1; });
      b.add({ ...l, inputs: [v], output: `${l.name}.z` } as LayerSpec);
      b.add({ kind: 'relu', name: `${l.name}.relu`, inputs: [`${l.name}.z`], output: `${l.name}.r` } as LayerSpec);
      convs.push({ ...l, inputs: [v] });
      v = `${l.name}.r`;
      C = width;
    }
    b.add({ kind: 'maxpool', name: `pool${bi + 1}`, inputs: [v], output: `pool${bi + 1}.y`, kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], dilation: [1, 1], ceilMode: false } as LayerSpec);
    v = `pool${bi + 1}.y`;
  });
  b.add({ kind: 'flatten', name: 'flat', inputs: [v], output: 'flat.y' } as LayerSpec);
  b.add({
    kind: 'dense', name: 'fc', inputs: ['flat.y'], output: 'logits', inFeatures: C, outFeatures: 10,
    weight: randn(rng, 10 * C, Math.sqrt(1 / C)), bias: randn(rng, 10, 0.01),
  } as LayerSpec);
  const graph = b.build('logits');
  const batch = 2;
  const x = randn(rngFor('deep input'), batch * 3 * H0 * H0);
  const ab: LinearRule = { rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: 1e-6 };
  const composite: LayerRules = {
    name: 'alpha-beta 2/1 on every convolution', method: null,
    rules: new Map<string, LinearRule>([...convs.map((l): [string, LinearRule] => [l.name, ab]), ['fc', { rule: 'epsilon', epsilon: 1e-6 }]]),
  };
  const targets = [3, 7];
  const TOL = 2e-5;

  it('relevance at every depth stays within the tolerance of float64: F(2,3) and F(4,3) in every pass', async () => {
    const { ctx } = shared;
    const want = referenceRelevances(graph, composite.rules, null, Float64Array.from(x), batch, targets, 'logit');
    const lines: string[] = [];
    for (const tile of [2, 4] as const) {
      const label = `F(${tile},3)`;
      const fm = await ForwardModel.create(ctx, graph, { conv: 'winograd', winogradTile: tile });
      const ex = await Explainer.create(fm, composite);
      try {
        const passes = ex.describe().filter((d) => d.kind === 'conv').map((d) => d.passes);
        expect(passes.every((p) => p.includes(`denominators F(${tile},3)`) && p.includes(`redistribution F(${tile},3)`)), passes.join('\n')).toBe(true);
        const rel = await ex.relevanceOfInput(x, batch, { targets, init: 'logit' });
        try {
          // From the top convolution down to the input: the error after each layer's relevance step.
          const errs: number[] = [];
          for (const l of [...convs].reverse()) {
            const buf = rel.perValue.get(l.inputs[0])!;
            const n = want.get(l.inputs[0])!.length;
            errs.push(relL2(await ctx.readF32(buf, 0, n, l.inputs[0]), want.get(l.inputs[0])!));
          }
          lines.push(`${label}: ${errs.map((e) => e.toExponential(1)).join(' ')}`);
          errs.forEach((e, k) => expect(e, `${label}: relative L2 ${e} after ${k + 1} layers`).toBeLessThanOrEqual(TOL));
        } finally {
          rel.release();
        }
      } finally {
        ex.destroy();
        fm.destroy();
      }
    }
    console.log(`deep case, relative L2 vs float64 after each of the 13 layers (top first):\n  ${lines.join('\n  ')}`);
  });
});
