// Every linear rule through createConvBackward / createDenseBackward on the GPU, against the
// float64 CPU relevance reference: awkward convolutions (odd sizes, strides 2 and 3, asymmetric
// pads, groups, depthwise, dilation, 1x1, wide layers that take the 16x16 tiles) and dense layers
// (odd feature counts, more than 256 features), biases of both signs, three kinds of input
// (signed; a ReLU view of signed pre-activations; values stored >= 0, as after a pooling of ReLU
// outputs), batch 1 writing and batch 3 accumulating into relIn.
//
// The stored output z handed to the op is the CPU reference's forward output rounded to float32
// (exactly what a forward kernel stores, up to its own rounding), and the reference gets the same
// float32 z, input and upper relevance, so the comparison measures the relevance kernels alone.
import { afterAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../src/gpu/context.ts';
import type { ConvTile } from '../src/forward/conv.ts';
import { nodeShaderLoader } from '../src/node/gpu.ts';
import { inferShape } from '../src/graph/builder.ts';
import type { ConvLayer, DenseLayer, Pads4, Pair, Shape } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import type { BackwardIO, BackwardOp, BackwardOpContext } from '../src/lrp/backward-op.ts';
import { columnChunk, createConvBackward, transposedTile, type ConvBackwardOptions } from '../src/lrp/ops/conv-backward.ts';
import { axisPhases } from '../src/lrp/ops/conv-phases.ts';
import { createDenseBackward } from '../src/lrp/ops/dense-backward.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import type { LinearRule } from '../src/lrp/rule-spec.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { randn, rngFor } from './helpers/seeded.ts';
import { referenceLayer } from './reference/forward.ts';
import { linearMap, referenceLayerRelevance, shortcutBound } from './reference/relevance.ts';

const TOL = 1e-5;
const shared = useGpu();

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------


/** Biases of both signs, never all one sign, magnitudes comparable to the weighted sums. */
function mixedBias(rng: Rng, n: number): Float32Array {
  const b = randn(rng, n, 0.4);
  if (n >= 2) {
    b[0] = Math.abs(b[0]) + 0.05;
    b[1] = -Math.abs(b[1]) - 0.05;
  }
  return b;
}

const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);
const asF32 = (a: Float64Array): Float32Array => Float32Array.from(a);

type LinearLayer = ConvLayer | DenseLayer;

interface LayerCase {
  readonly label: string;
  readonly make: (rng: Rng) => LinearLayer;
  readonly shape: Shape;
}

const io1 = { inputs: ['x'], output: 'y' };

function conv(
  label: string, [C, H, W]: [number, number, number], CO: number, kernel: Pair,
  stride: Pair, pads: Pads4, dilation: Pair, groups: number,
): LayerCase {
  return {
    label, shape: [C, H, W],
    make: (rng) => {
      const fanIn = (C / groups) * kernel[0] * kernel[1];
      return {
        kind: 'conv', name: label, ...io1, inChannels: C, outChannels: CO, kernel, stride, pads, dilation, groups,
        weight: randn(rng, CO * fanIn, Math.sqrt(2 / fanIn)), bias: mixedBias(rng, CO),
      };
    },
  };
}

function dense(label: string, inF: number, outF: number): LayerCase {
  return {
    label, shape: [inF],
    make: (rng) => ({
      kind: 'dense', name: label, ...io1, inFeatures: inF, outFeatures: outF,
      weight: randn(rng, inF * outF, Math.sqrt(2 / inF)), bias: mixedBias(rng, outF),
    }),
  };
}

