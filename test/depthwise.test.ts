// The direct depthwise kernels (src/forward/depthwise.ts, src/lrp/ops/depthwise-backward.ts) against
// the float64 references of test/reference/: the forward convolution, and every relevance pass of
// every linear rule (the denominators of each sign, the redistribution, the gradient) on odd sizes,
// strides 1 and 2, asymmetric pads, dilation, 3x3 / 5x5 / 7x7 kernels, channel multipliers 1 and 2,
// batch 1 (overwriting relIn) and batch 3 (adding into it).
//
// Each kernel geometry is a set of pipelines (an LLVM compile of seconds each on lavapipe), so the
// rules run on a few shapes that between them reach every block layout and stride phase; the
// other shapes get the rules with the most segments.
import { describe, expect, it } from 'vitest';
import { createDepthwiseConv, depthwiseBlocker, isDepthwise } from '../src/forward/depthwise.ts';
import { inferShape } from '../src/graph/builder.ts';
import type { ConvLayer, Pads4, Pair, Shape } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { createDepthwiseBackward } from '../src/lrp/ops/depthwise-backward.ts';
import type { BackwardIO } from '../src/lrp/backward-op.ts';
import type { LinearRule } from '../src/lrp/rule-spec.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { randn, rngFor } from './helpers/seeded.ts';
import { referenceLayer } from './reference/forward.ts';
import { referenceLayerRelevance } from './reference/relevance.ts';

const TOL = 1e-5;
const shared = useGpu();


interface Case { label: string; shape: Shape; mult: number; kernel: Pair; stride: Pair; pads: Pads4; dilation: Pair }

const dw = (label: string, shape: Shape, kernel: Pair, stride: Pair, pads: Pads4, dilation: Pair = [1, 1], mult = 1): Case =>
  ({ label, shape, mult, kernel, stride, pads, dilation });

function makeLayer(c: Case, rng: Rng): ConvLayer {
  const C = c.shape[0];
  const taps = c.kernel[0] * c.kernel[1];
  const bias = randn(rng, C * c.mult, 0.4);
  bias[0] = Math.abs(bias[0]) + 0.05;
  if (bias.length > 1) bias[1] = -Math.abs(bias[1]) - 0.05;
  return {
    kind: 'conv', name: c.label, inputs: ['x'], output: 'y', inChannels: C, outChannels: C * c.mult,
    kernel: c.kernel, stride: c.stride, pads: c.pads, dilation: c.dilation, groups: C,
    weight: randn(rng, C * c.mult * taps, Math.sqrt(2 / taps)), bias,
  };
}

