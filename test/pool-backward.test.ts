// The pooling, LRN, ReLU, concat, add and times-input backward kernels against the float64 CPU
// relevance reference, at batch 1 and 3, with ReLU-view inputs and ACCUMULATE.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { inferShape } from '../src/graph/builder.ts';
import type { Layer, Pads4, Pair, Shape } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import type { BackwardIO, BackwardOp, BackwardOpContext } from '../src/lrp/backward-op.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import type { LayerRule } from '../src/lrp/rule-spec.ts';
import { createAdd, createConcatBackward, createPassBackward, createReluBackward, createTimesInput, isPassThrough } from '../src/lrp/ops/elementwise.ts';
import { createLrnBackward } from '../src/lrp/ops/lrn.ts';
import { createAvgPoolBackward, createMaxPoolBackward, poolPhases } from '../src/lrp/ops/pool.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { referenceLayer } from './reference/forward.ts';
import { referenceConcatRelevance, referenceLayerRelevance } from './reference/relevance.ts';

const TOL = 1e-5;
const shared = useGpu();
const rng = new Rng(424242);
const io1 = { inputs: ['x'], output: 'y' };

function randn(n: number, std = 1, shift = 0): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  for (let i = 0; i < n; i++) a[i] += shift;
  return a;
}

/** Values on a coarse grid (multiples of 0.5): exact ties in nearly every pooling window. */
function coarse(n: number, shift = 0): Float32Array {
  return randn(n, 1, shift).map((v) => Math.round(v * 2) / 2);
}

const storage = (): GPUBufferUsageFlags => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
const upload = (ctx: GpuContext, data: Float32Array, label: string): GPUBuffer => ctx.upload(data, label, storage());
const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);
const relu64 = (a: Float64Array): Float64Array => a.map((v) => Math.max(v, 0));
const asF32 = (a: Float64Array): Float32Array => Float32Array.from(a);

interface RunSpec {
  inputs: { data: Float32Array; shape: Shape; relu: boolean }[];
  /** The layer's stored output (as the forward pass left it). */
  output: Float32Array;
  relOut: Float32Array;
  /** Per input: what relIn holds before the op (accumulated into when accumulate is set). */
  prior: Float32Array[];
  accumulate: boolean[];
  batch: number;
}

/** Runs one backward op on uploaded buffers and reads every relIn back. */
async function runOp(ctx: GpuContext, op: BackwardOp, s: RunSpec): Promise<Float32Array[]> {
  const buffers: GPUBuffer[] = [];
  const up = (d: Float32Array, label: string): GPUBuffer => {
    const b = upload(ctx, d, label);
    buffers.push(b);
    return b;
  };
  try {
    const relIn = s.prior.map((p, i) => up(p, `relIn ${i}`));
    const io: BackwardIO = {
      inputs: s.inputs.map((x, i) => ({ buffer: up(x.data, `x ${i}`), shape: x.shape, relu: x.relu })),
      output: { buffer: up(s.output, 'output'), shape: [], relu: false },
      relOut: up(s.relOut, 'relOut'),
      relIn,
      accumulate: s.accumulate,
      scratch: () => { throw new Error('no scratch expected'); },
    };
    await ctx.run(op.layer.name, op.dispatches(s.batch, io));
    return await Promise.all(relIn.map((b, i) => ctx.readF32(b, 0, s.prior[i].length, `relIn ${i}`)));
  } finally {
    buffers.forEach((b) => b.destroy());
    op.destroy();
  }
}

function opContext(ctx: GpuContext, layer: Layer, rule: LayerRule | null, inputs: { shape: Shape; relu: boolean }[]): BackwardOpContext {
  const outShape = inferShape(layer, inputs.map((i) => i.shape));
  return { ctx, weights: new WeightStore(ctx), accumulate: inputs.map(() => false), layer, rule, inputs, nonneg: inputs.map((i) => i.relu), output: { shape: outShape, relu: false }, outShape };
}