// Kernel sizes and tile shapes are pipeline constants, and on lavapipe every pipeline is an LLVM
// compile of seconds (a cold Mesa shader cache, a busy machine: tens of seconds). So the geometry
// (odd sizes, strides, pads, dilation, groups) varies on 3x3 kernels, which share one set of
// pipelines, under every rule and input kind; 1x1 kernels get every rule on both input kinds of the
// brief; the wide layers (16x16 tiles) and other kernel shapes get the rules that between them
// reach every code path of the kernels (1 to 3 segments, both z epilogues, the gates, every input
// factor, padding-aware ones).
// The transposed pipelines' constants are the tile (its depth BK follows from output channels per
// group x taps) and each stride phase's taps (NTY, NTX); the geometry itself is uniforms. So the
// output channel counts are picked for the cases to share those pipelines where the code paths are
// the same: 's2 asym pads' (2 channels: BK 8) takes the phase pipelines of 's3', 's3x2' and the
// depthwise layer, 'groups 2' (4 per group: BK 12) the stride-1 one of 'dilation 2', and the 4x5
// kernel (2 channels: BK 12) those of 's2 dilation 3', 's2 dilation 2' and the 11x11 kernel. Every
// phase shape, tap count, K below BK, padded channel row and geometry still runs; 9 of the 68
// pipelines of this file (an LLVM compile of seconds each, cold) are no longer compiled (before:
// 4, 6 and 3 output channels). The file alone with a cold Mesa cache: 353 CPU s before, 270 after.
const conv3x3Cases: LayerCase[] = [
  conv('conv 3x3 p1, 7x9', [3, 7, 9], 5, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1),
  conv('conv 3x3 s2 asym pads', [3, 11, 9], 2, [3, 3], [2, 2], [2, 0, 1, 1], [1, 1], 1),
  conv('conv 3x3 s3 asym pads', [2, 13, 10], 5, [3, 3], [3, 3], [1, 2, 0, 1], [1, 1], 1),
  conv('conv 3x3 s3x2 asym pads', [3, 12, 11], 3, [3, 3], [3, 2], [0, 1, 2, 0], [1, 1], 1),
  conv('conv 3x3 groups 2', [4, 9, 7], 8, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 2),
  conv('conv 3x3 depthwise s2', [6, 9, 11], 6, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 6),
  conv('conv 3x3 dilation 2, asym pads', [3, 11, 12], 4, [3, 3], [1, 1], [2, 1, 2, 3], [2, 2], 1),
  conv('conv 3x3 s2 dilation 3', [2, 13, 12], 3, [3, 3], [2, 2], [3, 2, 1, 3], [3, 3], 1),
  // Stride and dilation 2 with an odd top pad: no tap reaches the even input rows at all.
  conv('conv 3x3 s2 dilation 2, rows no tap reaches', [3, 11, 10], 4, [3, 3], [2, 2], [1, 2, 1, 0], [2, 2], 1),
];
const conv1x1Cases: LayerCase[] = [
  conv('conv 1x1', [5, 5, 7], 7, [1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1),
  conv('conv 1x1 s2', [4, 7, 9], 5, [1, 1], [2, 2], [0, 0, 0, 0], [1, 1], 1),
];
// More than 32 channels on both sides of the GEMMs: the 16x16 tiles, several N tiles, K > BK.
const wideCases: LayerCase[] = [
  conv('conv 3x3 p1, 36 -> 40 channels', [36, 5, 6], 40, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1),
  conv('conv 3x3 s2 groups 2, 68 -> 70 channels', [68, 5, 5], 70, [3, 3], [2, 2], [1, 0, 0, 1], [1, 1], 2),
];
const kernelShapeCases: LayerCase[] = [
  conv('conv 5x3 s2 asym pads', [3, 11, 9], 4, [5, 3], [2, 2], [2, 0, 1, 1], [1, 1], 1),
  conv('conv 4x5 s3x2 (kernel not a multiple of the stride)', [3, 12, 11], 2, [4, 5], [3, 2], [0, 1, 2, 0], [1, 1], 1),
  conv('conv 11x11 s4 p2 (alexnet-like)', [3, 23, 27], 8, [11, 11], [4, 4], [2, 2, 2, 2], [1, 1], 1),
];

const denseCases: LayerCase[] = [
  dense('dense 37 -> 11', 37, 11),
  dense('dense 301 -> 13 (more than 256 inputs)', 301, 13),
  dense('dense 29 -> 263 (more than 256 outputs)', 29, 263),
];

type InputKind = 'signed' | 'relu-view' | 'nonneg';
const KINDS: InputKind[] = ['signed', 'relu-view', 'nonneg'];
const kindLabel: Record<InputKind, string> = {
  signed: 'signed input',
  'relu-view': 'ReLU view (signed pre-activations stored)',
  nonneg: 'input >= 0 stored (pooled ReLU output)',
};

/** The rules of the test, with zbox bounds per input channel (conv) or per feature (dense). */
function rulesFor(layer: LinearLayer): LinearRule[] {
  const channels = layer.kind === 'conv' ? layer.inChannels : layer.inFeatures;
  // Distinct bounds per channel, wide enough to hold the inputs (normal values, std 1).
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
  ];
}

