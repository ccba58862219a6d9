/**
 * The transformer kinds (lrp-rules.md, "Modern CNNs and vision transformers") on the GPU against
 * the float64 reference (test/reference/attention.ts): slices along three axes (one of a ReLU
 * view), the product of two activations (q k^T-like and A v), the softmax over the last axis, the
 * Add of a constant tensor, constants concatenated before and after, a gather, in one small graph
 * at odd sizes and batch 3: every value forward, then LRP (CP-LRP in the products) and the
 * gradient methods. The reference's gradient is checked by central differences first.
 */
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { againstOracle } from './helpers/oracle-relevance.ts';
import { randomArray, referenceForward } from './reference/forward.ts';
import { referenceExplain } from './reference/relevance.ts';

const gpu = useGpu();

/** Heads, tokens, the q k^T inner size, the width of v; x is [H, T, F]. */
interface Dims { readonly H: number; readonly T: number; readonly K: number; readonly D: number }
const SMALL: Dims = { H: 2, T: 5, K: 3, D: 6 };
/** Past one 16 x 16 tile of the product in every direction, the inner size too. */
const TILED: Dims = { H: 3, T: 21, K: 17, D: 19 };

/**
 * With SMALL's sizes (F = 9):
 * x [2, 5, 9] ─ relu ─ q = slice(axis 2, 0..3) ──────────┐
 *   ├─ slice(axis 1, 1..4) ─ kt = slice(axis 2, 2..7) ───┴ sc = matmul [2, 5, 5] ─ a = softmax ─┐
 *   └─ v = slice(axis 2, 3..9) ───────────────────────────────────────────────────────────────┴ o = matmul [2, 5, 6]
 * res = add(o, v) ─ pe = addconst ─ cc = concatconst(axis 1, before) [2, 6, 6] ─ g = gather(axis 1, 2) [2, 6]
 *   ─ tail = concatconst(axis 1, after) [2, 8] ─ flatten ─ fc [4]
 */
function attentionGraph(seed: number, { H, T, K, D }: Dims = SMALL): Graph {
  const F = Math.max(K, T + 2, D + 3);
  const rng = new Rng(seed);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    rng.fillNormal(a, std);
    return a;
  };
  const b = new GraphBuilder('attention', 'x', [H, T, F]);
  const add = (l: Record<string, unknown> & { kind: string; name: string; inputs: string[] }) => b.add({ output: l.name, ...l } as LayerSpec);
  add({ kind: 'relu', name: 'r', inputs: ['x'] });
  add({ kind: 'slice', name: 'q', inputs: ['r'], axis: 2, start: 0, length: K });
  add({ kind: 'slice', name: 'kx', inputs: ['x'], axis: 1, start: 1, length: K });
  add({ kind: 'slice', name: 'kt', inputs: ['kx'], axis: 2, start: 2, length: T });
  add({ kind: 'matmul', name: 'sc', inputs: ['q', 'kt'] });
  add({ kind: 'softmax', name: 'a', inputs: ['sc'] });
  add({ kind: 'slice', name: 'v', inputs: ['x'], axis: 2, start: 3, length: D });
  add({ kind: 'matmul', name: 'o', inputs: ['a', 'v'] });
  add({ kind: 'add', name: 'res', inputs: ['o', 'v'] });
  add({ kind: 'addconst', name: 'pe', inputs: ['res'], constant: normal(H * T * D, 0.5) });
  add({ kind: 'concatconst', name: 'cc', inputs: ['pe'], axis: 1, constShape: [H, 1, D], constant: normal(H * D, 1), before: true });
  add({ kind: 'gather', name: 'g', inputs: ['cc'], axis: 1, index: 2 });
  add({ kind: 'concatconst', name: 'tail', inputs: ['g'], axis: 1, constShape: [H, 2], constant: normal(2 * H, 1), before: false });
  add({ kind: 'flatten', name: 'flat', inputs: ['tail'] });
  const f = H * (D + 2);
  b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: f, outFeatures: 4, weight: normal(4 * f, 1 / Math.sqrt(f)), bias: normal(4, 0.2) });
  return b.build('logits');
}

const N = 3;
const targets = [1, 3, 0];

describe('composites on the transformer kinds', () => {
  const graph = attentionGraph(5);
  it("linear and dense never select a product of two activations; the matmul selector takes z or epsilon only; the defaults", () => {
    const rules = resolveComposite(parseComposite({ rules: [{ layers: 'linear', rule: 'epsilon', epsilon: 0.3 }] }, 'x'), graph).rules;
    expect(rules.get('sc')).toEqual({ rule: 'z', stabilizer: 1e-6 });
    expect(rules.get('o')).toEqual({ rule: 'z', stabilizer: 1e-6 });
    expect(rules.get('pe')).toEqual({ rule: 'norm', stabilizer: 1e-6 });
    expect(rules.get('a')).toEqual({ rule: 'pass' });
    expect(rules.get('fc')).toEqual({ rule: 'epsilon', epsilon: 0.3 });
    expect(resolveComposite(parseComposite({ rules: [{ layers: 'matmul', rule: 'epsilon', epsilon: 0.2 }] }, 'x'), graph).rules.get('o')).toEqual({ rule: 'epsilon', epsilon: 0.2 });
    expect(() => resolveComposite(parseComposite({ rules: [{ layers: 'matmul', rule: 'alpha-beta', alpha: 2, beta: 1 }] }, 'x'), graph))
      .toThrow("rule 'alpha-beta' does not apply to matmul layers, which take: z, epsilon");
    const grad = resolveComposite(parseComposite('gradient', 'x'), graph).rules;
    expect(['sc', 'o', 'a', 'pe', 'cc', 'g', 'q'].map((n) => grad.get(n)!.rule)).toEqual(['gradient', 'gradient', 'gradient', 'pass', 'pass', 'pass', 'pass']);
  });
});

