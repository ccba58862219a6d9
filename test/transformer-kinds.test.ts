/**
 * The channels-last and token kinds (lrp-rules.md, "Modern CNNs and vision transformers") on the
 * GPU against the float64 reference (test/reference/forward.ts, relevance.ts): dense layers over
 * the last axis of rank-2 and rank-3 inputs (rows = N x the leading axes), transposes of rank 2,
 * 3 and 4 (one reading a ReLU view, one whose input fans out so its relevance adds), reshape
 * views and a layer scale along the last axis with a negative factor, at odd sizes (5×7) and batch
 * 3: every value forward, then every kind of composite and the gradient methods. On the CPU: the
 * importer's MatMul + Add (one dense layer with its bias), Transpose, Reshape and last-axis Mul
 * against an independent float64 evaluation of the ONNX graph.
 */
import { describe, expect, it } from 'vitest';
import { denseRowGroups } from '../src/forward/dense.ts';
import { ForwardModel } from '../src/forward/model.ts';
import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import type { GeluLayer, Graph, LayerNormLayer } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { canonize } from '../src/graph/canonize/index.ts';
import { permutationIsView } from '../src/graph/canonize/transpose-views.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { Rng } from '../src/graph/zoo.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { againstOracle } from './helpers/oracle-relevance.ts';
import { INT64, modelProto, node } from './helpers/onnx-writer.ts';
import { erf64, randomArray, referenceForward, referenceLayer } from './reference/forward.ts';
import { activationDerivative64, referenceLayerRelevance } from './reference/relevance.ts';

const gpu = useGpu();

function normalOf(rng: Rng) {
  return (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    if (std > 0) rng.fillNormal(a, std);
    return a;
  };
}

/**
 * x [6,5,7] → r0 (ReLU view) ─┬→ t1 [5,7,6] → d1 (dense 6→9) → r1 → d2 (9→6) → ls (last-axis scale) → t2 [6,5,7] ─┐
 *                              └──────────────────────────────────────────────────────────────────────────── res (add)
 * res → rs4 [2,3,5,7] → t4 (rank 4) [7,3,2,5] → rs [35,6] → d3 (6→4) → rs2 [5,7,4] → t3 [4,5,7] → gap → flatten → fc
 * No convolution: its relevance pipelines would be most of the test's compile time on lavapipe.
 */
function tokenGraph(seed: number): Graph {
  const normal = normalOf(new Rng(seed));
  const b = new GraphBuilder('tokens', 'x', [6, 5, 7]);
  const add = (l: Record<string, unknown> & { kind: string; name: string; inputs: string[] }) => b.add({ output: l.name, ...l } as LayerSpec);
  const dense = (name: string, input: string, i: number, o: number) =>
    add({ kind: 'dense', name, inputs: [input], inFeatures: i, outFeatures: o, weight: normal(i * o, Math.sqrt(2 / i)), bias: normal(o, 0.2) });
  add({ kind: 'relu', name: 'r0', inputs: ['x'] });
  add({ kind: 'transpose', name: 't1', inputs: ['r0'], perm: [1, 2, 0] });
  dense('d1', 't1', 6, 9);
  add({ kind: 'relu', name: 'r1', inputs: ['d1'] });
  dense('d2', 'r1', 9, 6);
  add({ kind: 'scale', name: 'ls', inputs: ['d2'], scale: Float32Array.from([0.5, -0.25, 1.5, 0.1, 2, 0.75]), lastAxis: true });
  add({ kind: 'transpose', name: 't2', inputs: ['ls'], perm: [2, 0, 1] });
  add({ kind: 'add', name: 'res', inputs: ['t2', 'r0'] });
  add({ kind: 'reshape', name: 'rs4', inputs: ['res'], shape: [2, 3, 5, 7] });
  add({ kind: 'transpose', name: 't4', inputs: ['rs4'], perm: [3, 1, 0, 2] });
  add({ kind: 'reshape', name: 'rs', inputs: ['t4'], shape: [35, 6] });
  dense('d3', 'rs', 6, 4);
  add({ kind: 'reshape', name: 'rs2', inputs: ['d3'], shape: [5, 7, 4] });
  add({ kind: 'transpose', name: 't3', inputs: ['rs2'], perm: [2, 0, 1] });
  add({ kind: 'globalavgpool', name: 'gap', inputs: ['t3'] });
  add({ kind: 'flatten', name: 'flat', inputs: ['gap'] });
  b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: 4, outFeatures: 5, weight: normal(20, 1), bias: normal(5, 0.2) });
  return b.build('logits');
}

