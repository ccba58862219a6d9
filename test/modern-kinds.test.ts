/**
 * The layer kinds of modern CNNs (lrp-rules.md, "Modern CNNs and vision transformers") on the GPU
 * against the float64 reference (test/reference/forward.ts, relevance.ts): sigmoid, tanh, hard
 * sigmoid, SiLU, hard swish, the gate (of x's shape, and C×1×1 over a plane wider than the
 * gradient kernel's workgroup) and a per-channel scale with a negative factor, in one small graph
 * at odd sizes (9×11) and batch 3: every value forward, then every kind of composite and the
 * gradient methods. The same graph canonized (its Mul(x, Sigmoid(x)) fused into one SiLU) explains
 * the same. The reference's own derivatives are checked by central differences first.
 */
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import { canonize } from '../src/graph/canonize/index.ts';
import type { Graph, Layer } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer, nonnegativeValues } from '../src/lrp/explainer.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { randomArray, referenceLayer, referenceForward } from './reference/forward.ts';
import { activationDerivative64, referenceExplain } from './reference/relevance.ts';

const gpu = useGpu();

/**
 * x → c1 ─┬→ s1 = sigmoid ─→ g1 = gate(c1, s1) (x's shape) → dw (depthwise) → r2 = relu ─┬─────────────→ se = gate(r2, hsig)
 *         └─────────────────────┘                                                       ├→ gap → f1 → tanh → f2 → hsig ┘
 *                                                                                        └→ sw = silu(r2) (a ReLU view)
 * se → c3 → ls = scale → res = add(ls, g1) → hs = hardswish → mix = add(hs, sw) → gap → flatten → fc
 */
function modernGraph(seed: number, zeroBias: boolean): Graph {
  const rng = new Rng(seed);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    if (std > 0) rng.fillNormal(a, std);
    return a;
  };
  const bstd = zeroBias ? 0 : 0.2;
  const conv = (name: string, input: string, inC: number, outC: number, k: number, groups = 1): LayerSpec => ({
    kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [k, k],
    stride: [1, 1], pads: [k >> 1, k >> 1, k >> 1, k >> 1], dilation: [1, 1], groups,
    weight: normal(outC * (inC / groups) * k * k, Math.sqrt(2 / ((inC / groups) * k * k))), bias: normal(outC, bstd),
  });
  const C = 6;
  const b = new GraphBuilder('modern', 'x', [3, 9, 11]);
  const add = (l: Record<string, unknown> & { kind: string; name: string; inputs: string[] }) => b.add({ output: l.name, ...l } as LayerSpec);
  b.add(conv('c1', 'x', 3, C, 3));
  add({ kind: 'sigmoid', name: 's1', inputs: ['c1'] });
  add({ kind: 'gate', name: 'g1', inputs: ['c1', 's1'] });
  b.add(conv('dw', 'g1', C, C, 3, C));
  add({ kind: 'relu', name: 'r2', inputs: ['dw'] });
  add({ kind: 'globalavgpool', name: 'sq', inputs: ['r2'] });
  b.add(conv('f1', 'sq', C, 3, 1));
  add({ kind: 'tanh', name: 't', inputs: ['f1'] });
  b.add(conv('f2', 't', 3, C, 1));
  add({ kind: 'hardsigmoid', name: 'hsig', inputs: ['f2'], alpha: 0.2, beta: 0.5 });
  add({ kind: 'gate', name: 'se', inputs: ['r2', 'hsig'] });
  add({ kind: 'silu', name: 'sw', inputs: ['r2'] });
  b.add(conv('c3', 'se', C, C, 1));
  add({ kind: 'scale', name: 'ls', inputs: ['c3'], scale: Float32Array.from([0.5, -0.25, 1.5, 0.1, 2, 0.75]) });
  add({ kind: 'add', name: 'res', inputs: ['ls', 'g1'] });
  add({ kind: 'hardswish', name: 'hs', inputs: ['res'], alpha: 1 / 6, beta: 0.5 });
  add({ kind: 'add', name: 'mix', inputs: ['hs', 'sw'] });
  add({ kind: 'globalavgpool', name: 'gap', inputs: ['mix'] });
  add({ kind: 'flatten', name: 'flat', inputs: ['gap'] });
  b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: C, outFeatures: 5, weight: normal(5 * C, Math.sqrt(2 / C)), bias: normal(5, bstd) });
  return b.build('logits');
}

