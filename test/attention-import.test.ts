/**
 * ONNX import of the transformer operators (src/graph/onnx/import.ts, constant-fold.ts) on the
 * CPU: a ViT-shaped model written by the test writer (Split into q, k, v; q divided by a constant;
 * a two-axis Slice; q k^T and A v as MatMuls of activations; an inner Softmax; a positional
 * embedding; the class token expanded over the batch through torch's Shape/Equal/Where/Expand
 * chain and concatenated; token 0 gathered into a Gemm head) against the same function written
 * here in float64 from the ONNX definitions; and the refusals that name the node.
 */
import { describe, expect, it } from 'vitest';
import type { Graph } from '../src/graph/ir.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { Rng } from '../src/graph/zoo.ts';
import { FLOAT, INT64, modelProto, node, type ModelSpec, type NodeSpec, type TensorSpec } from './helpers/onnx-writer.ts';
import { referenceForward } from './reference/forward.ts';

const SOURCE = 'vit-unit.onnx';
const rng = new Rng(31);
const rand = (n: number, std = 1): Float32Array => {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
};
const T = 3; // tokens
const F = 8; // features of x: q 2, k 2, v 4
const C = 3; // classes
const pos = rand(T * 4, 0.5);
const token = rand(4);
const W = rand(C * 4, 0.5);
const bias = rand(C, 0.1);
const i64 = (name: string, data: number[], dims: number[] = [data.length]): TensorSpec => ({ name, dims, dataType: INT64, data });

/** The class token's expansion as torch.onnx writes it for `class_token.expand(n, -1, -1)`. */
const tokenChain: NodeSpec[] = [
  node('Shape', ['x'], ['s']), node('Gather', ['s', 'zero'], ['n'], { axis: { i: 0 } }), node('Unsqueeze', ['n', 'ax0'], ['nu']),
  node('Concat', ['nu', 'minus1', 'minus1'], ['cat'], { axis: { i: 0 } }), node('Reshape', ['cat', 'minus1'], ['r1']),
  node('Shape', ['r1'], ['sh']), node('ConstantOfShape', ['sh'], ['ones'], { value: { t: { name: 'v', dims: [1], dataType: INT64, data: [1] } } }),
  node('Mul', ['ones', 'minus1s'], ['m1']), node('Equal', ['r1', 'm1'], ['eq']), node('Where', ['eq', 'ones', 'r1'], ['w']),
  node('Expand', ['class_token', 'w'], ['e']),
];

function vitSpec(extra: Partial<{ nodes: NodeSpec[] }> = {}): ModelSpec {
  return {
    opset: 14,
    inputs: [{ name: 'x', dims: ['N', T, F] }],
    outputs: [{ name: 'logits', dims: ['N', C] }],
    initializers: [
      i64('sizes', [2, 2, 4]), { name: 'two', dims: [], dataType: FLOAT, data: [2] },
      i64('st', [0, 1]), i64('en', [2, 4]), i64('axes', [1, 2]),
      { name: 'pos', dims: [1, T, 4], data: pos }, { name: 'class_token', dims: [1, 1, 4], data: token },
      i64('zero', [0], []), i64('ax0', [0]), i64('minus1', [-1]), i64('minus1s', [-1], []),
      { name: 'W', dims: [C, 4], data: W }, { name: 'b', dims: [C], data: bias },
    ],
    nodes: extra.nodes ?? [
      node('Split', ['x', 'sizes'], ['q', 'k', 'v'], { axis: { i: 2 } }, 'split'),
      node('Div', ['q', 'two'], ['qs'], {}, 'scale'),
      node('Slice', ['x', 'st', 'en', 'axes'], ['kt'], {}, 'kslice'),
      node('MatMul', ['qs', 'kt'], ['sc'], {}, 'qk'),
      node('Softmax', ['sc'], ['a'], { axis: { i: -1 } }, 'softmax'),
      node('MatMul', ['a', 'v'], ['o'], {}, 'av'),
      node('Add', ['o', 'pos'], ['pe'], {}, 'pos_embedding'),
      ...tokenChain,
      node('Concat', ['e', 'pe'], ['cc'], { axis: { i: 1 } }, 'cls_concat'),
      node('Gather', ['cc', 'zero'], ['g'], { axis: { i: 1 } }, 'cls_gather'),
      node('Gemm', ['g', 'W', 'b'], ['logits'], { transB: { i: 1 } }, 'head'),
    ],
  };
}

/** The model's function in float64, from the ONNX definitions, for one sample. */
function expected(x: Float64Array): Float64Array {
  const at = (t: number, f: number) => x[t * F + f];
  // q = x[:, 0:2] / 2, kt = x[0:2, 1:4], v = x[:, 4:8]
  const sc = (i: number, j: number) => (at(i, 0) / 2) * at(0, 1 + j) + (at(i, 1) / 2) * at(1, 1 + j);
  const out = new Float64Array(4 * (T + 1));
  out.set(Float64Array.from(token), 0);
  for (let i = 0; i < T; i++) {
    const s = [0, 1, 2].map((j) => sc(i, j));
    const m = Math.max(...s);
    const e = s.map((v) => Math.exp(v - m));
    const z = e.reduce((p, q) => p + q, 0);
    for (let d = 0; d < 4; d++) {
      let o = 0;
      for (let j = 0; j < T; j++) o += (e[j] / z) * at(j, 4 + d);
      out[(i + 1) * 4 + d] = o + pos[i * 4 + d];
    }
  }
  // token 0 (the class token) into the head
  return Float64Array.from({ length: C }, (_, c) => bias[c] + [0, 1, 2, 3].reduce((acc, d) => acc + W[c * 4 + d] * out[d], 0));
}