describe('the float64 reference of the transformer kinds', () => {
  it('its gradient matches central differences of its forward (softmax and both factors of the products)', () => {
    const graph = attentionGraph(5);
    const x = randomArray(numel(graph.input.shape), 8);
    const grad = referenceExplain(graph, new Map(), 'gradient', x, 1, [2], 'onehot');
    const f = (v: Float64Array) => referenceForward(graph, v, 1).get('logits')![2];
    const h = 1e-6;
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      if (Math.abs(x[i]) < 1e-3) continue; // away from the ReLU's kink
      const up = Float64Array.from(x);
      const down = Float64Array.from(x);
      up[i] += h;
      down[i] -= h;
      worst = Math.max(worst, Math.abs((f(up) - f(down)) / (2 * h) - grad[i]));
    }
    expect(worst).toBeLessThan(1e-6);
  });
});

for (const [label, dims] of [['small', SMALL], ['tiled', TILED]] as const) describe(`an attention graph (${label}: ${JSON.stringify(dims)}) against the float64 reference`, () => {
  const graph = attentionGraph(13, dims);
  const x = randomArray(N * numel(graph.input.shape), 9);

  it('forward: every value', async () => {
    const ref = referenceForward(graph, x, N);
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(Float32Array.from(x), N);
    try {
      for (const l of graph.layers) expect(relL2(await acts.read(l.output), ref.get(l.output)!), l.name).toBeLessThanOrEqual(1e-6);
    } finally {
      acts.release();
      fm.destroy();
    }
  });

  const composites: [string, unknown][] = [
    ['lrp-z', 'lrp-z'],
    ['epsilon (matmul too)', { rules: [{ layers: 'linear', rule: 'epsilon', epsilon: 0.25 }, { layers: 'matmul', rule: 'epsilon', epsilon: 0.1 }] }],
    ['lrp-alpha2beta1', 'lrp-alpha2beta1'],
    ['gradient', 'gradient'],
    ['gradient-x-input', 'gradient-x-input'],
  ];

  it(`relevance under ${composites.map(([n]) => n).join(', ')}`, async () => {
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(Float32Array.from(x), N);
    const lines: string[] = [];
    try {
      for (const [name, spec] of composites) {
        const { err, want } = await againstOracle(fm, acts, graph, name, spec, x, N, targets);
        lines.push(`${name} ${err.toExponential(2)}`);
        expect(err, name).toBeLessThanOrEqual(1e-5);
        expect(want.some((v) => v !== 0), name).toBe(true);
      }
    } finally {
      acts.release();
      fm.destroy();
      console.log(`attention graph (${label}), relative L2 vs float64: ${lines.join(', ')}`);
    }
  });
});

describe('a product of a value with itself (one relevance buffer for both factors)', () => {
  it('x x under LRP-z and the gradient against the float64 reference', async () => {
    const rng = new Rng(4);
    const w = new Float32Array(3 * 2 * 5 * 5);
    rng.fillNormal(w, 0.3);
    const b = new GraphBuilder('square', 'x', [2, 5, 5]);
    b.add({ kind: 'matmul', name: 'xx', inputs: ['x', 'x'], output: 'xx' });
    b.add({ kind: 'flatten', name: 'flat', inputs: ['xx'], output: 'flat' });
    b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: 50, outFeatures: 3, weight: w, bias: new Float32Array(3) });
    const graph = b.build('logits');
    const x = randomArray(2 * 50, 12);
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(Float32Array.from(x), 2);
    try {
      for (const spec of ['lrp-z', 'gradient']) {
        const resolved = resolveComposite(parseComposite(spec, spec), graph);
        const want = referenceExplain(graph, resolved.rules, resolved.method, x, 2, [0, 2], 'logit');
        const explainer = await Explainer.create(fm, resolved);
        try {
          const ex = await explainer.explainActivations(acts, { targets: [0, 2], init: 'logit' });
          expect(relL2(ex.relevance, want), spec).toBeLessThanOrEqual(1e-5);
          expect(want.some((v) => v !== 0), spec).toBe(true);
        } finally {
          explainer.destroy();
        }
      }
    } finally {
      acts.release();
      fm.destroy();
    }
  });
});