const COMPOSITES: [string, unknown][] = [
  ['lrp-z', 'lrp-z'],
  ['lrp-epsilon', { rules: [{ layers: 'linear', rule: 'epsilon', epsilon: 0.25 }] }],
  ['lrp-alpha2beta1', 'lrp-alpha2beta1'],
  ['cmp-alpha2-flat', 'cmp-alpha2-flat'],
  ['zplus', { rules: [{ layers: 'linear', rule: 'zplus' }] }],
  ['gamma', { rules: [{ layers: 'dense', rule: 'gamma', gamma: 0.25 }] }],
  ['gradient', 'gradient'],
  ['gradient-x-input', 'gradient-x-input'],
  ['guided-backprop', 'guided-backprop'],
];

/** Every value forward, then every composite's relevance at the input, against the float64 reference. */
async function checkGraph(graph: Graph, N: number, targets: number[], seed: number, composites = COMPOSITES): Promise<string[]> {
  const x = randomArray(N * numel(graph.input.shape), seed);
  const ref = referenceForward(graph, x, N);
  const fm = await ForwardModel.create(gpu.ctx, graph);
  const acts = await fm.forward(Float32Array.from(x), N);
  const lines: string[] = [];
  try {
    for (const l of graph.layers) expect(relL2(await acts.read(l.output), ref.get(l.output)!), `forward ${l.name}`).toBeLessThanOrEqual(1e-6);
    for (const [name, spec] of composites) {
      const { err } = await againstOracle(fm, acts, graph, name, spec, x, N, targets);
      lines.push(`${name} ${err.toExponential(2)}`);
      expect(err, name).toBeLessThanOrEqual(1e-5);
    }
  } finally {
    acts.release();
    fm.destroy();
  }
  return lines;
}

describe('dense over the last axis, transposes, reshapes and a last-axis scale against the float64 reference', () => {
  it('the graph has what the test claims: dense layers on rank-3 and rank-2 inputs, a rank-4 transpose', () => {
    const g = tokenGraph(4);
    expect(g.values.get('t1')!.shape).toEqual([5, 7, 6]);
    expect(g.values.get('d1')!.shape).toEqual([5, 7, 9]);
    expect(g.values.get('t4')!.shape).toEqual([7, 3, 2, 5]);
    expect(g.values.get('d3')!.shape).toEqual([35, 4]);
  });

  it('the rows of a dense layer over a large token map stay within the workgroup grid, or fail naming the layer', () => {
    expect(denseRowGroups('d', 8 * 65535, 8)).toBe(65535);
    expect(() => denseRowGroups('blocks.0.mlp', 8 * 65535 + 1, 8)).toThrow(/layer 'blocks\.0\.mlp': 524281 rows .* over the 65535 a dimension allows; use a smaller batch/);
  });

  it('forward every value; relevance under every composite and method', async () => {
    // Seeds whose alpha-beta denominators are not near zero (with a convolution first, graph 3 and
    // input 5 had one: 6e-5 under alpha2beta1 from float32 rounding alone).
    const lines = await checkGraph(tokenGraph(4), 3, [4, 0, 2], 6);
    console.log(`token graph, relative L2 vs float64: ${lines.join(', ')}`);
  });
});

/**
 * LayerNorm and GELU: x [70,5,7] → t1 [5,7,70] → r1 (ReLU view) → ln1 (n = 70, past
 * the kernel's 64 threads) → d1 (dense 70→9) → g1 (GELU, Erf) → ln2 (n = 9) → t2 [9,5,7] → g2 (GELU,
 * tanh) → gap [9,1,1] → ConvNeXt's head LayerNorm2d: t3 [1,1,9] → ln3 → t4 [9,1,1] → flatten → fc.
 */