function imp(spec: ModelSpec): Graph {
  return importOnnx(modelProto(spec), { source: SOURCE });
}

describe('ViT-shaped ONNX import', () => {
  it('converts to slices, a scale, matmuls, a softmax, addconst, concatconst and gather, and computes the ONNX function', () => {
    const g = imp(vitSpec());
    expect(g.layers.map((l) => `${l.name}:${l.kind}`)).toEqual([
      'split:0:slice', 'split:1:slice', 'split:2:slice', 'scale:scale', 'kslice:0:slice', 'kslice:1:slice', 'qk:matmul', 'softmax:softmax',
      'av:matmul', 'pos_embedding:addconst', 'cls_concat:concatconst', 'cls_gather:gather', 'head:dense',
    ]);
    expect(g.values.get('cc')!.shape).toEqual([T + 1, 4]);
    const N = 2;
    const x = Float64Array.from(rand(N * T * F));
    const got = referenceForward(g, x, N).get(g.output)!;
    for (let n = 0; n < N; n++) {
      const want = expected(x.subarray(n * T * F, (n + 1) * T * F));
      for (let c = 0; c < C; c++) expect(got[n * C + c]).toBeCloseTo(want[c], 6);
    }
  });

  it('token 1 instead of the class token: the attention reaches the logits', () => {
    const spec = vitSpec();
    const nodes = spec.nodes.map((nd) => (nd.name === 'cls_gather' ? node('Gather', ['cc', 'one'], ['g'], { axis: { i: 1 } }, 'cls_gather') : nd));
    const g = imp({ ...spec, nodes, initializers: [...spec.initializers!, i64('one', [1], [])] });
    const x = Float64Array.from(rand(T * F));
    const got = referenceForward(g, x, 1).get(g.output)!;
    // Row 1 of the concatenation is token 0 of the attention output plus its embedding.
    const sc = [0, 1, 2].map((j) => (x[0] / 2) * x[F * 0 + 1 + j] + (x[1] / 2) * x[F + 1 + j]);
    const m = Math.max(...sc);
    const e = sc.map((v) => Math.exp(v - m));
    const z = e.reduce((p, q) => p + q, 0);
    const row = [0, 1, 2, 3].map((d) => pos[d] + e.reduce((acc, ej, j) => acc + (ej / z) * x[j * F + 4 + d], 0));
    for (let c = 0; c < C; c++) expect(got[c]).toBeCloseTo(bias[c] + row.reduce((acc, v, d) => acc + W[c * 4 + d] * v, 0), 6);
  });

  const refusals: [string, (nodes: NodeSpec[]) => NodeSpec[], RegExp][] = [
    ['an Expand of an activation', (ns) => [...ns.slice(0, -1), node('Expand', ['g', 'w'], ['logits'], {}, 'grow')], /node 'grow' \(Expand\): unsupported operator Expand \(node \d+ of \d+, reading 'g', 'w'\)/],
    ['a Gather of two indices', (ns) => ns.map((nd) => (nd.name === 'cls_gather' ? node('Gather', ['cc', 'minus1s2'], ['g'], { axis: { i: 1 } }, 'cls_gather') : nd)), /node 'cls_gather' \(Gather\): gathers 2 indices; only one constant index is supported/],
    ['a Split of the batch axis', (ns) => ns.map((nd) => (nd.name === 'split' ? node('Split', ['x', 'sizes'], ['q', 'k', 'v'], { axis: { i: 0 } }, 'split') : nd)), /node 'split' \(Split\): axis 0 is the batch axis/],
    ['a Div by an activation', (ns) => ns.map((nd) => (nd.name === 'scale' ? node('Div', ['q', 'k'], ['qs'], {}, 'scale') : nd)), /node 'scale' \(Div\): divides by an activation: only a division by a constant is supported/],
    ['a MatMul whose shapes do not chain', (ns) => ns.map((nd) => (nd.name === 'qk' ? node('MatMul', ['qs', 'v'], ['sc'], {}, 'qk') : nd)), /layer 'qk' \(matmul\): multiplies \[3, 2\] by \[3, 4\]/],
  ];
  for (const [what, edit, message] of refusals) {
    it(`refuses ${what}, naming the node`, () => {
      const spec = vitSpec();
      const nodes = edit([...spec.nodes]);
      expect(() => imp({ ...spec, nodes, initializers: [...spec.initializers!, i64('minus1s2', [0, 1])] })).toThrow(message);
    });
  }
});