const CASES: Case[] = [
  dw('3x3 s1 p1, 5 channels, 7x9', [5, 7, 9], [3, 3], [1, 1], [1, 1, 1, 1]),
  dw('3x3 s2 asym pads, 6 channels, 11x9', [6, 11, 9], [3, 3], [2, 2], [1, 0, 1, 1]),
  dw('5x5 s2 p2, 3 channels, 13x10', [3, 13, 10], [5, 5], [2, 2], [2, 2, 2, 2]),
  dw('7x7 s1 p3, 3 channels, 9x11', [3, 9, 11], [7, 7], [1, 1], [3, 3, 3, 3]),
  dw('3x3 dilation 2, asym pads, 4 channels, 10x9', [4, 10, 9], [3, 3], [1, 1], [2, 1, 2, 3], [2, 2]),
  dw('3x3 s2, multiplier 2, 3 channels, 9x8', [3, 9, 8], [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 2),
];

describe('depthwise eligibility', () => {
  it('takes groups == inChannels with any multiplier, refuses ordinary groups and too many taps', () => {
    const base = makeLayer(CASES[0], new Rng(1));
    expect(isDepthwise(base)).toBe(true);
    expect(isDepthwise({ ...base, groups: 1, inChannels: 5 })).toBe(false);
    expect(isDepthwise({ ...base, groups: 5, inChannels: 10 })).toBe(false);
    expect(isDepthwise({ ...base, outChannels: 10 })).toBe(true);
    expect(depthwiseBlocker(base)).toBeNull();
    expect(depthwiseBlocker({ ...base, kernel: [13, 13] })).toMatch(/169 taps/);
    expect(depthwiseBlocker({ ...base, kernel: [3, 3], dilation: [1, 20] })).toMatch(/row of \d+ values/);
    expect(depthwiseBlocker({ ...base, kernel: [3, 3], stride: [9, 9] })).toMatch(/transposed block of 81/);
  });
});

describe('depthwise forward', () => {
  for (const c of CASES) {
    for (const [batch, relu] of [[1, false], [3, true]] as const) {
      const title = `${c.label}, batch ${batch}${relu ? ', ReLU view' : ''}`;
      it(title, async () => {
        const { ctx } = shared;
        const rng = rngFor(title);
        const layer = makeLayer(c, rng);
        const outShape = inferShape(layer, [c.shape]);
        const x = randn(rng, batch * numel(c.shape), 1, relu ? -0.3 : 0);
        const actual = Float64Array.from(x, (v) => (relu ? Math.max(v, 0) : v));
        const want = referenceLayer(layer, [actual], [c.shape], batch);
        const weights = new WeightStore(ctx);
        const op = await createDepthwiseConv(ctx, layer, { shape: c.shape, relu }, outShape, { weights });
        const xb = ctx.upload(x, 'x');
        const y = ctx.upload(new Float32Array(want.length).fill(777.25), 'y', GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
        try {
          await ctx.run(layer.name, op.dispatches(batch, [{ buffer: xb, shape: c.shape, relu }], y, () => { throw new Error('no scratch'); }));
          const got = await ctx.readF32(y, 0, want.length, 'y');
          expect(relL2(got, want)).toBeLessThanOrEqual(TOL);
        } finally {
          op.destroy();
          xb.destroy();
          y.destroy();
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Relevance
// ---------------------------------------------------------------------------------------------

function rulesFor(channels: number, mult: number, taps: number): LinearRule[] {
  const low = Array.from({ length: channels }, (_, c) => -4 - 0.25 * (c % 5));
  const high = Array.from({ length: channels }, (_, c) => 4 + 0.5 * (c % 3));
  return [
    { rule: 'z', stabilizer: 1e-6 },
    { rule: 'epsilon', epsilon: 0.1 },
    { rule: 'zplus', stabilizer: 1e-6 },
    { rule: 'alpha-beta', alpha: 1, beta: 0, stabilizer: 1e-6 },
    { rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: 1e-6 },
    { rule: 'gamma', gamma: 0.25, stabilizer: 1e-6 },
    { rule: 'flat', stabilizer: 1e-6 },
    { rule: 'wsquare', stabilizer: 1e-6 },
    { rule: 'zbox', low, high, stabilizer: 1e-6 },
    { rule: 'gradient' },
    // PatternAttribution: the gradient through A * W, its product one more shared weight layout.
    { rule: 'pattern', pattern: Float32Array.from({ length: channels * mult * taps }, (_, i) => Math.cos(0.7 * i)), source: 'test', digest: 'test' },
  ];
}
const RULE_NAMES = ['z', 'epsilon 0.1', 'zplus', 'alpha-beta 1/0', 'alpha-beta 2/1', 'gamma 0.25', 'flat', 'wsquare', 'zbox', 'gradient', 'pattern'];

type InputKind = 'signed' | 'relu-view' | 'nonneg';

async function checkRelevance(c: Case, ri: number, kind: InputKind, batch: number, accumulate: boolean, title: string): Promise<void> {
  const { ctx } = shared;
  const rng = rngFor(title);
  const layer = makeLayer(c, rng);
  const outShape = inferShape(layer, [c.shape]);
  const rule = rulesFor(c.shape[0], c.mult, c.kernel[0] * c.kernel[1])[ri];
  let x = randn(rng, batch * numel(c.shape), 1, kind === 'signed' ? 0 : -0.3);
  if (kind === 'nonneg') x = x.map((v) => Math.max(v, 0));
  const actual = Float64Array.from(x, (v) => (kind === 'relu-view' ? Math.max(v, 0) : v));
  const z = Float32Array.from(referenceLayer(layer, [actual], [c.shape], batch));
  const relOut = randn(rng, z.length);
  const prior = accumulate ? randn(rngFor(`${title} prior`), x.length) : new Float32Array(x.length).fill(1234.5);
  const want = referenceLayerRelevance(layer, rule, actual, c.shape, Float64Array.from(z), Float64Array.from(relOut), batch);
  if (accumulate) want.forEach((v, i) => { want[i] = v + prior[i]; });
  const relu = kind === 'relu-view';
  const op = await createDepthwiseBackward({
    ctx, weights: new WeightStore(ctx), accumulate: [accumulate], layer, rule, inputs: [{ shape: c.shape, relu }],
    nonneg: [kind !== 'signed'], output: { shape: outShape, relu: false }, outShape,
  });
  const buffers: GPUBuffer[] = [];
  const up = (d: Float32Array, label: string) => {
    const b = ctx.upload(d, label, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    buffers.push(b);
    return b;
  };
  try {
    const relIn = up(prior, 'relIn');
    const io: BackwardIO = {
      inputs: [{ buffer: up(x, 'x'), shape: c.shape, relu }],
      output: { buffer: up(z, 'z'), shape: outShape, relu: false },
      relOut: up(relOut, 'relOut'), relIn: [relIn], accumulate: [accumulate],
      // Garbage in the scratch: the kernels must write every element they read later.
      scratch: (bytes, label) => up(new Float32Array(Math.ceil(bytes / 4)).fill(777.25), label),
    };
    const dispatches = op.dispatches(batch, io);
    expect(dispatches.every((d) => !d.kernel.startsWith('conv_'))).toBe(true);
    await ctx.run(layer.name, dispatches);
    const got = await ctx.readF32(relIn, 0, x.length, 'relIn');
    // Alpha-beta with beta > 0 on inputs >= 0 takes n = z - p from the stored float32 z
    // (src/lrp/rules.ts): its cancellation costs more than the kernels' own rounding
    // (test/linear-backward.test.ts bounds it; these small layers stay well below 1e-4).
    const shortcut = rule.rule === 'alpha-beta' && rule.beta !== 0 && kind !== 'signed';
    const err = relL2(got, want);
    expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(shortcut ? 1e-4 : TOL);
  } finally {
    op.destroy();
    buffers.forEach((b) => b.destroy());
  }
}

function matrix(c: Case, rules: readonly number[], runs: readonly [InputKind, number, boolean][]): void {
  for (const ri of rules) {
    for (const [kind, batch, acc] of runs) {
      const title = `${c.label}: ${RULE_NAMES[ri]}, ${kind}, batch ${batch}${acc ? ', accumulate' : ''}`;
      it(title, async () => {
        await checkRelevance(c, ri, kind, batch, acc, title);
      });
    }
  }
}

const ALL_RULES = RULE_NAMES.map((_, i) => i);
const [AB21, ZPLUS, ZBOX, GRADIENT] = [4, 2, 8, 9];
// Every rule on the two 3x3 shapes (stride 1; stride 2 with asymmetric pads), each input kind. The
// larger kernels compile for tens of seconds per rule shape on lavapipe, so they get the two-term
// rule (alpha-beta 2/1 on signed inputs: two segments in both kernels) or, for 7x7, one-term
// passes (zplus on inputs >= 0, the gradient); dilation and the multiplier take 3x3 kernels.
// (Cold, with an empty Mesa shader cache, the file compiles about 25 pipelines: 3 minutes on the
// loaded 2-core machine; warm it runs in about 10 s.)
describe('depthwise relevance, every rule', () => {
  for (const c of CASES.slice(0, 2)) matrix(c, ALL_RULES, [['signed', 1, false], ['nonneg', 3, true], ['relu-view', 2, false]]);
});
describe('depthwise relevance, kernel sizes, dilation, multiplier', () => {
  matrix(CASES[2], [AB21], [['signed', 3, true], ['relu-view', 1, false]]);
  matrix(CASES[3], [ZPLUS, GRADIENT], [['nonneg', 3, true], ['relu-view', 1, false]]);
  // alpha-beta 2/1 on a ReLU view: the one-segment denominator and the two-segment redistribution.
  matrix(CASES[4], [AB21], [['relu-view', 3, true]]);
  matrix(CASES[5], [AB21, ZBOX, GRADIENT], [['signed', 3, true], ['relu-view', 1, false]]);
});
