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
import { ForwardModel } from '../src/forward/model.ts';
import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { Rng } from '../src/graph/zoo.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { INT64, modelProto, node } from './helpers/onnx-writer.ts';
import { randomArray, referenceForward } from './reference/forward.ts';
import { referenceExplain } from './reference/relevance.ts';

const gpu = useGpu();

function normalOf(rng: Rng) {
  return (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    if (std > 0) rng.fillNormal(a, std);
    return a;
  };
}

/**
 * x [3,5,7] → c1 (conv) → r0 (ReLU view) ─┬→ t1 [5,7,6] → d1 (dense 6→9) → r1 → d2 (9→6) → ls (last-axis scale) → t2 [6,5,7] ─┐
 *                                          └──────────────────────────────────────────────────────────────────────────── res (add)
 * res → rs4 [2,3,5,7] → t4 (rank 4) [7,3,2,5] → rs [35,6] → d3 (6→4) → rs2 [5,7,4] → t3 [4,5,7] → gap → flatten → fc
 */
function tokenGraph(seed: number): Graph {
  const normal = normalOf(new Rng(seed));
  const b = new GraphBuilder('tokens', 'x', [3, 5, 7]);
  const add = (l: Record<string, unknown> & { kind: string; name: string; inputs: string[] }) => b.add({ output: l.name, ...l } as LayerSpec);
  const dense = (name: string, input: string, i: number, o: number) =>
    add({ kind: 'dense', name, inputs: [input], inFeatures: i, outFeatures: o, weight: normal(i * o, Math.sqrt(2 / i)), bias: normal(o, 0.2) });
  add({
    kind: 'conv', name: 'c1', inputs: ['x'], inChannels: 3, outChannels: 6, kernel: [3, 3], stride: [1, 1], pads: [1, 1, 1, 1],
    dilation: [1, 1], groups: 1, weight: normal(6 * 3 * 9, Math.sqrt(2 / 27)), bias: normal(6, 0.2),
  });
  add({ kind: 'relu', name: 'r0', inputs: ['c1'] });
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
      const resolved = resolveComposite(parseComposite(spec, name), graph);
      const want = referenceExplain(graph, resolved.rules, resolved.method, x, N, targets, 'logit');
      const explainer = await Explainer.create(fm, resolved);
      try {
        const ex = await explainer.explainActivations(acts, { targets, init: 'logit' });
        const err = relL2(ex.relevance, want);
        lines.push(`${name} ${err.toExponential(2)}`);
        expect(err, name).toBeLessThanOrEqual(1e-5);
      } finally {
        explainer.destroy();
      }
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

  it('forward every value; relevance under every composite and method', async () => {
    // Seeds whose alpha-beta denominators are not near zero (graph 3, input 5 has one: 6e-5 under
    // alpha2beta1 from float32 rounding alone, every other composite <= 3e-6).
    const lines = await checkGraph(tokenGraph(4), 3, [4, 0, 2], 6);
    console.log(`token graph, relative L2 vs float64: ${lines.join(', ')}`);
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

  it('refuses a Transpose that moves the batch axis, naming the node', () => {
    const bad = modelProto({
      inputs: [{ name: 'x', dims: ['N', C, H] }], outputs: [{ name: 'y' }],
      nodes: [node('Transpose', ['x'], ['y'], { perm: { ints: [1, 0, 2] } }, 'swap')],
    });
    expect(() => importOnnx(bad, { source: 'bad.onnx' })).toThrow(/bad\.onnx: node 'swap' \(Transpose\): perm \[1, 0, 2\] moves the batch axis/);
  });
});