describe('the float64 reference of the new kinds', () => {
  it("each activation's derivative matches central differences of its forward", () => {
    const kinds: Layer[] = [
      { kind: 'sigmoid', name: 'a', inputs: ['x'], output: 'y' },
      { kind: 'tanh', name: 'a', inputs: ['x'], output: 'y' },
      { kind: 'silu', name: 'a', inputs: ['x'], output: 'y' },
      { kind: 'hardsigmoid', name: 'a', inputs: ['x'], output: 'y', alpha: 0.2, beta: 0.5 },
      { kind: 'hardswish', name: 'a', inputs: ['x'], output: 'y', alpha: 1 / 6, beta: 0.5 },
    ];
    // Points away from the hard functions' kinks (u = 0 or 1).
    const xs = [-7.3, -2.9, -1.1, -0.4, -0.05, 0.05, 0.3, 1.2, 2.7, 6.1];
    const h = 1e-6;
    for (const l of kinds) {
      const f = (v: number) => referenceLayer(l, [Float64Array.of(v)], [[1]], 1)[0];
      for (const v of xs) expect(activationDerivative64(l, v), `${l.kind} at ${v}`).toBeCloseTo((f(v + h) - f(v - h)) / (2 * h), 7);
    }
  });
});

describe('a small modern-CNN graph against the float64 reference', () => {
  const N = 3;
  const targets = [3, 0, 2];
  const graph = modernGraph(11, false);

  it('the shape of the test: a per-channel gate over a 99-value plane, a ReLU view gated and activated', () => {
    expect(graph.values.get('hsig')!.shape).toEqual([6, 1, 1]);
    expect(numel(graph.values.get('r2')!.shape) / 6).toBeGreaterThan(64);
    expect([...nonnegativeValues(graph)].sort()).toEqual(['hsig', 'r2', 's1', 'se', 'sq', 'sw'].sort());
    // The canonizer fuses Mul(c1, Sigmoid(c1)) into one SiLU; the SE gate stays.
    const kinds = canonize(graph).graph.layers.map((l) => `${l.name}:${l.kind}`);
    expect(kinds).toContain('g1:silu');
    expect(kinds).not.toContain('s1:sigmoid');
    expect(kinds).toContain('se:gate');
  });

  it('forward: every value', async () => {
    const x = randomArray(N * numel(graph.input.shape), 6);
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
    ['lrp-epsilon', { rules: [{ layers: 'linear', rule: 'epsilon', epsilon: 0.25 }] }],
    ['lrp-alpha2beta1', 'lrp-alpha2beta1'],
    ['cmp-alpha2-flat', 'cmp-alpha2-flat'],
    ['zplus', { rules: [{ layers: 'linear', rule: 'zplus' }] }],
    ['gradient', 'gradient'],
    ['gradient-x-input', 'gradient-x-input'],
    ['guided-backprop', 'guided-backprop'],
  ];

  it(`relevance under ${composites.map(([n]) => n).join(', ')}; canonized (SiLU fused) the same`, async () => {
    const x = randomArray(N * numel(graph.input.shape), 7).map((v) => Math.max(-3, Math.min(3, v)));
    const fused = canonize(graph).graph;
    const models = await Promise.all([graph, fused].map(async (g) => {
      const fm = await ForwardModel.create(gpu.ctx, g);
      return { g, fm, acts: await fm.forward(Float32Array.from(x), N) };
    }));
    const lines: string[] = [];
    try {
      for (const [name, spec] of composites) {
        const ref = resolveComposite(parseComposite(spec, name), graph);
        const want = referenceExplain(graph, ref.rules, ref.method, x, N, targets, 'logit');
        for (const { g, fm, acts } of models) {
          const explainer = await Explainer.create(fm, resolveComposite(parseComposite(spec, name), g));
          try {
            // Under LRP the gate's branch gets no relevance, so its layers build no op.
            const plan = new Map(explainer.describe().map((d) => [d.layer, d.passes]));
            if (ref.method === null) for (const l of ['f1', 't', 'f2', 'hsig', 'sq']) expect(plan.get(l), `${name}: ${l}`).toBe('none (no relevance reaches it)');
            else expect(plan.get('f1'), name).not.toMatch(/^none/);
            const ex = await explainer.explainActivations(acts, { targets, init: 'logit' });
            const err = relL2(ex.relevance, want);
            lines.push(`${name}${g === fused ? ' (fused)' : ''} ${err.toExponential(2)}`);
            expect(err, `${name}${g === fused ? ' (fused)' : ''}`).toBeLessThanOrEqual(1e-5);
          } finally {
            explainer.destroy();
          }
        }
      }
    } finally {
      for (const { fm, acts } of models) {
        acts.release();
        fm.destroy();
      }
      console.log(`modern graph, relative L2 vs float64: ${lines.join(', ')}`);
    }
  });
});