interface SingleCase {
  label: string;
  layer: Layer;
  shape: Shape;
  rules: LayerRule[];
  /** Input values for a case: coarse values give ties. */
  values: (n: number, relu: boolean) => Float32Array;
}

/**
 * One single-input layer under one rule: reference on the CPU from the same float32 values the GPU
 * sees (input, stored output, relOut), then the GPU op, compared by relative L2 error.
 */
async function checkSingle(
  c: SingleCase, rule: LayerRule, relu: boolean, batch: number, accumulate: boolean,
  create: (ctx: BackwardOpContext) => Promise<BackwardOp>,
): Promise<void> {
  const { ctx } = shared;
  const nIn = batch * numel(c.shape);
  const stored = c.values(nIn, relu);
  const actual = relu ? relu64(f64(stored)) : f64(stored);
  // The stored output as the forward pass would leave it, rounded to float32 like the GPU's.
  const z = asF32(referenceLayer(c.layer, [actual], [c.shape], batch));
  const relOut = randn(z.length);
  const prior = accumulate ? randn(nIn) : new Float32Array(nIn).fill(1234.5);
  const want = referenceLayerRelevance(c.layer, rule, actual, c.shape, f64(z), f64(relOut), batch);
  if (accumulate) want.forEach((v, i) => { want[i] = v + prior[i]; });
  const op = await create(opContext(ctx, c.layer, rule, [{ shape: c.shape, relu }]));
  const [got] = await runOp(ctx, op, { inputs: [{ data: stored, shape: c.shape, relu }], output: z, relOut, prior: [prior], accumulate: [accumulate], batch });
  const err = relL2(got, want);
  expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(TOL);
}

const maxPool = (kernel: Pair, stride: Pair, pads: Pads4, ceilMode: boolean, dilation: Pair = [1, 1]): Layer =>
  ({ kind: 'maxpool', name: 'mp', ...io1, kernel, stride, pads, dilation, ceilMode });
const avgPool = (kernel: Pair, stride: Pair, pads: Pads4, ceilMode: boolean, countIncludePad: boolean): Layer =>
  ({ kind: 'avgpool', name: 'ap', ...io1, kernel, stride, pads, ceilMode, countIncludePad });

// ReLU-view cases shift the values down so that many inputs, and whole windows, are negative.
const tiedValues = (n: number, relu: boolean): Float32Array => coarse(n, relu ? -0.5 : 0);
const smoothValues = (n: number, relu: boolean): Float32Array => randn(n, 1, relu ? -0.3 : 0);

const winnerOrProportional: LayerRule[] = [{ rule: 'winner' }, { rule: 'proportional', stabilizer: 1e-3 }];
const maxCases: SingleCase[] = [
  // Windows that tile the input (one pass over the windows), and the same pool where they do not.
  { label: '2x2 s2', layer: maxPool([2, 2], [2, 2], [0, 0, 0, 0], false), shape: [3, 8, 8], rules: winnerOrProportional, values: tiedValues },
  { label: '3x2 s3x2 (tiled, rectangular)', layer: maxPool([3, 2], [3, 2], [0, 0, 0, 0], false), shape: [2, 9, 8], rules: winnerOrProportional, values: tiedValues },
  { label: '2x2 s2 on an odd size (a row in no window)', layer: maxPool([2, 2], [2, 2], [0, 0, 0, 0], false), shape: [2, 7, 8], rules: winnerOrProportional, values: tiedValues },
  { label: '3x3 s2 ceil (overlapping)', layer: maxPool([3, 3], [2, 2], [0, 0, 0, 0], true), shape: [2, 8, 9], rules: winnerOrProportional, values: tiedValues },
  { label: '3x3 s2 p1 asym pads ceil', layer: maxPool([3, 3], [2, 2], [1, 0, 0, 1], true), shape: [2, 10, 7], rules: winnerOrProportional, values: tiedValues },
  { label: '3x3 s1 p1 (heavily overlapping)', layer: maxPool([3, 3], [1, 1], [1, 1, 1, 1], false), shape: [2, 6, 7], rules: winnerOrProportional, values: tiedValues },
  { label: '2x3 s1x2 dilation 2 pads', layer: maxPool([2, 3], [1, 2], [1, 1, 0, 1], false, [2, 2]), shape: [2, 9, 11], rules: winnerOrProportional, values: tiedValues },
  // ResNet's stem pool (4 phases of disjoint windows), and fewer windows along an axis than its period.
  { label: '3x3 s2 p1 (ResNet)', layer: maxPool([3, 3], [2, 2], [1, 1, 1, 1], false), shape: [3, 12, 11], rules: winnerOrProportional, values: tiedValues },
  { label: '3x3 s1 on 3x6 (one window row, period 3)', layer: maxPool([3, 3], [1, 1], [0, 0, 0, 0], false), shape: [2, 3, 6], rules: winnerOrProportional, values: tiedValues },
];