function normGraph(seed: number): Graph {
  const rng = new Rng(seed);
  const normal = normalOf(rng);
  const b = new GraphBuilder('norms', 'x', [70, 5, 7]);
  const add = (l: Record<string, unknown> & { kind: string; name: string; inputs: string[] }) => b.add({ output: l.name, ...l } as LayerSpec);
  const ln = (name: string, input: string, n: number) => {
    const scale = normal(n, 0.5);
    for (let i = 0; i < n; i++) scale[i] += 1;
    add({ kind: 'layernorm', name, inputs: [input], scale, bias: normal(n, 0.3), epsilon: 1e-5 });
  };
  add({ kind: 'transpose', name: 't1', inputs: ['x'], perm: [1, 2, 0] });
  add({ kind: 'relu', name: 'r1', inputs: ['t1'] });
  ln('ln1', 'r1', 70);
  add({ kind: 'dense', name: 'd1', inputs: ['ln1'], inFeatures: 70, outFeatures: 9, weight: normal(630, Math.sqrt(1 / 70)), bias: normal(9, 0.2) });
  add({ kind: 'gelu', name: 'g1', inputs: ['d1'], approximate: 'none' });
  ln('ln2', 'g1', 9);
  add({ kind: 'transpose', name: 't2', inputs: ['ln2'], perm: [2, 0, 1] });
  add({ kind: 'gelu', name: 'g2', inputs: ['t2'], approximate: 'tanh' });
  add({ kind: 'globalavgpool', name: 'gap', inputs: ['g2'] });
  add({ kind: 'transpose', name: 't3', inputs: ['gap'], perm: [1, 2, 0] });
  ln('ln3', 't3', 9);
  add({ kind: 'transpose', name: 't4', inputs: ['ln3'], perm: [2, 0, 1] });
  add({ kind: 'flatten', name: 'flat', inputs: ['t4'] });
  b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: 9, outFeatures: 5, weight: normal(45, 0.5), bias: normal(5, 0.2) });
  return b.build('logits');
}

describe('GELU in the float64 reference', () => {
  it('erf64 matches tabulated values', () => {
    for (const [x, erf] of [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276]]) {
      expect(erf64(x)).toBeCloseTo(erf, 14);
      expect(erf64(-x)).toBeCloseTo(-erf, 14);
    }
  });

  it("each form's derivative matches central differences of its forward", () => {
    const h = 1e-6;
    for (const approximate of ['none', 'tanh'] as const) {
      const l: GeluLayer = { kind: 'gelu', name: 'g', inputs: ['x'], output: 'y', approximate };
      const f = (v: number) => referenceLayer(l, [Float64Array.of(v)], [[1]], 1)[0];
      for (const v of [-6.2, -3.1, -1.3, -0.4, -0.02, 0.03, 0.5, 1.7, 4.4]) {
        expect(activationDerivative64(l, v), `${approximate} at ${v}`).toBeCloseTo((f(v + h) - f(v - h)) / (2 * h), 7);
      }
    }
  });
});