function ruleLabel(r: LinearRule): string {
  switch (r.rule) {
    case 'alpha-beta': return `alpha-beta ${r.alpha}/${r.beta}`;
    case 'gamma': return `gamma ${r.gamma}`;
    case 'epsilon': return `epsilon ${r.epsilon}`;
    default: return r.rule;
  }
}

// ---------------------------------------------------------------------------------------------
// Driving one op
// ---------------------------------------------------------------------------------------------

const storage = (): GPUBufferUsageFlags => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;

interface Run {
  x: Float32Array;
  relu: boolean;
  z: Float32Array;
  relOut: Float32Array;
  prior: Float32Array;
  accumulate: boolean;
  batch: number;
}

/** Runs the op once on fresh buffers (scratch included) and reads relIn back; `kernels` collects what ran. */
async function runOp(ctx: GpuContext, op: BackwardOp, shape: Shape, outShape: Shape, s: Run, kernels?: string[]): Promise<Float32Array> {
  const buffers: GPUBuffer[] = [];
  const up = (d: Float32Array, label: string): GPUBuffer => {
    const b = ctx.upload(d, label, storage());
    buffers.push(b);
    return b;
  };
  try {
    const relIn = up(s.prior, 'relIn');
    const io: BackwardIO = {
      inputs: [{ buffer: up(s.x, 'x'), shape, relu: s.relu }],
      output: { buffer: up(s.z, 'z'), shape: outShape, relu: false },
      relOut: up(s.relOut, 'relOut'),
      relIn: [relIn],
      accumulate: [s.accumulate],
      scratch: (bytes, label) => {
        // Garbage in the scratch: the kernels must write every element they read later.
        const b = up(new Float32Array(Math.ceil(bytes / 4)).fill(777.25), label);
        return b;
      },
    };
    const dispatches = op.dispatches(s.batch, io);
    kernels?.push(...dispatches.map((d) => d.kernel));
    await ctx.run(op.layer.name, dispatches);
    return await ctx.readF32(relIn, 0, s.prior.length, 'relIn');
  } finally {
    buffers.forEach((b) => b.destroy());
  }
}

function opContext(ctx: GpuContext, layer: LinearLayer, rule: LinearRule, shape: Shape, relu: boolean, nonneg: boolean, accumulate = false): BackwardOpContext {
  const outShape = inferShape(layer, [shape]);
  return { ctx, weights: new WeightStore(ctx), accumulate: [accumulate], layer, rule, inputs: [{ shape, relu }], nonneg: [nonneg], output: { shape: outShape, relu: false }, outShape };
}

const create = (layer: LinearLayer, opts: ConvBackwardOptions = {}) => (c: BackwardOpContext) =>
  (layer.kind === 'conv' ? createConvBackward(c, opts) : createDenseBackward(c));

/** Worst relative L2 error per rule label and input kind, printed at the end. */
const worst = new Map<string, { err: number; tol: number; where: string }>();
function record(key: string, err: number, tol: number, where: string): void {
  const w = worst.get(key);
  if (!w || !(err <= w.err)) worst.set(key, { err, tol, where });
}
afterAll(() => {
  const lines = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([k, { err, tol, where }]) => `  ${k.padEnd(30)} ${err.toExponential(2)} (tolerance ${tol.toExponential(2)}; ${where})`);
  if (lines.length) console.log(`largest relative L2 error per rule and input kind:\n${lines.join('\n')}`);
});

interface Prepared {
  layer: LinearLayer;
  x: Float32Array;
  /** What the layer really sees: x, or max(x, 0) for a ReLU view. */
  actual: Float64Array;
  z: Float32Array;
  relOut: Float32Array;
  outShape: Shape;
}

function prepare(c: LayerCase, kind: InputKind, batch: number, title: string): Prepared {
  const rng = rngFor(title);
  const layer = c.make(rng);
  const n = batch * numel(c.shape);
  // Shifted down for the ReLU kinds so that many inputs (and some whole receptive fields) are 0.
  let x = randn(rng, n, 1, kind === 'signed' ? 0 : -0.3);
  if (kind === 'nonneg') x = x.map((v) => Math.max(v, 0));
  const actual = kind === 'relu-view' ? Float64Array.from(x, (v) => Math.max(v, 0)) : f64(x);
  const z = asF32(referenceLayer(layer, [actual], [c.shape], batch));
  const relOut = randn(rng, z.length);
  return { layer, x, actual, z, relOut, outShape: inferShape(layer, [c.shape]) };
}

/** Where a check runs: another context (the other tile family), explicit tiles; `kernels` collects what ran. */
interface Variant { ctx?: GpuContext; opts?: ConvBackwardOptions; kernels?: string[] }

