// Residual networks on the GPU: a small random graph with every layer kind residual networks add
// (skip sums reading ReLU views and raw outputs, a standalone BatchNorm, LeakyRelu, Pad, ReLU6) against
// the float64 reference, value by value and under every kind of composite; conservation through
// `add` with `norm`; and the built-in ResNet-50 and MobileNetV2 end to end at batch 1.
//
// The built-ins run at a reduced input size (ResNet-50 64x64, MobileNetV2 32x32): both are fully
// convolutional up to the global pooling, so every layer and kernel configuration of the 224x224
// model runs, on maps 12 (49) times smaller, which keeps this file within the suite's budget on
// lavapipe; MobileNetV2 is small enough there for the float64 relevance reference itself.
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import { canonize } from '../src/graph/canonize/index.ts';
import type { Graph, Layer } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { builtinModelUncanonized, Rng } from '../src/graph/zoo.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer, nonnegativeValues } from '../src/lrp/explainer.ts';
import { explainWith, relL2, useGpu } from './helpers/gpu.ts';
import { randomArray, referenceForward } from './reference/forward.ts';
import { referenceExplain } from './reference/relevance.ts';

const gpu = useGpu();

/**
 * x → c1 → relu ─┬→ c2 ─┬→ bn ─→ add1 (bn + relu view) → leaky → pad → c3 (valid) → relu6 ─→ add2 → relu → gap → fc
 *                │      └────────────────────────────────────────────────────────────────┘ (c2 read raw)
 *                └──────→ (relu view into add1)
 * c2 feeds both the BatchNorm and a skip, so the BatchNorm stays standalone even once canonized.
 */
function residualGraph(seed: number, zeroBias: boolean): Graph {
  const rng = new Rng(seed);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    if (std > 0) rng.fillNormal(a, std);
    return a;
  };
  const bstd = zeroBias ? 0 : 0.2;
  const conv = (name: string, input: string, inC: number, outC: number, pad: number, groups = 1): LayerSpec => ({
    kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [3, 3],
    stride: [1, 1], pads: [pad, pad, pad, pad], dilation: [1, 1], groups,
    weight: normal(outC * (inC / groups) * 9, Math.sqrt(2 / ((inC / groups) * 9))), bias: normal(outC, bstd),
  });
  const C = 6;
  const b = new GraphBuilder('residual', 'x', [3, 9, 8]);
  b.add(conv('c1', 'x', 3, C, 1));
  b.add({ kind: 'relu', name: 'r1', inputs: ['c1'], output: 'r1' });
  b.add(conv('c2', 'r1', C, C, 1, 2));
  const variance = Float32Array.from(normal(C, 1), (v) => 0.5 + v * v);
  b.add({
    kind: 'batchnorm', name: 'bn', inputs: ['c2'], output: 'bn', channels: C, scale: Float32Array.from(normal(C, 0.3), (v) => 1 + v),
    bias: normal(C, bstd), mean: normal(C, bstd), variance, epsilon: 1e-5,
  });
  b.add({ kind: 'add', name: 'add1', inputs: ['bn', 'r1'], output: 'add1' });
  b.add({ kind: 'leakyrelu', name: 'leaky', inputs: ['add1'], output: 'leaky', alpha: 0.1 });
  b.add({ kind: 'pad', name: 'pad', inputs: ['leaky'], output: 'pad', pads: [1, 2, 1, 0] });
  b.add(conv('c3', 'pad', C, C, 0));
  b.add({ kind: 'clip', name: 'relu6', inputs: ['c3'], output: 'relu6', min: 0, max: 6 });
  b.add({ kind: 'add', name: 'add2', inputs: ['relu6', 'c2'], output: 'add2' });
  b.add({ kind: 'relu', name: 'r2', inputs: ['add2'], output: 'r2' });
  b.add({ kind: 'globalavgpool', name: 'gap', inputs: ['r2'], output: 'gap' });
  b.add({ kind: 'flatten', name: 'flat', inputs: ['gap'], output: 'flat' });
  b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: C, outFeatures: 5, weight: normal(5 * C, Math.sqrt(2 / C)), bias: normal(5, bstd) });
  return b.build('logits');
}