const avgRules: LayerRule[] = [{ rule: 'norm', stabilizer: 1e-2 }, { rule: 'flat', stabilizer: 1e-6 }, { rule: 'gradient' }];
const avgCases: SingleCase[] = [
  { label: '2x2 s2', layer: avgPool([2, 2], [2, 2], [0, 0, 0, 0], false, false), shape: [3, 8, 6], rules: avgRules, values: smoothValues },
  { label: '3x3 s2 p1 include pad', layer: avgPool([3, 3], [2, 2], [1, 1, 1, 1], false, true), shape: [2, 7, 8], rules: avgRules, values: smoothValues },
  { label: '3x3 s2 p1 exclude pad', layer: avgPool([3, 3], [2, 2], [1, 1, 1, 1], false, false), shape: [2, 7, 8], rules: avgRules, values: smoothValues },
  { label: '3x2 s2 asym pads ceil include pad', layer: avgPool([3, 2], [2, 2], [1, 0, 0, 1], true, true), shape: [2, 8, 9], rules: avgRules, values: smoothValues },
  { label: '3x3 s2 ceil exclude pad', layer: avgPool([3, 3], [2, 2], [0, 0, 0, 0], true, false), shape: [2, 8, 8], rules: avgRules, values: smoothValues },
  { label: '3x3 s1 p1 (overlapping)', layer: avgPool([3, 3], [1, 1], [1, 1, 1, 1], false, false), shape: [2, 5, 6], rules: avgRules, values: smoothValues },
  { label: 'global', layer: { kind: 'globalavgpool', name: 'gap', ...io1 }, shape: [5, 6, 7], rules: avgRules, values: smoothValues },
];

const ruleLabel = (r: LayerRule): string => r.rule;
// Batch 1 overwrites relIn, batch 3 accumulates into it: both paths, both batch sizes.
const RUNS: [number, boolean][] = [[1, false], [3, true]];