async function check(c: LayerCase, ruleIndex: number, kind: InputKind, batch: number, accumulate: boolean, title: string, v: Variant = {}): Promise<void> {
  const ctx = v.ctx ?? shared.ctx;
  const p = prepare(c, kind, batch, title);
  const rule = rulesFor(p.layer)[ruleIndex];
  const nIn = p.x.length;
  const prior = accumulate ? randn(rngFor(`${title} prior`), nIn) : new Float32Array(nIn).fill(1234.5);
  const want = referenceLayerRelevance(p.layer, rule, p.actual, c.shape, f64(p.z), f64(p.relOut), batch);
  if (accumulate) want.forEach((v, i) => { want[i] = v + prior[i]; });
  const op = await create(p.layer, v.opts)(opContext(ctx, p.layer, rule, c.shape, kind === 'relu-view', kind !== 'signed', accumulate));
  let got: Float32Array;
  try {
    got = await runOp(ctx, op, c.shape, p.outShape, { x: p.x, relu: kind === 'relu-view', z: p.z, relOut: p.relOut, prior, accumulate, batch }, v.kernels);
  } finally {
    op.destroy();
  }
  const err = relL2(got, want);
  // Alpha-beta with beta > 0 on inputs >= 0 takes n = z - p from the stored output (rules.ts):
  // its float32 cancellation is allowed for, by the bound of shortcutBound; nothing else is.
  const shortcut = rule.rule === 'alpha-beta' && rule.beta !== 0 && kind !== 'signed';
  const tol = shortcut ? TOL + shortcutBound(p.layer, c.shape, p.actual, p.z, p.relOut, batch, rule, want, 4) : TOL;
  record(`${ruleLabel(rule)}, ${kind}`, err, tol, `${c.label}, batch ${batch}`);
  expect(err, `rel L2 ${err} (tolerance ${tol})`).toBeLessThanOrEqual(tol);
}

// Batch 1 overwrites relIn (which holds garbage), batch 3 accumulates into it.
const RUNS: [number, boolean][] = [[1, false], [3, true]];
const RULE_COUNT = rulesFor(denseCases[0].make(new Rng(0))).length;

function matrix(cases: readonly LayerCase[], ruleIndices: readonly number[], kinds: readonly InputKind[]): void {
  for (const c of cases) {
    for (const ri of ruleIndices) {
      const rl = ruleLabel(rulesFor(c.make(new Rng(0)))[ri]);
      for (const kind of kinds) {
        for (const [batch, acc] of RUNS) {
          const title = `${c.label}: ${rl}, ${kindLabel[kind]}, batch ${batch}${acc ? ', accumulate' : ''}`;
          it(title, async () => {
            await check(c, ri, kind, batch, acc, title);
          });
        }
      }
    }
  }
}

// Indices into rulesFor(): 0 z, 1 epsilon, 2 zplus, 3 alpha-beta 1/0, 4 alpha-beta 2/1, 5 gamma,
// 6 flat, 7 wsquare, 8 zbox, 9 gradient.
const ALL_RULES = Array.from({ length: RULE_COUNT }, (_, i) => i);
const BOTH: InputKind[] = ['signed', 'relu-view'];
describe('conv backward, 3x3 geometries', () => matrix(conv3x3Cases, ALL_RULES, KINDS));
describe('conv backward, 1x1', () => matrix(conv1x1Cases, ALL_RULES, BOTH));
describe('conv backward, wide layers', () => matrix(wideCases, [0, 4, 5, 8], BOTH));
describe('conv backward, other kernel shapes', () => matrix(kernelShapeCases, [4, 6, 8], BOTH));
describe('dense backward', () => matrix(denseCases, ALL_RULES, KINDS));

