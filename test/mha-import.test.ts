/**
 * ONNX import of attention written seq-first, as torch's nn.MultiheadAttention exports it (what
 * torchvision's vit_b_16 holds): the batch transposed to axis 1, merged with the heads as N*H by
 * Reshapes whose targets come from folded Shape arithmetic, products batched over N*H, the heads
 * merged back into (L*N, E) rows for a Gemm, and the batch transposed back to the front. The
 * imported graph runs on the CPU reference at batch 3 against multi-head attention written here in
 * float64 per sample from its definition (heads as contiguous slices of E), so merging the batch
 * with the heads in the wrong order or mixing samples shows; and the refusals that name the node.
 */
import { describe, expect, it } from 'vitest';
import type { Graph } from '../src/graph/ir.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { Rng } from '../src/graph/zoo.ts';
import { INT64, modelProto, node, type ModelSpec, type NodeSpec, type TensorSpec } from './helpers/onnx-writer.ts';
import { referenceForward } from './reference/forward.ts';

const SOURCE = 'mha-unit.onnx';
const rng = new Rng(47);
const rand = (n: number, std = 1): Float32Array => {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
};
const L = 3; // tokens
const H = 2; // heads
const HD = 4; // per head
const E = H * HD;
const Win = rand(E * 3 * E, 0.4); // [E, 3E], x @ Win
const bin = rand(3 * E, 0.1);
const Wo = rand(E * E, 0.4); // [E out, E in], Gemm transB
const bo = rand(E, 0.1);
const i64 = (name: string, data: number[], dims: number[] = [data.length]): TensorSpec => ({ name, dims, dataType: INT64, data });

/** `Concat(parts)` of int64 pieces into a Reshape target named `out`. */
const target = (out: string, parts: string[]): NodeSpec => node('Concat', parts, [out], { axis: { i: 0 } });

function mhaSpec(edit: (nodes: NodeSpec[]) => NodeSpec[] = (n) => n, outputs = ['res']): ModelSpec {
  const nodes: NodeSpec[] = [
    node('Transpose', ['x'], ['xt'], { perm: { ints: [1, 0, 2] } }, 'to_seq_first'),
    node('MatMul', ['xt', 'Win'], ['p'], {}, 'in_proj'),
    node('Add', ['bin', 'p'], ['pb'], {}, 'in_proj_bias'),
    node('Split', ['pb', 'thirds'], ['q', 'k', 'v'], { axis: { i: -1 } }, 'qkv'),
    // The batch as torch reads it: Shape of the seq-first value, element 1; times the heads.
    node('Shape', ['xt'], ['s']), node('Gather', ['s', 'one'], ['n'], { axis: { i: 0 } }), node('Mul', ['n', 'heads'], ['nh']),
    node('Unsqueeze', ['nh', 'ax0'], ['nhu']), node('Unsqueeze', ['n', 'ax0'], ['nu']),
    node('Mul', ['n', 'len'], ['ln']), node('Unsqueeze', ['ln', 'ax0'], ['lnu']),
    target('t_heads', ['L1', 'nhu', 'hd1']), target('t_rows', ['lnu', 'E1']), target('t_back', ['L1', 'nu', 'E1']),
    node('Reshape', ['q', 't_heads'], ['qr'], {}, 'q_heads'), node('Transpose', ['qr'], ['qh'], { perm: { ints: [1, 0, 2] } }, 'q_t'),
    node('Div', ['qh', 'sqrt_hd'], ['qs'], {}, 'q_scale'),
    node('Reshape', ['k', 't_heads'], ['kr'], {}, 'k_heads'), node('Transpose', ['kr'], ['kt'], { perm: { ints: [1, 2, 0] } }, 'k_t'),
    node('Reshape', ['v', 't_heads'], ['vr'], {}, 'v_heads'), node('Transpose', ['vr'], ['vh'], { perm: { ints: [1, 0, 2] } }, 'v_t'),
    node('MatMul', ['qs', 'kt'], ['sc'], {}, 'qk'),
    node('Softmax', ['sc'], ['a'], { axis: { i: -1 } }, 'softmax'),
    node('MatMul', ['a', 'vh'], ['o'], {}, 'av'),
    node('Transpose', ['o'], ['ot'], { perm: { ints: [1, 0, 2] } }, 'o_t'),
    node('Reshape', ['ot', 't_rows'], ['rows'], {}, 'o_rows'),
    node('Gemm', ['rows', 'Wo', 'bo'], ['g'], { transB: { i: 1 } }, 'out_proj'),
    node('Reshape', ['g', 't_back'], ['gb'], {}, 'o_back'),
    node('Transpose', ['gb'], ['y'], { perm: { ints: [1, 0, 2] } }, 'to_batch_first'),
    node('Add', ['y', 'x'], ['res'], {}, 'residual'),
  ];
  return {
    opset: 14,
    inputs: [{ name: 'x', dims: ['N', L, E] }],
    outputs: outputs.map((name) => ({ name })),
    initializers: [
      { name: 'Win', dims: [E, 3 * E], data: Win }, { name: 'bin', dims: [3 * E], data: bin },
      { name: 'Wo', dims: [E, E], data: Wo }, { name: 'bo', dims: [E], data: bo },
      { name: 'sqrt_hd', dims: [], data: [Math.sqrt(HD)] },
      i64('thirds', [E, E, E]), i64('one', [1], []), i64('heads', [H], []), i64('len', [L], []), i64('ax0', [0]),
      i64('L1', [L]), i64('hd1', [HD]), i64('E1', [E]),
    ],
    nodes: edit(nodes),
  };
}