describe('a small residual graph against the float64 reference', () => {
  const N = 2;
  const targets = [3, 0];
  const graph = residualGraph(5, false);

  it('the shape of the test: c3 reads a 3-row-taller, 2-column-wider map; add1 mixes a raw value and a ReLU view', () => {
    expect(graph.values.get('pad')!.shape).toEqual([6, 11, 10]);
    expect(graph.values.get('c3')!.shape).toEqual([6, 9, 8]);
    expect([...nonnegativeValues(graph)].sort()).toEqual(['flat', 'gap', 'r1', 'r2', 'relu6']);
    expect(canonize(graph).graph.layers.map((l: Layer) => l.kind)).toContain('batchnorm');
  });

  it('forward: every value', async () => {
    const x = randomArray(N * numel(graph.input.shape), 6);
    const ref = referenceForward(graph, x, N);
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(Float32Array.from(x), N);
    try {
      for (const l of graph.layers) {
        const err = relL2(await acts.read(l.output), ref.get(l.output)!);
        expect(err, l.name).toBeLessThanOrEqual(1e-6);
      }
    } finally {
      acts.release();
      fm.destroy();
    }
  });

  const composites: [string, unknown][] = [
    ['lrp-z', 'lrp-z'],
    ['lrp-alpha2beta1', 'lrp-alpha2beta1'],
    ['cmp-alpha2-flat', 'cmp-alpha2-flat'],
    ['epsilon-gamma-box (bounds given)', {
      rules: [{ layers: 'dense', rule: 'epsilon', epsilon: 0.01 }, { layers: 'conv', rule: 'gamma', gamma: 0.25 }, { layers: '#0', rule: 'zbox', low: -3, high: 3 }],
    }],
    ['add with its own stabilizer', { stabilizer: 1e-3, rules: [{ layers: 'linear', rule: 'zplus' }, { layers: 'add', rule: 'norm', stabilizer: 0.5 }] }],
    ['gradient', 'gradient'],
    ['gradient-x-input', 'gradient-x-input'],
    ['guided-backprop', 'guided-backprop'],
  ];

  it(`relevance under ${composites.map(([n]) => n).join(', ')}`, async () => {
    const x = randomArray(N * numel(graph.input.shape), 7).map((v) => Math.max(-3, Math.min(3, v)));
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(Float32Array.from(x), N);
    const lines: string[] = [];
    try {
      for (const [name, spec] of composites) {
        const composite = resolveComposite(parseComposite(spec, name), graph);
        const want = referenceExplain(graph, composite.rules, composite.method, x, N, targets, 'logit');
        const explainer = await Explainer.create(fm, composite);
        try {
          const ex = await explainer.explainActivations(acts, { targets, init: 'logit' });
          const err = relL2(ex.relevance, want);
          lines.push(`${name} ${err.toExponential(2)}`);
          // Where a skip sum nearly cancels (a + b ~ 0 with a, b large), norm's shares a R / (a + b)
          // grow and so does float32's error: zennit's own tolerance.
          expect(err, name).toBeLessThanOrEqual(1e-4);
        } finally {
          explainer.destroy();
        }
      }
    } finally {
      acts.release();
      fm.destroy();
      console.log(`residual graph, relative L2 vs float64: ${lines.join(', ')}`);
    }
  });

  it('conservation through add with norm: zero biases, stabilizer -> 0, the input relevance sums to the seed', async () => {
    // The z rule conserves at every output whatever its sign; alpha-beta loses an output's
    // relevance where p or n is 0, which the huge shares of a nearly cancelling skip sum make visible.
    const g = residualGraph(8, true);
    const x = Float32Array.from(randomArray(N * numel(g.input.shape), 9));
    const fm = await ForwardModel.create(gpu.ctx, g);
    const acts = await fm.forward(x, N);
    const composite = resolveComposite(parseComposite({ stabilizer: 1e-9, rules: [{ layers: 'linear', rule: 'z' }] }, 'z'), g);
    expect(composite.rules.get('add1')).toEqual({ rule: 'norm', stabilizer: 1e-9 });
    const explainer = await Explainer.create(fm, composite);
    try {
      for (const init of ['onehot', 'logit'] as const) {
        const ex = await explainer.explainActivations(acts, { targets, init });
        for (let n = 0; n < N; n++) {
          const seed = init === 'onehot' ? 1 : ex.targetLogits[n];
          expect(ex.relevanceSums[n] / seed, `${init}, sample ${n}`).toBeCloseTo(1, 4);
        }
      }
    } finally {
      explainer.destroy();
      acts.release();
      fm.destroy();
    }
  });
});

describe('an input read twice by one sum (add(r, r)): one relevance buffer, both shares in it', () => {
  it('lrp-z and gradient match the float64 reference', async () => {
    // The convolution and dense layer have c1's and fc's shapes in residualGraph (3 -> 6 channels,
    // 3x3 pad 1; 6 -> 5 features), so they run the pipelines the cases above compiled: the test is
    // the sum reading one input twice, and on lavapipe each new pipeline is an LLVM compile of
    // seconds (2 -> 4 channels and 4 -> 3 features before, 40 s of this file cold on a loaded machine).
    const rng = new Rng(3);
    const w = new Float32Array(6 * 3 * 9);
    rng.fillNormal(w, 0.4);
    const fcW = new Float32Array(5 * 6);
    rng.fillNormal(fcW, 0.5);
    const b = new GraphBuilder('twice', 'x', [3, 5, 5]);
    b.add({
      kind: 'conv', name: 'c', inputs: ['x'], output: 'c', inChannels: 3, outChannels: 6, kernel: [3, 3], stride: [1, 1],
      pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1, weight: w, bias: new Float32Array(6),
    });
    b.add({ kind: 'relu', name: 'r', inputs: ['c'], output: 'r' });
    b.add({ kind: 'add', name: 'twice', inputs: ['r', 'r'], output: 'twice' });
    b.add({ kind: 'globalavgpool', name: 'gap', inputs: ['twice'], output: 'gap' });
    b.add({ kind: 'flatten', name: 'f', inputs: ['gap'], output: 'f' });
    b.add({ kind: 'dense', name: 'fc', inputs: ['f'], output: 'logits', inFeatures: 6, outFeatures: 5, weight: fcW, bias: new Float32Array(5) });
    const g = b.build('logits');
    const x = randomArray(numel(g.input.shape), 4);
    const fm = await ForwardModel.create(gpu.ctx, g);
    const acts = await fm.forward(Float32Array.from(x), 1);
    try {
      for (const spec of ['lrp-z', 'gradient']) {
        const ex = await explainWith(fm, spec, acts, { targets: [1], init: 'logit' });
        const composite = resolveComposite(parseComposite(spec, spec), g);
        expect(relL2(ex.relevance, referenceExplain(g, composite.rules, composite.method, x, 1, [1], 'logit')), spec).toBeLessThanOrEqual(1e-5);
        if (spec === 'lrp-z') expect(ex.relevanceSums[0] / ex.targetLogits[0]).toBeCloseTo(1, 4);
      }
    } finally {
      acts.release();
      fm.destroy();
    }
  });
});