describe('LayerNorm (and GELU) over the last axis', () => {
  const layer: LayerNormLayer = {
    kind: 'layernorm', name: 'ln', inputs: ['x'], output: 'y', epsilon: 1e-3,
    scale: Float32Array.from([1.5, -0.5, 0.75, 2, 1]), bias: Float32Array.from([0.1, -0.2, 0.3, 0, 0.5]),
  };
  const x = Float64Array.from([0.3, -1.2, 2.1, 0.05, -0.7, 1.1, 0.4, -0.3, 0.9, 2.2]);
  const fwd = (v: Float64Array) => referenceLayer(layer, [v], [[5]], 2);

  it("the reference's gradient matches central differences of its forward", () => {
    const y = fwd(x);
    const R = Float64Array.from([0.2, -1, 0.5, 1.3, -0.4, 0.7, 0.1, -0.6, 1.1, 0.3]);
    const got = referenceLayerRelevance(layer, { rule: 'gradient' }, x, [5], y, R, 2);
    const h = 1e-6;
    for (let i = 0; i < x.length; i++) {
      const [a, b] = [Float64Array.from(x), Float64Array.from(x)];
      a[i] += h;
      b[i] -= h;
      const ya = fwd(a);
      const yb = fwd(b);
      let d = 0;
      for (let j = 0; j < x.length; j++) d += (R[j] * (ya[j] - yb[j])) / (2 * h);
      expect(got[i], `x${i}`).toBeCloseTo(d, 7);
    }
  });

  it("the reference's norm rule conserves relevance with beta = 0 (the deviation held constant)", () => {
    const l0 = { ...layer, bias: new Float32Array(5) };
    const y = referenceLayer(l0, [x], [[5]], 2);
    const R = y.map((v) => v * 0.7);
    const got = referenceLayerRelevance(l0, { rule: 'norm', stabilizer: 1e-12 }, x, [5], y, R, 2);
    for (const r of [0, 1]) {
      const sum = (a: Float64Array) => a.subarray(5 * r, 5 * r + 5).reduce((p, q) => p + q, 0);
      expect(sum(got)).toBeCloseTo(sum(R), 9);
    }
  });

  it('the graph has what the test claims: a 70-wide row read through a ReLU, ConvNeXt\'s 1×1×C head', () => {
    const g = normGraph(2);
    expect(g.values.get('r1')!.shape).toEqual([5, 7, 70]);
    expect(g.values.get('ln3')!.shape).toEqual([1, 1, 9]);
  });

  it('forward every value; relevance under z, alpha2beta1, the gradients, and with layernorm: pass', async () => {
    // The linear rules' variety is the token graph's; here what reaches LayerNorm and GELU: the
    // norm rule (z and alpha-beta upstream), pass, and the gradients (fewer pipelines to compile).
    const lines = await checkGraph(normGraph(2), 3, [1, 4, 0], 7, [
      ...COMPOSITES.filter(([n]) => ['lrp-z', 'lrp-alpha2beta1', 'gradient', 'gradient-x-input'].includes(n)),
      ['layernorm-pass', { rules: [{ layers: 'linear', rule: 'epsilon', epsilon: 0.25 }, { layers: 'layernorm', rule: 'pass' }] }],
    ]);
    console.log(`layernorm and gelu graph, relative L2 vs float64: ${lines.join(', ')}`);
  });
});

describe('transpose-views (canonizer)', () => {
  it('a permutation is a view exactly when the axes longer than 1 keep their order', () => {
    expect(permutationIsView([16, 1, 1], [1, 2, 0])).toBe(true);
    expect(permutationIsView([1, 1, 16], [2, 0, 1])).toBe(true);
    expect(permutationIsView([3, 1, 5], [1, 0, 2])).toBe(true);
    expect(permutationIsView([3, 1, 5], [2, 1, 0])).toBe(false);
    expect(permutationIsView([8, 8, 8], [1, 2, 0])).toBe(false);
    expect(permutationIsView([2, 1, 3, 1], [1, 3, 0, 2])).toBe(true);
  });

  it("ConvNeXt's head: the transposes around its LayerNorm become reshape views, the function kept", () => {
    const normal = normalOf(new Rng(41));
    const b = new GraphBuilder('head', 'x', [9, 1, 1]);
    b.add({ kind: 'transpose', name: 't1', inputs: ['x'], output: 't1', perm: [1, 2, 0] });
    b.add({ kind: 'layernorm', name: 'ln', inputs: ['t1'], output: 'ln', scale: normal(9, 1), bias: normal(9, 1), epsilon: 1e-6 });
    b.add({ kind: 'transpose', name: 't2', inputs: ['ln'], output: 't2', perm: [2, 0, 1] });
    b.add({ kind: 'flatten', name: 'flat', inputs: ['t2'], output: 'flat' });
    const g = b.build('flat');
    const { graph: out, reports } = canonize(g);
    expect(out.layers.map((l) => `${l.name}:${l.kind}`)).toEqual(['t1:reshape', 'ln:layernorm', 't2:reshape', 'flat:flatten']);
    expect(reports.find((r) => r.pass === 'transpose-views')!.summary).toBe('2 Transpose moving only size-1 axes became reshape views');
    const x = randomArray(2 * 9, 3);
    expect(relL2(referenceForward(out, x, 2).get('flat')!, referenceForward(g, x, 2).get('flat')!)).toBe(0);
  });
});