/** Multi-head self-attention with a residual, for one sample x (L x E), from its definition. */
function expected(x: Float64Array): Float64Array {
  const p = Array.from({ length: L }, (_, t) => Array.from({ length: 3 * E }, (_, j) => {
    let s = bin[j];
    for (let e = 0; e < E; e++) s += x[t * E + e] * Win[e * 3 * E + j];
    return s;
  }));
  const o = Array.from({ length: L }, () => new Float64Array(E));
  for (let h = 0; h < H; h++) {
    const q = (t: number, d: number) => p[t][h * HD + d];
    const k = (t: number, d: number) => p[t][E + h * HD + d];
    const v = (t: number, d: number) => p[t][2 * E + h * HD + d];
    for (let i = 0; i < L; i++) {
      const sc = Array.from({ length: L }, (_, j) => {
        let s = 0;
        for (let d = 0; d < HD; d++) s += q(i, d) * k(j, d);
        return s / Math.sqrt(HD);
      });
      const m = Math.max(...sc);
      const w = sc.map((s) => Math.exp(s - m));
      const z = w.reduce((a, b) => a + b, 0);
      for (let d = 0; d < HD; d++) o[i][h * HD + d] = w.reduce((acc, wj, j) => acc + (wj / z) * v(j, d), 0);
    }
  }
  const out = new Float64Array(L * E);
  for (let t = 0; t < L; t++) {
    for (let f = 0; f < E; f++) {
      let s = bo[f];
      for (let e = 0; e < E; e++) s += o[t][e] * Wo[f * E + e];
      out[t * E + f] = s + x[t * E + f];
    }
  }
  return out;
}

function imp(spec: ModelSpec): Graph {
  return importOnnx(modelProto(spec), { source: SOURCE });
}