/** A built-in with its BatchNorm shifts zeroed (mean and beta 0): after folding, every bias is zero. */
function withoutShifts(g: Graph): Graph {
  const b = new GraphBuilder(`${g.name} (BatchNorm shifts zeroed)`, g.input.name, g.input.shape);
  for (const l of g.layers) {
    b.add(l.kind === 'batchnorm' ? { ...l, mean: new Float32Array(l.channels), bias: new Float32Array(l.channels) } : l);
  }
  return b.build(g.output);
}

describe('built-ins end to end at batch 1: forward and cmp-alpha2-flat', () => {
  it('resnet50:random at 64x64: logits match the float64 forward; zero shifts conserve all the dense layer passes on', async () => {
    const raw = builtinModelUncanonized('resnet50:random', { inputSize: 64 });
    const x = randomArray(numel(raw.input.shape), 11);
    const lines: string[] = [];
    for (const [label, g] of [['as built', canonize(raw).graph], ['zero shifts', canonize(withoutShifts(raw)).graph]] as const) {
      const fm = await ForwardModel.create(gpu.ctx, g);
      const acts = await fm.forward(Float32Array.from(x), 1);
      try {
        // The float64 forward once, on the model as built (its folded biases included).
        const err = label === 'as built' ? relL2(await acts.read(), referenceForward(g, x, 1).get(g.output)!) : NaN;
        if (label === 'as built') expect(err, `${label}: logits`).toBeLessThanOrEqual(1e-5);
        const ex = await explainWith(fm, 'cmp-alpha2-flat', acts, { targets: 'predicted', init: 'onehot' });
        expect(ex.relevance.every(Number.isFinite), `${label}: finite`).toBe(true);
        expect(ex.relevance.some((v) => v !== 0), `${label}: some relevance`).toBe(true);
        // With zero biases: the dense layer's epsilon 0.1 keeps z / (z + 0.1 sign z) of the seed
        // 1; flat (#0), alpha-beta, the skip sums' and the pooling's norm pass on all of it.
        const z = ex.targetLogits[0];
        const want = z / (z + 0.1 * Math.sign(z));
        lines.push(`${label}: ${label === 'as built' ? `logits ${err.toExponential(2)}, ` : ''}input relevance sum ${ex.relevanceSums[0].toFixed(6)} (${want.toFixed(6)} passed on by the dense layer)`);
        if (label === 'zero shifts') expect(ex.relevanceSums[0] / want).toBeCloseTo(1, 3);
      } finally {
        acts.release();
        fm.destroy();
      }
    }
    console.log(`resnet50:random 64x64: ${lines.join('; ')}`);
  }, 600_000);

  it('mobilenetv2:random at 32x32: logits and cmp-alpha2-flat relevance match the float64 reference', async () => {
    const g = canonize(builtinModelUncanonized('mobilenetv2:random', { inputSize: 32 })).graph;
    const x = randomArray(numel(g.input.shape), 12);
    const fm = await ForwardModel.create(gpu.ctx, g);
    const acts = await fm.forward(Float32Array.from(x), 1);
    try {
      const logits = referenceForward(g, x, 1).get(g.output)!;
      const logitErr = relL2(await acts.read(), logits);
      expect(logitErr).toBeLessThanOrEqual(1e-5);
      const composite = resolveComposite(parseComposite('cmp-alpha2-flat', 'test'), g);
      const explainer = await Explainer.create(fm, composite);
      try {
        const ex = await explainer.explainActivations(acts, { targets: 'predicted', init: 'logit' });
        const want = referenceExplain(g, composite.rules, null, x, 1, ex.targets, 'logit');
        const err = relL2(ex.relevance, want);
        console.log(`mobilenetv2:random 32x32: logits ${logitErr.toExponential(2)}, cmp-alpha2-flat relevance ${err.toExponential(2)} (relative L2 vs float64)`);
        expect(err).toBeLessThanOrEqual(1e-3);
      } finally {
        explainer.destroy();
      }
    } finally {
      acts.release();
      fm.destroy();
    }
  }, 600_000);
});