describe('maxpool backward', () => {
  it('the tie inputs really tie: most windows have several maxima', () => {
    const layer = maxCases[3].layer;
    const shape = maxCases[3].shape;
    const x = f64(tiedValues(numel(shape), false));
    const z = referenceLayer(layer, [x], [shape], 1);
    // Winner of a window that ties gets all of R_j: with R = 1 everywhere the relevance is integral.
    const r = referenceLayerRelevance(layer, { rule: 'winner' }, x, shape, z, new Float64Array(z.length).fill(1), 1);
    expect(r.every((v) => Number.isInteger(v))).toBe(true);
    expect(r.reduce((a, b) => a + b, 0)).toBe(z.length);
  });

  for (const c of maxCases) {
    for (const rule of c.rules) {
      for (const relu of [false, true]) {
        for (const [batch, acc] of RUNS) {
          it(`${c.label} ${ruleLabel(rule)}${relu ? ', ReLU view' : ''}, batch ${batch}${acc ? ', accumulate' : ''}`, async () => {
            await checkSingle(c, rule, relu, batch, acc, createMaxPoolBackward);
          });
        }
      }
    }
  }

  it('windows that tile the input take one pass over the windows; others phases of disjoint windows', async () => {
    const { ctx } = shared;
    const passes = async (c: SingleCase) => {
      const op = await createMaxPoolBackward(opContext(ctx, c.layer, { rule: 'winner' }, [{ shape: c.shape, relu: false }]));
      op.destroy();
      return op.passes;
    };
    expect(await passes(maxCases[0])).toMatch(/windows, which tile the input/);
    expect(await passes(maxCases[1])).toMatch(/windows, which tile the input/);
    expect(await passes(maxCases[2])).toMatch(/^1 phase of disjoint windows/);
    expect(await passes(maxCases[3])).toMatch(/^4 phases of disjoint windows/);
    expect(await passes(maxCases[5])).toMatch(/^9 phases of disjoint windows/);
    expect(await passes(maxCases[7])).toMatch(/^4 phases of disjoint windows/);
    expect(await passes(maxCases[8])).toMatch(/^3 phases of disjoint windows/);
  });

  it('a phase\'s windows are disjoint, and the phases cover every window once (CPU)', () => {
    for (let out = 1; out <= 9; out++) {
      for (let k = 1; k <= 5; k++) {
        for (let stride = 1; stride <= 3; stride++) {
          for (const dil of [1, 2]) {
            const { period, phases } = poolPhases(out, k, stride, dil);
            const extent = (k - 1) * dil + 1;
            // Windows period apart do not overlap; one stride closer they would (the period is the least).
            expect(period * stride).toBeGreaterThanOrEqual(extent);
            expect((period - 1) * stride).toBeLessThan(extent);
            const seen = phases.flatMap(({ start, count }) => Array.from({ length: count }, (_, q) => start + q * period)).sort((a, b) => a - b);
            expect(seen).toEqual(Array.from({ length: out }, (_, j) => j));
          }
        }
      }
    }
  });

  it('winner on an all-tied relu-view window picks the first element', async () => {
    const { ctx } = shared;
    const layer = maxPool([2, 2], [2, 2], [0, 0, 0, 0], false);
    // One 2x4 plane: window 0 = {-1, -2, -3, -4} (all 0 after the ReLU), window 1 = {5, 5, 5, 5}.
    const x = Float32Array.of(-1, -2, 5, 5, -3, -4, 5, 5);
    const op = await createMaxPoolBackward(opContext(ctx, layer, { rule: 'winner' }, [{ shape: [1, 2, 4], relu: true }]));
    const [got] = await runOp(ctx, op, {
      inputs: [{ data: x, shape: [1, 2, 4], relu: true }], output: Float32Array.of(0, 5), relOut: Float32Array.of(7, 11),
      prior: [new Float32Array(8)], accumulate: [false], batch: 1,
    });
    expect(Array.from(got)).toEqual([7, 0, 11, 0, 0, 0, 0, 0]);
  });
});

describe('avgpool backward', () => {
  for (const c of avgCases) {
    for (const rule of c.rules) {
      for (const relu of [false, true]) {
        for (const [batch, acc] of RUNS) {
          it(`${c.label} ${ruleLabel(rule)}${relu ? ', ReLU view' : ''}, batch ${batch}${acc ? ', accumulate' : ''}`, async () => {
            await checkSingle(c, rule, relu, batch, acc, createAvgPoolBackward);
          });
        }
      }
    }
  }
});