describe('seq-first multi-head attention (torch nn.MultiheadAttention) import', () => {
  it('follows the batch through N*H and L*N: per-sample views, transposes only where the order changes, and the function of the graph', () => {
    const g = imp(mhaSpec());
    const kinds = new Map(g.layers.map((l) => [l.name, l]));
    // Moving the batch alone is a relabelling; merging it with the heads a per-sample view.
    expect(kinds.get('to_seq_first')!.kind).toBe('identity');
    expect(kinds.get('to_batch_first')!.kind).toBe('identity');
    expect(kinds.get('o_back')!.kind).toBe('identity');
    const q = kinds.get('q_heads')!;
    expect(q.kind === 'reshape' && q.shape).toEqual([L, H, HD]);
    const kt = kinds.get('k_t')!;
    expect(kt.kind === 'transpose' && kt.perm).toEqual([1, 2, 0]);
    const rows = kinds.get('o_rows')!;
    expect(rows.kind === 'reshape' && rows.shape).toEqual([L, E]);
    expect(kinds.get('out_proj')!.kind).toBe('dense');
    expect(kinds.get('qk')!.kind).toBe('matmul');
    expect(g.values.get('sc')!.shape).toEqual([H, L, L]);
    const N = 3;
    const x = Float64Array.from(rand(N * L * E));
    const got = referenceForward(g, x, N).get(g.output)!;
    for (let n = 0; n < N; n++) {
      const want = expected(x.subarray(n * L * E, (n + 1) * L * E));
      for (let i = 0; i < L * E; i++) expect(got[n * L * E + i]).toBeCloseTo(want[i], 9);
    }
  });

  const swap = (name: string, nd: NodeSpec) => (ns: NodeSpec[]) => ns.map((n) => (n.name === name ? nd : n));
  const refusals: [string, (ns: NodeSpec[]) => NodeSpec[], RegExp, string[]?][] = [
    ['a Reshape that would mix samples', swap('o_rows', node('Reshape', ['ot', 't_bad'], ['rows'], {}, 'o_rows')),
      /node 'o_rows' \(Reshape\): reshape of ONNX view \[3, N\*2, 4\] to \[8, N\] is not supported: the batch sits after 3 of each sample's 24 values/],
    ['an operator that needs the batch first', swap('q_scale', node('Flatten', ['qh'], ['qs'], { axis: { i: 1 } }, 'q_scale')),
      /node 'q_scale' \(Flatten\): reads 'qh', whose batch axis an earlier Transpose or Reshape moved \(ONNX view \[N\*2, 3, 4\]\); Flatten is supported there only with the batch first/],
    ['a softmax over another axis than the last', swap('softmax', node('Softmax', ['sc'], ['a'], { axis: { i: 1 } }, 'softmax')),
      /node 'softmax' \(Softmax\): a softmax over axis 1 of ONNX view \[N\*2, 3, 3\] is not supported/],
    ['a product of operands batched differently', swap('qk', node('MatMul', ['qs', 'kr'], ['sc'], {}, 'qk')),
      /node 'qk' \(MatMul\): multiplies ONNX views \[N\*2, 3, 4\] and \[3, N\*2, 4\]/],
    ['a Gather along the batch merged with the heads', swap('q_scale', node('Gather', ['qh', 'zero'], ['qs'], { axis: { i: 0 } }, 'q_scale')),
      /node 'q_scale' \(Gather\): axis 0 of ONNX view \[N\*2, 3, 4\] holds the batch merged with another axis/],
    ['a bias along an axis that holds the batch', swap('residual', node('Add', ['rows', 'col'], ['res'], {}, 'residual')),
      /node 'residual' \(Add\): the constant 'col' of shape \[3, 1\] broadcast onto ONNX view \[3\*N, 8\] is not supported/],
    ['a graph output whose batch is not first', (ns) => ns, /mha-unit\.onnx: output 'xt' has its batch axis moved \(ONNX view \[3, N, 8\]\)/, ['xt']],
  ];
  for (const [what, edit, message, outputs] of refusals) {
    it(`refuses ${what}, naming the node`, () => {
      const spec = mhaSpec(edit, outputs);
      const extra = [i64('t_bad', [E]), i64('zero', [0], []), { name: 'col', dims: [3, 1], data: [1, 2, 3] }];
      // t_bad2 = [E, N], the batch read by Shape.
      const nodes = spec.nodes;
      const withBad = [...nodes.slice(0, 11), node('Concat', ['t_bad', 'nu'], ['t_bad2'], { axis: { i: 0 } }), ...nodes.slice(11)]
        .map((n) => (n.name === 'o_rows' && n.inputs[1] === 't_bad' ? node('Reshape', ['ot', 't_bad2'], ['rows'], {}, 'o_rows') : n));
      expect(() => imp({ ...spec, nodes: withBad, initializers: [...spec.initializers!, ...extra] })).toThrow(message);
    });
  }
});

describe('batch-first rows merged with the batch', () => {
  it('a Reshape (N, L, E) -> (N*L, E) for a Gemm and back is a per-sample dense over the last axis', () => {
    const spec: ModelSpec = {
      opset: 14,
      inputs: [{ name: 'x', dims: ['N', L, E] }],
      outputs: [{ name: 'y' }],
      initializers: [{ name: 'Wo', dims: [E, E], data: Wo }, { name: 'bo', dims: [E], data: bo }, i64('zero', [0], []), i64('len', [L], []),
        i64('ax0', [0]), i64('L1', [L]), i64('E1', [E])],
      nodes: [
        node('Shape', ['x'], ['s']), node('Gather', ['s', 'zero'], ['n'], { axis: { i: 0 } }), node('Mul', ['n', 'len'], ['nl']),
        node('Unsqueeze', ['nl', 'ax0'], ['nlu']), node('Unsqueeze', ['n', 'ax0'], ['nu']),
        target('t_rows', ['nlu', 'E1']), target('t_back', ['nu', 'L1', 'E1']),
        node('Reshape', ['x', 't_rows'], ['rows'], {}, 'to_rows'),
        node('Gemm', ['rows', 'Wo', 'bo'], ['g'], { transB: { i: 1 } }, 'proj'),
        node('Reshape', ['g', 't_back'], ['y'], {}, 'from_rows'),
      ],
    };
    const g = imp(spec);
    expect(g.layers.map((l) => `${l.name}:${l.kind}`)).toEqual(['to_rows:identity', 'proj:dense', 'from_rows:identity']);
    const N = 2;
    const x = Float64Array.from(rand(N * L * E));
    const got = referenceForward(g, x, N).get(g.output)!;
    for (let r = 0; r < N * L; r++) {
      for (let f = 0; f < E; f++) {
        let want = bo[f];
        for (let e = 0; e < E; e++) want += x[r * E + e] * Wo[f * E + e];
        expect(got[r * E + f]).toBeCloseTo(want, 9);
      }
    }
  });
});