// Past 65535 tiles along m the conv relevance grids fold m-tiles into x (tileGrid): 4 x 1500 x 1500
// pixels are 70,313 tiles of 128 for the denominator GEMM and for the transposed one.
describe('conv backward over 65535 tiles along m (folded grid)', () => {
  const c = conv('conv 1x1, 1 -> 1 channel, 1500x1500', [1, 1500, 1500], 1, [1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1);
  for (const ri of [0, 1]) {
    const title = `${c.label}: ${ruleLabel(rulesFor(c.make(new Rng(0)))[ri])}, signed, batch 4`;
    it(title, async () => {
      await check(c, ri, 'signed', 4, false, title);
    });
  }
});

describe('dense backward, more samples than one block of 8', () => {
  const c = dense('dense 45 -> 17', 45, 17);
  for (const ri of [2, 4, 5, 8]) {
    const title = `${c.label}: ${ruleLabel(rulesFor(c.make(new Rng(0)))[ri])}, ReLU view, batch 11, accumulate`;
    it(title, async () => {
      await check(c, ri, 'relu-view', 11, true, title);
    });
  }
});

// The tile the op picks comes from convTile (the forward convolution's choice for the same GEMM
// shape): the adapter's family ran above. Here the other family (on lavapipe: the GPU tiles, and a
// split reduction wherever a layer has few output tiles and K >= 16 steps), and explicit tiles that
// reach every unrolled block of the kernels (1 to 4 quads, 4 to 32 channels per thread), so every
// variant a tile sweep can pick has run against the float64 reference.
describe('conv backward with the other tile family (split reductions)', () => {
  let other: GpuContext | undefined;
  const otherCtx = () => {
    other ??= new GpuContext(shared.gpu.device, { shaders: nodeShaderLoader, tuning: shared.ctx.tuning === 'cpu' ? 'gpu' : 'cpu' });
    return other;
  };
  afterAll(() => other?.destroy());
  // Each pipeline is a compile of seconds on lavapipe: one stride-1 layer that splits both GEMMs
  // under z (a transposed pass alone), alpha-beta 2/1 (the z - p epilogue, two segments) and gamma
  // (the gamma epilogue), and one strided layer (four phases) under alpha-beta.
  const splitCases = [wideCases[0]];
  const matrix: [LayerCase, number[]][] = [[wideCases[0], [0, 4, 5]], [conv3x3Cases[1], [4]]];
  for (const [c, rules] of matrix) {
    for (const ri of rules) {
      for (const [batch, acc] of RUNS) {
        const title = `${c.label}: ${ruleLabel(rulesFor(c.make(new Rng(0)))[ri])}, ReLU view, batch ${batch}${acc ? ', accumulate' : ''}`;
        it(title, async () => {
          const kernels: string[] = [];
          await check(c, ri, 'relu-view', batch, acc, title, { ctx: otherCtx(), kernels });
          // The stride-1 layer splits its reductions on the GPU family: the sums must have run.
          if (otherCtx().tuning === 'gpu' && splitCases.includes(c) && batch === 1) {
            expect(kernels.filter((k) => k.endsWith('_sum')), kernels.join(', ')).not.toEqual([]);
          }
        });
      }
    }
  }
});

describe('conv backward with explicit tiles (every unrolled block)', () => {
  // The largest block (4 quads x 32 channels: every FMA and copy block live), and the CPU
  // redistribution's tiles (transposedTile: 2 quads x 32 channels, depth 12 and 16); the
  // families' own tiles (PQ 1, 2 and 4; TN 4 to 16) ran above.
  // and its block for a plane of one block (7x7 at batch 1: 2 quads x 4 rows of threads, depth 16).
  const tiles: ConvTile[] = [
    { TX: 8, TY: 2, PQ: 4, TN: 32, BK: 8 }, transposedTile(36 * 9 * 4, 256, 'cpu'), transposedTile(36 * 9, 64, 'cpu'),
    transposedTile(36 * 9, 256, 'cpu-subgroups', 49),
  ];
  // Stride 1 (one phase: one transposed pipeline per pass), groups 2, columns past the tile's.
  const c = conv('conv 3x3 groups 2, 20 -> 36 channels', [20, 9, 8], 36, [3, 3], [1, 1], [1, 0, 1, 1], [1, 1], 2);
  for (const tile of tiles) {
    // Alpha-beta 2/1 on signed inputs: two denominators of two segments, two transposed passes
    // of two segments, the second adding into the first.
    for (const ri of [4]) {
      const title = `${c.label}: ${ruleLabel(rulesFor(c.make(new Rng(0)))[ri])}, signed, tile ${tile.TX}x${tile.TY} threads of ${tile.PQ} quads x ${tile.TN}, batch 3`;
      it(title, async () => {
        await check(c, ri, 'signed', 3, false, title, { opts: { stabTile: tile, transposeTile: tile } });
      });
    }
  }
});

// A layer of at most 4 input channels (an image's 3) and no more taps (KH x KW) than output
// channels redistributes by columns (1x1 GEMMs of s into per-position columns, a chunk of input
// channels at a time, each followed by conv_col2im). Checked against the float64 reference, with the kernels that ran saying which path
// it was: layers that take it by themselves (pad 0 and 1, stride 1 and 2, batch 3 accumulating),
// where the transposed path forced on the same layer must agree within float32 rounding, and
// columns forced on strided, dilated, asymmetrically padded and non-square layers (col2im's
// index arithmetic).
describe('the thin-layer redistribution by columns', () => {
  const own = [
    conv('conv 3x3 p1, 3 -> 28 channels, 7x9', [3, 7, 9], 28, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1),
    conv('conv 3x3 s2 asym pads, 3 -> 28 channels', [3, 11, 9], 28, [3, 3], [2, 2], [2, 0, 1, 1], [1, 1], 1),
    conv('conv 3x3 p0, 3 -> 28 channels, 8x11', [3, 8, 11], 28, [3, 3], [1, 1], [0, 0, 0, 0], [1, 1], 1),
    // More columns than output channels: chunks of input channels (2 + 1; 1 + 1 + 1, as ResNet's 7x7 stem).
    conv('conv 3x3 s2 p1, 3 -> 20 channels (chunks of 2 and 1)', [3, 9, 10], 20, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1),
    conv('conv 5x5 s2 p2, 3 -> 28 channels (chunks of 1)', [3, 11, 9], 28, [5, 5], [2, 2], [2, 2, 2, 2], [1, 1], 1),
  ];
  const forced = [conv3x3Cases[2], conv3x3Cases[7], kernelShapeCases[1]];
  for (const c of [...own, ...forced]) {
    const force = forced.includes(c);
    // Alpha-beta 2/1 (two passes, the second adding), flat (weight 1, factor 1), zbox (bound factors).
    for (const ri of [4, 6, 8]) {
      const title = `${c.label}: ${ruleLabel(rulesFor(c.make(new Rng(0)))[ri])}, signed, batch 3, accumulate${force ? ', columns forced' : ''}`;
      it(title, async () => {
        const viaColumns: string[] = [];
        await check(c, ri, 'signed', 3, true, title, { kernels: viaColumns, opts: force ? { redistribution: 'columns' } : {} });
        // One GEMM and one col2im per chunk of input channels and per pass.
        const made = c.make(new Rng(0)) as ConvLayer;
        const chunks = Math.ceil(made.inChannels / columnChunk(made));
        const col2ims = viaColumns.filter((k) => k === 'conv_col2im').length;
        expect(col2ims).toBeGreaterThan(0);
        expect(col2ims % chunks).toBe(0);
        expect(viaColumns.filter((k) => k === 'conv_transpose').length).toBe(col2ims);
        if (force) return;
        const viaTransposed: string[] = [];
        await check(c, ri, 'signed', 3, true, title, { kernels: viaTransposed, opts: { redistribution: 'transposed' } });
        expect(viaTransposed).not.toContain('conv_col2im');
        // The same inputs through both paths: equal within float32 rounding.
        const p = prepare(c, 'signed', 3, title);
        const rule = rulesFor(p.layer)[ri];
        const prior = randn(rngFor(`${title} prior`), p.x.length);
        const run = async (redistribution: 'columns' | 'transposed') => {
          const op = await create(p.layer, { redistribution })(opContext(shared.ctx, p.layer, rule, c.shape, false, false, true));
          try {
            return await runOp(shared.ctx, op, c.shape, p.outShape, { x: p.x, relu: false, z: p.z, relOut: p.relOut, prior, accumulate: true, batch: 3 });
          } finally {
            op.destroy();
          }
        };
        expect(relL2(await run('columns'), await run('transposed'))).toBeLessThan(1e-6);
      });
    }
  }
});

describe('the redistribution\'s tile on a CPU adapter (CPU)', () => {
  it('is no taller than the plane, and where one block holds the plane or the reduction is short, has more blocks along n', () => {
    // ResNet-50 at batch 1: 56x56, 28x28 and 14x14 planes keep the wide block; 7x7 (49 rows) takes 2 quads x 4 rows.
    for (const rows of [3136, 784, 196, Infinity]) expect(transposedTile(2048, 512, 'cpu-subgroups', rows)).toMatchObject({ TX: 8, TY: 8, PQ: 4, TN: 32 });
    expect(transposedTile(2048, 512, 'cpu-subgroups', 49)).toEqual({ TX: 8, TY: 4, PQ: 2, TN: 32, BK: 16 });
    expect(transposedTile(2048, 512, 'cpu-subgroups', 20)).toMatchObject({ TY: 4, PQ: 1 });
    expect(transposedTile(2048, 512, 'cpu', 49)).toMatchObject({ TY: 4, PQ: 2 });
    // A short reduction (a 1x1 layer's) over a small plane: at most 4 rows of threads; VGG's 3x3
    // layers and 56x56 planes keep 8.
    expect(transposedTile(512, 512, 'cpu-subgroups', 784)).toEqual({ TX: 8, TY: 4, PQ: 4, TN: 32, BK: 16 });
    expect(transposedTile(4608, 512, 'cpu-subgroups', 196)).toMatchObject({ TY: 8, PQ: 4 });
    expect(transposedTile(128, 256, 'cpu-subgroups', 3136)).toMatchObject({ TY: 8, PQ: 4 });
    // Fewer than 64 columns, or a GPU: the forward's tile, whatever the rows.
    expect(transposedTile(2048, 32, 'cpu-subgroups', 49)).toEqual(transposedTile(2048, 32, 'cpu-subgroups'));
    expect(transposedTile(2048, 512, 'gpu', 49)).toEqual(transposedTile(2048, 512, 'gpu'));
  });
});

describe('stride phases of the transposed convolution (CPU)', () => {
  it('each input row gets exactly the taps whose offset is a multiple of the stride', () => {
    let checked = 0;
    for (let size = 1; size <= 9; size++) {
      for (let kernel = 1; kernel <= 5; kernel++) {
        for (let stride = 1; stride <= 4; stride++) {
          for (let pad = 0; pad <= 3; pad++) {
            for (let dil = 1; dil <= 3; dil++) {
              const phases = axisPhases(size, kernel, stride, pad, dil);
              expect(phases.reduce((a, ph) => a + ph.count, 0)).toBe(size);
              for (let i = 0; i < size; i++) {
                const ph = phases[i % stride];
                expect(ph.start).toBe(i % stride);
                const taps = Array.from({ length: ph.taps }, (_, a) => ph.k0 + a * ph.step);
                const want = Array.from({ length: kernel }, (_, k) => k).filter((k) => (i + pad - k * dil) % stride === 0);
                expect(taps, `size ${size} kernel ${kernel} stride ${stride} pad ${pad} dil ${dil} row ${i}`).toEqual(want);
                checked++;
              }
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});

// ---------------------------------------------------------------------------------------------
// The tests can tell the rules and plans apart
// ---------------------------------------------------------------------------------------------

describe('the checks are discriminating', () => {
  it('the reference rules differ from one another on these layers', () => {
    const c = conv3x3Cases[1];
    const p = prepare(c, 'signed', 1, 'discriminating');
    const rules = rulesFor(p.layer);
    const rel = rules.map((r) => referenceLayerRelevance(p.layer, r, p.actual, c.shape, f64(p.z), f64(p.relOut), 1));
    for (let a = 0; a < rules.length; a++) {
      expect(rel[a].some((v) => v !== 0), ruleLabel(rules[a])).toBe(true);
      for (let b = 0; b < a; b++) {
        // zplus and alpha-beta 1/0 are the same rule (lrp-rules.md).
        if (a === 3 && b === 2) {
          expect(relL2(rel[a], rel[b])).toBeLessThan(1e-12);
          continue;
        }
        expect(relL2(rel[a], rel[b]), `${ruleLabel(rules[a])} vs ${ruleLabel(rules[b])}`).toBeGreaterThan(1e-2);
      }
    }
  });

  it('the ReLU view matters: the reference on the signed values differs', () => {
    const c = conv3x3Cases[0];
    const p = prepare(c, 'relu-view', 1, 'relu matters');
    const rule = rulesFor(p.layer)[4];
    const viewed = referenceLayerRelevance(p.layer, rule, p.actual, c.shape, f64(p.z), f64(p.relOut), 1);
    const signed = referenceLayerRelevance(p.layer, rule, f64(p.x), c.shape, f64(p.z), f64(p.relOut), 1);
    expect(relL2(signed, viewed)).toBeGreaterThan(0.05);
  });

  for (const c of [conv3x3Cases[2], denseCases[0]]) {
    it(`${c.label}: the nonneg plan on signed inputs is detected as wrong (alpha-beta 2/1, gamma)`, async () => {
      const { ctx } = shared;
      const p = prepare(c, 'signed', 1, `${c.label} wrong plan`);
      for (const ri of [4, 5]) {
        const rule = rulesFor(p.layer)[ri];
        const want = referenceLayerRelevance(p.layer, rule, p.actual, c.shape, f64(p.z), f64(p.relOut), 1);
        // Claims the input is >= 0 although it is not: the z - p shortcut and the dropped x- terms.
        const op = await create(p.layer)(opContext(ctx, p.layer, rule, c.shape, false, true));
        try {
          const got = await runOp(ctx, op, c.shape, p.outShape, {
            x: p.x, relu: false, z: p.z, relOut: p.relOut, prior: new Float32Array(p.x.length), accumulate: false, batch: 1,
          });
          expect(relL2(got, want), ruleLabel(rule)).toBeGreaterThan(0.05);
        } finally {
          op.destroy();
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The z - p shortcut: how much float32 precision it costs
// ---------------------------------------------------------------------------------------------

describe('alpha-beta on inputs >= 0: n = z - p from the stored output', () => {
  // A layer whose outputs are dominated by positive contributions: mostly positive weights and a
  // positive bias, so p_j is many times |n_j| and z_j - p_j cancels most of its digits.
  function positiveHeavy(label: string): LayerCase {
    return {
      label, shape: [8, 9, 9],
      make: (rng) => {
        const fanIn = 8 * 9;
        const w = randn(rng, 6 * fanIn, Math.sqrt(2 / fanIn));
        // 1 weight in 12 keeps its sign, the rest are made positive: n_j is a few small terms.
        for (let i = 0; i < w.length; i++) if (i % 12 !== 0) w[i] = Math.abs(w[i]);
        return {
          kind: 'conv', name: label, ...io1, inChannels: 8, outChannels: 6, kernel: [3, 3], stride: [1, 1],
          pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1, weight: w, bias: Float32Array.from({ length: 6 }, (_, c) => 2 + c),
        };
      },
    };
  }

  it('measured against the two-GEMM plan on the same data', async () => {
    const { ctx } = shared;
    const c = positiveHeavy('positive-heavy conv');
    // Stored >= 0 (no ReLU view): the signed plan is valid too, as x- = 0, and computes n directly.
    const p = prepare(c, 'nonneg', 1, 'positive heavy');
    const rule = { rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: 1e-6 } as const;
    const want = referenceLayerRelevance(p.layer, rule, p.actual, c.shape, f64(p.z), f64(p.relOut), 1);
    // The conditioning of z - p: p_j / |n_j| in float64.
    const m = linearMap(p.layer, c.shape);
    const pj = Float64Array.from(m.bias, (b) => Math.max(b, 0));
    const nj = Float64Array.from(m.bias, (b) => Math.min(b, 0));
    for (let t = 0; t < m.inIdx.length; t++) {
      const v = p.actual[m.inIdx[t]] * m.weight[m.wIdx[t]];
      if (v > 0) pj[m.outIdx[t]] += v; else nj[m.outIdx[t]] += v;
    }
    const ratios = Array.from(pj, (v, j) => v / Math.abs(nj[j])).filter(Number.isFinite).sort((a, b) => a - b);
    const median = ratios[ratios.length >> 1];

    const errs: Record<string, number> = {};
    for (const [plan, nonneg] of [['z - p shortcut', true], ['two GEMMs', false]] as const) {
      const op = await createConvBackward(opContext(ctx, p.layer, rule, c.shape, false, nonneg));
      try {
        const got = await runOp(ctx, op, c.shape, p.outShape, {
          x: p.x, relu: false, z: p.z, relOut: p.relOut, prior: new Float32Array(p.x.length), accumulate: false, batch: 1,
        });
        errs[plan] = relL2(got, want);
      } finally {
        op.destroy();
      }
    }
    const bound = shortcutBound(p.layer, c.shape, p.actual, p.z, p.relOut, 1, rule, want, 4);
    console.log(`positive-heavy conv: p/|n| median ${median.toFixed(0)}, max ${ratios[ratios.length - 1].toExponential(1)}; `
      + `rel L2 with the z - p shortcut ${errs['z - p shortcut'].toExponential(2)} (bound ${bound.toExponential(2)}), `
      + `with two GEMMs ${errs['two GEMMs'].toExponential(2)}`);
    expect(median).toBeGreaterThan(20);
    // The two-GEMM plan computes n directly: no cancellation, the usual tolerance.
    expect(errs['two GEMMs']).toBeLessThanOrEqual(TOL);
    expect(errs['z - p shortcut']).toBeLessThanOrEqual(TOL + bound);
  });
});