describe('a token input: the first layer a dense over the last axis, under the input-layer rules', () => {
  /** x [5, 6] tokens → d0 (dense 6→7) → g (GELU) → ln → d1 (dense 7→3) → flatten [15] → fc (15→4). */
  function tokenInputGraph(seed: number): Graph {
    const normal = normalOf(new Rng(seed));
    const b = new GraphBuilder('token-input', 'x', [5, 6]);
    b.add({ kind: 'dense', name: 'd0', inputs: ['x'], output: 'd0', inFeatures: 6, outFeatures: 7, weight: normal(42, 0.6), bias: normal(7, 0.2) });
    b.add({ kind: 'gelu', name: 'g', inputs: ['d0'], output: 'g', approximate: 'none' });
    const gamma = normal(7, 0.3).map((v) => v + 1);
    b.add({ kind: 'layernorm', name: 'ln', inputs: ['g'], output: 'ln', scale: gamma, bias: normal(7, 0.2), epsilon: 1e-5 });
    b.add({ kind: 'dense', name: 'd1', inputs: ['ln'], output: 'd1', inFeatures: 7, outFeatures: 3, weight: normal(21, 0.6), bias: normal(3, 0.2) });
    b.add({ kind: 'flatten', name: 'flat', inputs: ['d1'], output: 'flat' });
    b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: 15, outFeatures: 4, weight: normal(60, 0.4), bias: normal(4, 0.2) });
    return b.build('logits');
  }

  it('flat, wsquare and zbox (per-feature bounds) on #0, epsilon elsewhere, and the gradient', async () => {
    const eps = { layers: 'linear', rule: 'epsilon', epsilon: 0.1 };
    const lines = await checkGraph(tokenInputGraph(5), 2, [3, 1], 9, [
      ['flat #0', { rules: [eps, { layers: '#0', rule: 'flat' }] }],
      ['wsquare #0', { rules: [eps, { layers: '#0', rule: 'wsquare' }] }],
      ['zbox #0', { rules: [eps, { layers: '#0', rule: 'zbox', low: [-3, -2, -1, -3, -2, -1], high: [3, 2, 1, 3, 2, 2] }] }],
      ['gradient', 'gradient'],
    ]);
    console.log(`token-input graph, relative L2 vs float64: ${lines.join(', ')}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Import, on the CPU
// ---------------------------------------------------------------------------------------------

/** A float64 evaluation of the few ONNX ops below, written from the ONNX definitions (batch included). */
const onnx64 = {
  /** MatMul of x [..., K] by a constant [K, F]. */
  matmul(x: Float64Array, K: number, w: Float32Array, F: number): Float64Array {
    const rows = x.length / K;
    const y = new Float64Array(rows * F);
    for (let r = 0; r < rows; r++) for (let f = 0; f < F; f++) for (let k = 0; k < K; k++) y[r * F + f] += x[r * K + k] * w[k * F + f];
    return y;
  },
  /** x [..., F] with a [F] constant broadcast along the last axis. */
  lastAxis(x: Float64Array, c: Float32Array, op: (a: number, b: number) => number): Float64Array {
    return x.map((v, i) => op(v, c[i % c.length]));
  },
  /** ONNX Transpose with the full perm (batch included). */
  transpose(x: Float64Array, dims: number[], perm: number[]): Float64Array {
    const out = perm.map((a) => dims[a]);
    const y = new Float64Array(x.length);
    const idx = new Array<number>(dims.length).fill(0);
    for (let j = 0; j < x.length; j++) {
      // idx: j's multi-index in the output; the input index puts idx[k] at axis perm[k].
      let r = j;
      for (let k = out.length - 1; k >= 0; k--) {
        idx[k] = r % out[k];
        r = Math.floor(r / out[k]);
      }
      const src = new Array<number>(dims.length);
      perm.forEach((a, k) => (src[a] = idx[k]));
      let s = 0;
      for (let a = 0; a < dims.length; a++) s = s * dims[a] + src[a];
      y[j] = x[s];
    }
    return y;
  },
};

describe('importing MatMul + Add, Transpose, Reshape and a last-axis Mul', () => {
  const N = 2;
  const [C, H, W, F] = [4, 3, 5, 6];
  const rng = new Rng(21);
  const normal = normalOf(rng);
  const w1 = normal(C * F, 0.5);
  const b1 = normal(F, 0.5);
  const gamma = normal(F, 1);
  const w2 = normal(F * 3, 0.5);
  const bytes = modelProto({
    inputs: [{ name: 'x', dims: ['N', C, H, W] }], outputs: [{ name: 'y' }],
    initializers: [
      { name: 'w1', dims: [C, F], data: w1 }, { name: 'b1', dims: [F], data: b1 }, { name: 'gamma', dims: [1, 1, F], data: gamma },
      { name: 'shape', dims: [3], dataType: INT64, data: [0, -1, F] }, { name: 'w2', dims: [F, 3], data: w2 },
    ],
    nodes: [
      node('Transpose', ['x'], ['t'], { perm: { ints: [0, 2, 3, 1] } }, 'to-channels-last'),
      node('MatMul', ['t', 'w1'], ['m'], {}, 'fc1'),
      node('Add', ['b1', 'm'], ['a'], {}, 'fc1-bias'),
      node('Mul', ['a', 'gamma'], ['s'], {}, 'layer-scale'),
      node('Reshape', ['s', 'shape'], ['tok'], {}, 'tokens'),
      node('MatMul', ['tok', 'w2'], ['y'], {}, 'fc2'),
    ],
  });

  it('is one dense layer with its bias per MatMul + Add, a transpose, a last-axis scale and a reshape view', () => {
    const g = importOnnx(bytes, { source: 'tokens.onnx' });
    expect(g.layers.map((l) => `${l.name}:${l.kind}`)).toEqual(['to-channels-last:transpose', 'fc1:dense', 'layer-scale:scale', 'tokens:reshape', 'fc2:dense']);
    const [t, fc1, ls, rs] = g.layers;
    expect(t.kind === 'transpose' && t.perm).toEqual([1, 2, 0]);
    expect(fc1.kind === 'dense' && [...fc1.bias]).toEqual([...b1]);
    expect(ls.kind === 'scale' && ls.lastAxis).toBe(true);
    expect(rs.kind === 'reshape' && rs.shape).toEqual([H * W, F]);
    expect(g.values.get('y')!.shape).toEqual([H * W, 3]);
  });

  it('computes what the ONNX graph computes (float64 reference against an independent evaluation)', () => {
    const g = importOnnx(bytes, { source: 'tokens.onnx' });
    const x = randomArray(N * C * H * W, 8);
    let v = onnx64.transpose(x, [N, C, H, W], [0, 2, 3, 1]);
    v = onnx64.lastAxis(onnx64.matmul(v, C, w1, F), b1, (a, b) => a + b);
    v = onnx64.lastAxis(v, gamma, (a, b) => a * b);
    const want = onnx64.matmul(v, F, w2, 3);
    expect(relL2(referenceForward(g, x, N).get('y')!, want)).toBeLessThanOrEqual(1e-12);
  });

  it('refuses a graph output whose batch axis a Transpose moved, naming it', () => {
    const bad = modelProto({
      inputs: [{ name: 'x', dims: ['N', C, H] }], outputs: [{ name: 'y' }],
      nodes: [node('Transpose', ['x'], ['y'], { perm: { ints: [1, 0, 2] } }, 'swap')],
    });
    expect(() => importOnnx(bad, { source: 'bad.onnx' })).toThrow(/bad\.onnx: output 'y' has its batch axis moved \(ONNX view \[\d+, N, \d+\]\); only a batch-first output is supported/);
  });
});

describe('importing LayerNormalization and its decomposed form', () => {
  const [N, T, D] = [2, 3, 6];
  const normal = normalOf(new Rng(31));
  const gamma = normal(D, 1);
  const beta = normal(D, 1);
  const eps = 1e-3;
  const io = { inputs: [{ name: 'x', dims: ['N', T, D] }], outputs: [{ name: 'y' }] };
  const params = [{ name: 'gamma', dims: [D], data: gamma }, { name: 'beta', dims: [D], data: beta }];
  const op = modelProto({
    ...io, opset: 17, initializers: params,
    nodes: [node('LayerNormalization', ['x', 'gamma', 'beta'], ['y'], { axis: { i: -1 }, epsilon: { f: eps } }, 'ln')],
  });
  // As torch writes it before opset 17, its Constant nodes after the ReduceMean that reads x.
  const scalar = (name: string, v: number) => node('Constant', [], [name], { value: { t: { name, dims: [], data: [v] } } });
  const decomposed = modelProto({
    ...io, opset: 13, initializers: params,
    nodes: [
      node('ReduceMean', ['x'], ['m'], { axes: { ints: [-1] } }, 'ln/ReduceMean'),
      node('Sub', ['x', 'm'], ['d'], {}, 'ln/Sub'),
      scalar('two', 2),
      node('Pow', ['d', 'two'], ['p'], {}, 'ln/Pow'),
      node('ReduceMean', ['p'], ['v'], { axes: { ints: [2] } }, 'ln/ReduceMean_1'),
      scalar('eps', eps),
      node('Add', ['eps', 'v'], ['e'], {}, 'ln/Add'),
      node('Sqrt', ['e'], ['s'], {}, 'ln/Sqrt'),
      node('Div', ['d', 's'], ['q'], {}, 'ln/Div'),
      node('Mul', ['gamma', 'q'], ['g'], {}, 'ln/Mul'),
      node('Add', ['g', 'beta'], ['y'], {}, 'ln/Add_1'),
    ],
  });

  /** ONNX LayerNormalization, float64, written out here. */
  function layerNorm64(x: Float64Array): Float64Array {
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / D; r++) {
      const row = x.subarray(r * D, r * D + D);
      const mean = row.reduce((a, b) => a + b, 0) / D;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / D;
      row.forEach((v, c) => (y[r * D + c] = ((v - mean) / Math.sqrt(variance + eps)) * gamma[c] + beta[c]));
    }
    return y;
  }

  for (const [form, bytes, name] of [['the op (opset 17)', op, 'ln'], ['the decomposition (opset 13)', decomposed, 'ln/Add_1']] as const) {
    it(`${form} is one layernorm layer computing what ONNX defines`, () => {
      const g = importOnnx(bytes, { source: 'ln.onnx' });
      expect(g.layers.map((l) => `${l.name}:${l.kind}`)).toEqual([`${name}:layernorm`]);
      const l = g.layers[0] as LayerNormLayer;
      expect(l.epsilon).toBeCloseTo(eps, 9);
      const x = randomArray(N * T * D, 12);
      expect(relL2(referenceForward(g, x, N).get('y')!, layerNorm64(x))).toBeLessThanOrEqual(1e-7);
    });
  }

  it('a decomposition whose intermediate is read elsewhere is not fused, and its ReduceMean is refused naming the node', () => {
    const leaky = modelProto({
      ...io, opset: 13, initializers: params,
      nodes: [
        node('ReduceMean', ['x'], ['m'], { axes: { ints: [-1] } }, 'rm'),
        node('Sub', ['x', 'm'], ['d'], {}, 'sub'),
        scalar('two', 2),
        node('Pow', ['d', 'two'], ['p'], {}, 'pow'),
        node('ReduceMean', ['p'], ['v'], { axes: { ints: [-1] } }, 'rm2'),
        scalar('eps', eps),
        node('Add', ['v', 'eps'], ['e'], {}, 'add'),
        node('Sqrt', ['e'], ['s'], {}, 'sqrt'),
        node('Div', ['d', 's'], ['q'], {}, 'div'),
        node('Add', ['q', 'd'], ['y'], {}, 'leak'),
      ],
    });
    expect(() => importOnnx(leaky, { source: 'leaky.onnx' })).toThrow(/leaky\.onnx: node 'rm' \(ReduceMean\): a mean over axes \[-1\] of a \[3, 6\] input is not supported .*or as part of a LayerNorm over the last axis/);
  });

  it("an Add of a [D] constant after a LayerNormalization without B joins its beta (fold-bias)", () => {
    const g = importOnnx(modelProto({
      ...io, opset: 17, initializers: params,
      nodes: [node('LayerNormalization', ['x', 'gamma'], ['n'], { epsilon: { f: eps } }, 'ln'), node('Add', ['n', 'beta'], ['y'], {}, 'shift')],
    }), { source: 'ln-add.onnx' });
    expect(g.layers.map((l) => `${l.name}:${l.kind}`)).toEqual(['ln:layernorm']);
    const x = randomArray(N * T * D, 13);
    expect(relL2(referenceForward(g, x, N).get('y')!, layerNorm64(x))).toBeLessThanOrEqual(1e-7);
  });

  it('refuses LayerNormalization over more than the last axis', () => {
    const wide = modelProto({
      ...io, opset: 17, initializers: [{ name: 'gamma', dims: [T, D], data: normal(T * D, 1) }],
      nodes: [node('LayerNormalization', ['x', 'gamma'], ['y'], { axis: { i: 1 } }, 'ln')],
    });
    expect(() => importOnnx(wide, { source: 'wide.onnx' })).toThrow(/wide\.onnx: node 'ln' \(LayerNormalization\): normalising from axis 1 is not supported/);
  });
});

describe('importing Gelu and its Erf and Tanh formulas', () => {
  const [N, F] = [2, 7];
  const io = { inputs: [{ name: 'x', dims: ['N', F] }], outputs: [{ name: 'y' }] };
  const scalar = (name: string, v: number) => node('Constant', [], [name], { value: { t: { name, dims: [], data: [v] } } });
  /** The formulas as torch writes them (torch.onnx's gelu symbolic, opset < 20). */
  const erfForm = modelProto({
    ...io, opset: 13,
    nodes: [
      scalar('sqrt2', Math.SQRT2), node('Div', ['x', 'sqrt2'], ['d'], {}, 'g/Div'), node('Erf', ['d'], ['e'], {}, 'g/Erf'),
      scalar('one', 1), node('Add', ['e', 'one'], ['a'], {}, 'g/Add'), node('Mul', ['x', 'a'], ['m'], {}, 'g/Mul'),
      scalar('half', 0.5), node('Mul', ['m', 'half'], ['y'], {}, 'g/Mul_1'),
    ],
  });
  const tanhForm = modelProto({
    ...io, opset: 13,
    nodes: [
      node('Mul', ['x', 'x'], ['x2'], {}, 't/Mul'), node('Mul', ['x', 'x2'], ['x3'], {}, 't/Mul_1'),
      scalar('kappa', 0.044715), node('Mul', ['kappa', 'x3'], ['k'], {}, 't/Mul_2'), node('Add', ['x', 'k'], ['s'], {}, 't/Add'),
      scalar('beta', Math.sqrt(2 / Math.PI)), node('Mul', ['beta', 's'], ['in'], {}, 't/Mul_3'), node('Tanh', ['in'], ['t'], {}, 't/Tanh'),
      scalar('one', 1), node('Add', ['one', 't'], ['o'], {}, 't/Add_1'), node('Mul', ['x', 'o'], ['m'], {}, 't/Mul_4'),
      scalar('half', 0.5), node('Mul', ['half', 'm'], ['y'], {}, 't/Mul_5'),
    ],
  });
  const opForm = (approximate: string) => modelProto({ ...io, opset: 20, nodes: [node('Gelu', ['x'], ['y'], { approximate: { s: approximate } }, 'gelu')] });

  // The ONNX Gelu definition, evaluated here: 0.5 x (1 + erf(x / sqrt 2)), or with tanh.
  const erfRef = (v: number) => 0.5 * v * (1 + erf64(v / Math.SQRT2));
  const tanhRef = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
  const cases: [string, Uint8Array, string, 'none' | 'tanh', (v: number) => number][] = [
    ['the Erf formula', erfForm, 'g/Mul_1', 'none', erfRef],
    ['the Tanh formula', tanhForm, 't/Mul_5', 'tanh', tanhRef],
    ['Gelu (opset 20)', opForm('none'), 'gelu', 'none', erfRef],
    ["Gelu approximate='tanh' (opset 20)", opForm('tanh'), 'gelu', 'tanh', tanhRef],
  ];
  for (const [form, bytes, name, approximate, ref] of cases) {
    it(`${form} is one gelu layer (${approximate}) computing what ONNX defines`, () => {
      const g = importOnnx(bytes, { source: 'gelu.onnx' });
      expect(g.layers.map((l) => `${l.name}:${l.kind}`)).toEqual([`${name}:gelu`]);
      expect((g.layers[0] as GeluLayer).approximate).toBe(approximate);
      const x = randomArray(N * F, 4, 2);
      expect(relL2(referenceForward(g, x, N).get('y')!, x.map(ref))).toBeLessThanOrEqual(1e-12);
    });
  }

  it('a Div of an activation by a constant that starts no GELU is a scale by 1 / c', () => {
    const g = importOnnx(modelProto({
      ...io, initializers: [{ name: 'c', dims: [], data: [4] }], nodes: [node('Div', ['x', 'c'], ['y'], {}, 'div')],
    }), { source: 'div.onnx' });
    expect(g.layers.map((l) => l.kind)).toEqual(['scale']);
    const x = randomArray(N * F, 5);
    expect(relL2(referenceForward(g, x, N).get('y')!, x.map((v) => v / 4))).toBeLessThanOrEqual(1e-12);
  });
});