describe('lrn backward', () => {
  const lrnCases: SingleCase[] = [
    { label: 'size 5', layer: { kind: 'lrn', name: 'lrn5', ...io1, size: 5, alpha: 0.5, beta: 0.75, bias: 1 }, shape: [8, 4, 5], rules: [{ rule: 'gradient' }, { rule: 'pass' }], values: smoothValues },
    { label: 'size 4 (even)', layer: { kind: 'lrn', name: 'lrn4', ...io1, size: 4, alpha: 0.8, beta: 0.6, bias: 2 }, shape: [6, 3, 3], rules: [{ rule: 'gradient' }], values: smoothValues },
    { label: 'size 5, AlexNet constants', layer: { kind: 'lrn', name: 'lrnA', ...io1, size: 5, alpha: 1e-4, beta: 0.75, bias: 1 }, shape: [7, 3, 4], rules: [{ rule: 'gradient' }], values: (n) => randn(n, 20) },
  ];
  for (const c of lrnCases) {
    for (const rule of c.rules) {
      for (const relu of [false, true]) {
        for (const [batch, acc] of RUNS) {
          it(`${c.label} ${ruleLabel(rule)}${relu ? ', ReLU view' : ''}, batch ${batch}${acc ? ', accumulate' : ''}`, async () => {
            await checkSingle(c, rule, relu, batch, acc, createLrnBackward);
          });
        }
      }
    }
  }

  it('the gradient differs from pass (the derivative is not the identity here)', () => {
    const c = lrnCases[0];
    const x = f64(randn(numel(c.shape)));
    const z = referenceLayer(c.layer, [x], [c.shape], 1);
    const g = f64(randn(z.length));
    expect(relL2(referenceLayerRelevance(c.layer, { rule: 'gradient' }, x, c.shape, z, g, 1), g)).toBeGreaterThan(0.05);
  });
});

describe('relu backward', () => {
  const relu: Layer = { kind: 'relu', name: 'relu', ...io1 };
  const c: SingleCase = {
    label: 'relu', layer: relu, shape: [3, 5, 7], rules: [{ rule: 'gradient' }, { rule: 'guided' }, { rule: 'pass' }],
    // Exact zeros too: [0 > 0] is false.
    values: (n) => coarse(n),
  };
  for (const rule of c.rules) {
    for (const view of [false, true]) {
      for (const [batch, acc] of RUNS) {
        it(`${ruleLabel(rule)}${view ? ', input read as a ReLU view' : ''}, batch ${batch}${acc ? ', accumulate' : ''}`, async () => {
          await checkSingle(c, rule, view, batch, acc, createReluBackward);
        });
      }
    }
  }

  it('pass is a pass-through: no dispatch when relIn aliases relOut', async () => {
    const { ctx } = shared;
    for (const layer of [relu, { kind: 'flatten', name: 'flatten', ...io1 } as Layer, { kind: 'identity', name: 'id', ...io1 } as Layer]) {
      const op = layer.kind === 'relu'
        ? await createReluBackward(opContext(ctx, layer, { rule: 'pass' }, [{ shape: [2, 3, 4], relu: false }]))
        : await createPassBackward(opContext(ctx, layer, null, [{ shape: [2, 3, 4], relu: false }]));
      expect(isPassThrough(op)).toBe(true);
      const buf = upload(ctx, new Float32Array(24), 'aliased');
      const io: BackwardIO = {
        inputs: [{ buffer: buf, shape: [2, 3, 4], relu: false }], output: { buffer: buf, shape: [2, 3, 4], relu: false },
        relOut: buf, relIn: [buf], accumulate: [false], scratch: () => buf,
      };
      expect(op.dispatches(1, io)).toEqual([]);
      expect(() => op.dispatches(1, { ...io, accumulate: [true] })).toThrow(/accumulate/);
      buf.destroy();
      op.destroy();
    }
  });

  it('flatten pass copies (and accumulates) into a separate buffer', async () => {
    const { ctx } = shared;
    const layer: Layer = { kind: 'flatten', name: 'flatten', ...io1 };
    for (const [batch, acc] of RUNS) {
      const n = batch * 60;
      const relOut = randn(n);
      const prior = randn(n);
      const op = await createPassBackward(opContext(ctx, layer, null, [{ shape: [3, 4, 5], relu: true }]));
      const [got] = await runOp(ctx, op, {
        inputs: [{ data: randn(n), shape: [3, 4, 5], relu: true }], output: randn(n), relOut, prior: [prior], accumulate: [acc], batch,
      });
      expect(relL2(got, acc ? relOut.map((v, i) => v + prior[i]) : relOut)).toBeLessThanOrEqual(1e-7);
    }
  });
});

describe('concat split', () => {
  const shapes: Shape[] = [[2, 4, 5], [3, 4, 5], [1, 4, 5]];
  const layer: Layer = { kind: 'concat', name: 'concat', inputs: ['a', 'b', 'c'], output: 'y' };
  for (const batch of [1, 3]) {
    it(`3 inputs, batch ${batch}, the middle one accumulating`, async () => {
      const { ctx } = shared;
      const accumulate = [false, true, false];
      const outShape = inferShape(layer, shapes);
      const relOut = randn(batch * numel(outShape));
      const prior = shapes.map((s) => randn(batch * numel(s)));
      const want = referenceConcatRelevance(f64(relOut), shapes, batch).map((r, i) => (accumulate[i] ? r.map((v, j) => v + prior[i][j]) : r));
      const op = await createConcatBackward(opContext(ctx, layer, null, shapes.map((shape) => ({ shape, relu: false }))));
      const got = await runOp(ctx, op, {
        inputs: shapes.map((shape) => ({ data: randn(batch * numel(shape)), shape, relu: false })),
        output: relOut, relOut, prior, accumulate, batch,
      });
      got.forEach((g, i) => expect(relL2(g, want[i])).toBeLessThanOrEqual(1e-7));
    });
  }
});

describe('add and times-input helpers', () => {
  it('add sums into the destination, or copies', async () => {
    const { ctx } = shared;
    const add = await createAdd(ctx);
    const n = 1000;
    const a = randn(n);
    const b = randn(n);
    const src = upload(ctx, a, 'src');
    const dst = upload(ctx, b, 'dst');
    await ctx.run('add', [add.dispatch(n, src, dst)]);
    expect(relL2(await ctx.readF32(dst, 0, n, 'dst'), a.map((v, i) => v + b[i]))).toBeLessThanOrEqual(1e-7);
    await ctx.run('copy', [add.dispatch(n - 10, src, dst, { accumulate: false })]);
    const got = await ctx.readF32(dst, 0, n, 'dst');
    expect(Array.from(got.subarray(0, n - 10))).toEqual(Array.from(a.subarray(0, n - 10)));
    expect(got[n - 1]).toBeCloseTo(a[n - 1] + b[n - 1], 5);
    [src, dst].forEach((x) => x.destroy());
    add.destroy();
  });

  for (const view of [false, true]) {
    for (const [batch, acc] of RUNS) {
      it(`times-input${view ? ' of a ReLU view' : ''}, batch ${batch}${acc ? ', accumulate' : ''}`, async () => {
        const { ctx } = shared;
        const shape: Shape = [3, 6, 5];
        const n = batch * numel(shape);
        const x = randn(n);
        const g = randn(n);
        const prior = randn(n);
        const kernel = await createTimesInput(ctx, { shape, relu: view });
        const xb = upload(ctx, x, 'x');
        const gb = upload(ctx, g, 'g');
        const ob = upload(ctx, prior, 'out');
        await ctx.run('times-input', [kernel.dispatch(batch, { buffer: xb, shape, relu: view }, gb, ob, { accumulate: acc })]);
        const want = Array.from(g, (v, i) => v * (view ? Math.max(x[i], 0) : x[i]) + (acc ? prior[i] : 0));
        expect(relL2(await ctx.readF32(ob, 0, n, 'out'), want)).toBeLessThanOrEqual(1e-7);
        [xb, gb, ob].forEach((b) => b.destroy());
        kernel.destroy();
      });
    }
  }
});
