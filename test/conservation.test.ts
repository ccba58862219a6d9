// Conservation on the GPU (lrp-rules.md, "What the project must show"): with zero biases and a
// tiny stabilizer the conserving rules (z, epsilon with a tiny epsilon, alpha-beta, zplus, gamma,
// flat, wsquare, zbox) pass the whole target logit to the input: sum_i R_i = f_t(x), layer by
// layer. With biases, or with epsilon 0.1, the difference is what the biases and the stabilizer
// absorb, and the GPU must match the reference's non-conserved sums just as well.
//
// A small random graph is checked layer by layer (the per-layer sums from the float64 reference,
// whose input relevance the GPU must match), an EfficientNet-style block, the built-in random
// EfficientNet-B0 block by block (float64 reference, GPU at the input), then caffenet:random as a whole at 227x227.
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { canonize } from '../src/graph/canonize/index.ts';
import type { Graph } from '../src/graph/ir.ts';
import { isLinear, numel, valueInfo } from '../src/graph/ir.ts';
import { builtinModel, Rng } from '../src/graph/zoo.ts';
import { parseComposite, resolveComposite, type ResolvedComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { nodeShaderLoader } from '../src/node/gpu.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { randomArray, referenceForward } from './reference/forward.ts';
import { referenceRelevances, stab } from './reference/relevance.ts';

const gpu = useGpu();

// ---------------------------------------------------------------------------------------------
// A small graph: conv -> relu -> maxpool -> conv -> relu -> flatten -> dense
// ---------------------------------------------------------------------------------------------

function smallGraph(seed: number, biasStd: number): Graph {
  const rng = new Rng(seed);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    rng.fillNormal(a, std);
    return a;
  };
  const b = new GraphBuilder('small', 'input', [3, 17, 15]);
  b.add({
    kind: 'conv', name: 'conv1', inputs: ['input'], output: 'conv1', inChannels: 3, outChannels: 8, kernel: [3, 3],
    stride: [1, 1], pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1, weight: normal(8 * 27, Math.sqrt(2 / 27)), bias: normal(8, biasStd),
  });
  b.add({ kind: 'relu', name: 'relu1', inputs: ['conv1'], output: 'relu1' });
  b.add({
    kind: 'maxpool', name: 'pool1', inputs: ['relu1'], output: 'pool1', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0],
    dilation: [1, 1], ceilMode: false,
  });
  // 8x8x7 -> 12x4x4 (stride 2, pads 1 top-left only).
  b.add({
    kind: 'conv', name: 'conv2', inputs: ['pool1'], output: 'conv2', inChannels: 8, outChannels: 12, kernel: [3, 3],
    stride: [2, 2], pads: [1, 1, 0, 1], dilation: [1, 1], groups: 1, weight: normal(12 * 72, Math.sqrt(2 / 72)), bias: normal(12, biasStd),
  });
  b.add({ kind: 'relu', name: 'relu2', inputs: ['conv2'], output: 'relu2' });
  b.add({ kind: 'flatten', name: 'flatten', inputs: ['relu2'], output: 'flatten' });
  const inF = numel(b.shapeOf('flatten'));
  b.add({
    kind: 'dense', name: 'fc', inputs: ['flatten'], output: 'logits', inFeatures: inF, outFeatures: 10,
    weight: normal(10 * inF, Math.sqrt(2 / inF)), bias: normal(10, biasStd),
  });
  return b.build('logits');
}

/** Every value relevance is summed at: the graph input and each linear layer's input and output. */
function checkpoints(graph: Graph): string[] {
  const names = new Set<string>([graph.input.name]);
  for (const l of graph.layers) if (isLinear(l)) names.add(l.inputs[0]).add(l.output);
  return [...names];
}

function sums(a: Float64Array | Float32Array, batch: number): number[] {
  const per = a.length / batch;
  return Array.from({ length: batch }, (_, n) => {
    let s = 0;
    for (let i = n * per; i < (n + 1) * per; i++) s += a[i];
    return s;
  });
}

interface SmallCase {
  label: string;
  composite: string;
  epsilon?: number;
  /** Conserves with zero biases (the others absorb through their stabilizer). */
  conserves: boolean;
}

const SMALL_CASES: SmallCase[] = [
  { label: 'lrp-z', composite: 'lrp-z', conserves: true },
  { label: 'lrp-epsilon, epsilon 1e-9', composite: 'lrp-epsilon', epsilon: 1e-9, conserves: true },
  { label: 'lrp-alpha1beta0', composite: 'lrp-alpha1beta0', conserves: true },
  { label: 'lrp-alpha2beta1', composite: 'lrp-alpha2beta1', conserves: true },
  { label: 'epsilon-alpha2-beta1-flat (cmp-alpha2-flat, epsilon 1e-6)', composite: 'epsilon-alpha2-beta1-flat', conserves: true },
  { label: 'gamma 0.25', composite: '{"rules":[{"layers":"linear","rule":"gamma","gamma":0.25}]}', conserves: true },
  { label: 'wsquare', composite: '{"rules":[{"layers":"linear","rule":"wsquare"}]}', conserves: true },
  {
    label: 'zbox at #0, zplus above',
    composite: '{"rules":[{"layers":"linear","rule":"zplus"},{"layers":"#0","rule":"zbox","low":[-3,-3.5,-4],"high":[3,3.5,4]}]}',
    conserves: true,
  },
  { label: 'lrp-epsilon, epsilon 0.1 (absorbs)', composite: 'lrp-epsilon', epsilon: 0.1, conserves: false },
];

describe('conservation, small graph, layer by layer', () => {
  const batch = 2;
  const targets = [3, 7];

  for (const biased of [false, true]) {
    const graph = smallGraph(11, biased ? 0.3 : 0);
    // Both signs of input, the first layer's input is not a ReLU output.
    const input = Float32Array.from(randomArray(batch * numel(graph.input.shape), 12));
    const input64 = Float64Array.from(input);
    const logits = referenceForward(graph, input64, batch).get(graph.output)!;
    const targetLogits = targets.map((t, n) => logits[n * 10 + t]);

    for (const c of SMALL_CASES) {
      if (biased && c.conserves && c.composite !== 'lrp-z' && c.composite !== 'lrp-alpha2beta1') continue;
      const title = `${c.label}${biased ? ', with biases' : ', zero biases'}`;
      it(title, async () => {
        const composite = resolveComposite(parseComposite(c.composite, c.label), graph, { epsilon: c.epsilon });
        const rel = referenceRelevances(graph, composite.rules, composite.method, input64, batch, targets, 'logit');
        const perLayer = checkpoints(graph).map((name) => ({ name, sums: sums(rel.get(name)!, batch) }));
        const atInput = sums(rel.get(graph.input.name)!, batch);

        if (!biased && c.conserves) {
          // Float64 reference: every checkpoint carries the whole logit, up to what the stabilizer
          // 1e-6 takes against denominators of order 0.1 to 10 (about 1e-6 of it per layer).
          for (const { name, sums: s } of perLayer) {
            s.forEach((v, n) => expect(Math.abs(v - targetLogits[n]), `${name}, sample ${n}: ${v} vs ${targetLogits[n]}`)
              .toBeLessThanOrEqual(1e-5 * Math.abs(targetLogits[n])));
          }
        } else {
          // The relevance absorbed is visible: the input does not receive the logit.
          const gap = Math.max(...atInput.map((v, n) => Math.abs(v - targetLogits[n]) / Math.abs(targetLogits[n])));
          expect(gap, `relative gap at the input ${gap}`).toBeGreaterThan(1e-3);
        }
        if (biased && c.composite === 'lrp-z') {
          // LRP-0 with biases: each linear layer passes on sum_j R_j (z_j - b_j) / stab(z_j), i.e. it
          // loses sum_j R_j b_j / stab(z_j) to the biases (and a little to the stabilizer).
          const values = referenceForward(graph, input64, batch);
          for (const l of graph.layers.filter(isLinear)) {
            const R = rel.get(l.output)!;
            const z = values.get(l.output)!;
            const per = numel(valueInfo(graph, l.output).shape);
            const biasAt = (j: number): number => (l.kind === 'conv' ? l.bias[Math.floor(j / (per / l.outChannels))] : l.bias[j]);
            const passed = sums(R.map((r, k) => (r * (z[k] - biasAt(k % per))) / stab(z[k], 1e-6)), batch);
            const absorbed = sums(R.map((r, k) => (r * biasAt(k % per)) / stab(z[k], 1e-6)), batch);
            const inSums = sums(rel.get(l.inputs[0])!, batch);
            inSums.forEach((v, n) => {
              expect(Math.abs(v - passed[n]), `${l.name}, sample ${n}: ${v} vs ${passed[n]}`).toBeLessThanOrEqual(1e-9 * Math.abs(passed[n]) + 1e-12);
              // ... and the biases do absorb something measurable.
              expect(Math.abs(absorbed[n]), `${l.name}, sample ${n}`).toBeGreaterThan(1e-4 * Math.abs(targetLogits[n]));
            });
          }
        }

        // The GPU against the reference: the input relevance and its per-sample sums.
        const fm = await ForwardModel.create(gpu.ctx, graph);
        const explainer = await Explainer.create(fm, composite);
        try {
          const ex = await explainer.explain(input, batch, { targets, init: 'logit' });
          expect(ex.targets).toEqual(targets);
          const err = relL2(ex.relevance, rel.get(graph.input.name)!);
          const gaps = ex.relevanceSums.map((v, n) => ((v - ex.targetLogits[n]) / Math.abs(ex.targetLogits[n])).toExponential(1));
          console.log(`${title}: GPU vs reference rel L2 ${err.toExponential(2)}; (sum - logit) / |logit| per sample ${gaps.join(', ')}`);
          expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(1e-4);
          ex.relevanceSums.forEach((s, n) => {
            expect(Math.abs(s - atInput[n]), `GPU sum ${s}, reference ${atInput[n]}`).toBeLessThanOrEqual(1e-4 * Math.abs(targetLogits[n]));
            if (!biased && c.conserves) expect(Math.abs(s - ex.targetLogits[n])).toBeLessThanOrEqual(1e-4 * Math.abs(ex.targetLogits[n]));
          });
        } finally {
          explainer.destroy();
          fm.destroy();
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// caffenet:random (zero biases) at 227x227, batch 1
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// An EfficientNet-style block: SiLU as Mul(x, Sigmoid(x)), squeeze-and-excitation, a residual sum
// ---------------------------------------------------------------------------------------------

/**
 * stem conv → x·sigmoid(x) → depthwise conv → x·sigmoid(x) ─┬──────────────────────→ gate → project conv → add(·, stem SiLU) → gap → fc
 *                                                           └→ gap → conv → SiLU → conv → sigmoid ┘
 * as an exporter writes it (Mul of two activations), canonized: the SiLUs fuse, the SE gate stays.
 */
function efficientBlock(seed: number): Graph {
  const rng = new Rng(seed);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    rng.fillNormal(a, std);
    return a;
  };
  const b = new GraphBuilder('efficient-block', 'input', [3, 11, 9]);
  const conv = (name: string, input: string, inC: number, outC: number, k: number, groups = 1) => b.add({
    kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [k, k], stride: [1, 1],
    pads: [k >> 1, k >> 1, k >> 1, k >> 1], dilation: [1, 1], groups,
    weight: normal(outC * (inC / groups) * k * k, Math.sqrt(2 / ((inC / groups) * k * k))), bias: new Float32Array(outC),
  });
  const silu = (name: string, x: string) => {
    b.add({ kind: 'sigmoid', name: `${name}.sigmoid`, inputs: [x], output: `${name}.sigmoid` });
    b.add({ kind: 'gate', name, inputs: [x, `${name}.sigmoid`], output: name });
  };
  conv('stem', 'input', 3, 8, 3);
  silu('stem.act', 'stem');
  conv('dw', 'stem.act', 8, 8, 3, 8);
  silu('dw.act', 'dw');
  b.add({ kind: 'globalavgpool', name: 'se.pool', inputs: ['dw.act'], output: 'se.pool' });
  conv('se.fc1', 'se.pool', 8, 2, 1);
  silu('se.act', 'se.fc1');
  conv('se.fc2', 'se.act', 2, 8, 1);
  b.add({ kind: 'sigmoid', name: 'se.gate', inputs: ['se.fc2'], output: 'se.gate' });
  b.add({ kind: 'gate', name: 'se', inputs: ['dw.act', 'se.gate'], output: 'se' });
  conv('project', 'se', 8, 8, 1);
  b.add({ kind: 'add', name: 'residual', inputs: ['project', 'stem.act'], output: 'residual' });
  b.add({ kind: 'globalavgpool', name: 'pool', inputs: ['residual'], output: 'pool' });
  b.add({ kind: 'flatten', name: 'flatten', inputs: ['pool'], output: 'flatten' });
  b.add({ kind: 'dense', name: 'fc', inputs: ['flatten'], output: 'logits', inFeatures: 8, outFeatures: 6, weight: normal(48, 0.5), bias: new Float32Array(6) });
  return canonize(b.build('logits')).graph;
}

describe('conservation through an EfficientNet-style block (SE gate, SiLU, residual), zero biases', () => {
  const batch = 2;
  const targets = [4, 1];
  const graph = efficientBlock(21);
  const input = Float32Array.from(randomArray(batch * numel(graph.input.shape), 22));
  const input64 = Float64Array.from(input);

  it('the block as the canonizer leaves it: three SiLUs fused, the SE gate kept', () => {
    expect(graph.layers.filter((l) => l.kind === 'silu').map((l) => l.name)).toEqual(['stem.act', 'dw.act', 'se.act']);
    expect(graph.layers.filter((l) => l.kind === 'gate').map((l) => l.name)).toEqual(['se']);
  });

  // alpha-beta conserves only where both p and n are non-zero: a depthwise convolution's output sees
  // 9 products (4 at a corner), often all of one sign, so there it is compared with the reference only.
  const cases: [string, unknown, boolean][] = [
    ['lrp-z', { stabilizer: 1e-9, rules: [{ layers: 'linear', rule: 'z' }] }, true],
    ['z, flat at #0', { stabilizer: 1e-9, rules: [{ layers: 'linear', rule: 'z' }, { layers: '#0', rule: 'flat' }] }, true],
    ['lrp-alpha2beta1', { stabilizer: 1e-9, rules: [{ layers: 'linear', rule: 'alpha-beta', alpha: 2, beta: 1 }] }, false],
  ];
  for (const [name, spec, conserves] of cases) {
    it(`${name}: ${conserves ? 'every cut of the graph carries the logit; ' : ''}the SE branch gets nothing; the GPU agrees`, async () => {
      const composite = resolveComposite(parseComposite(spec, name), graph);
      const rel = referenceRelevances(graph, composite.rules, composite.method, input64, batch, targets, 'logit');
      const logits = referenceForward(graph, input64, batch).get(graph.output)!;
      const targetLogits = targets.map((t, n) => logits[n * 6 + t]);
      // The values every path from the input to the output crosses (a skip's two branches meet at stem.act).
      if (conserves) {
        for (const value of [graph.input.name, 'stem.act', 'residual', 'pool']) {
          sums(rel.get(value)!, batch).forEach((v, n) => expect(Math.abs(v - targetLogits[n]), `${value}, sample ${n}: ${v} vs ${targetLogits[n]}`)
            .toBeLessThanOrEqual(1e-6 * Math.abs(targetLogits[n])));
        }
      }
      for (const value of ['se.gate', 'se.fc2', 'se.act', 'se.fc1', 'se.pool']) expect(rel.has(value), value).toBe(false);
      const fm = await ForwardModel.create(gpu.ctx, graph);
      const explainer = await Explainer.create(fm, composite);
      try {
        const ex = await explainer.explain(input, batch, { targets, init: 'logit' });
        const atInput = sums(rel.get(graph.input.name)!, batch);
        expect(relL2(ex.relevance, rel.get(graph.input.name)!)).toBeLessThanOrEqual(1e-4);
        ex.relevanceSums.forEach((s, n) => {
          expect(Math.abs(s - atInput[n]), `sample ${n}: GPU ${s}, reference ${atInput[n]}`).toBeLessThanOrEqual(1e-4 * Math.abs(targetLogits[n]));
          if (conserves) expect(Math.abs(s - ex.targetLogits[n]), `sample ${n}`).toBeLessThanOrEqual(1e-4 * Math.abs(ex.targetLogits[n]));
        });
      } finally {
        explainer.destroy();
        fm.destroy();
      }
    });
  }
});

describe('conservation through every block of efficientnet_b0:random, zero biases', () => {
  // The built-in EfficientNet-B0 at 32x32 (every block runs; the last stages on 2x2 and 1x1 maps),
  // canonized, then every bias set to zero (the folded BatchNorms' shifts and the SE convolutions'):
  // under LRP-z with a tiny stabilizer each block's input carries the whole target logit (every
  // path from the input to the output crosses it), and no relevance enters a squeeze-and-excitation
  // branch. The float64 reference checks the cuts; the GPU matches its input relevance. Without
  // the shifts SiLU's gain below 1 shrinks the signal to logits of about 1e-3, against which the
  // stabilizer's share is measurable: the input's gap is 1e-5 at 1e-9 and scales with it, so 1e-12.
  const batch = 2;
  const targets = [3, 998];
  const built = builtinModel('efficientnet_b0:random', { inputSize: 32 });
  const graph: Graph = { ...built, layers: built.layers.map((l) => (isLinear(l) ? { ...l, bias: new Float32Array(l.bias.length) } : l)) };
  const input = Float32Array.from(randomArray(batch * numel(graph.input.shape), 31));
  const input64 = Float64Array.from(input);

  it('lrp-z: the graph input, every block input, the head and the pooled features carry the logit; the GPU agrees', async () => {
    const spec = { stabilizer: 1e-12, rules: [{ layers: 'linear', rule: 'z' }] };
    const composite = resolveComposite(parseComposite(spec, 'lrp-z'), graph);
    const rel = referenceRelevances(graph, composite.rules, composite.method, input64, batch, targets, 'logit');
    const logits = referenceForward(graph, input64, batch).get(graph.output)!;
    const targetLogits = targets.map((t, n) => logits[n * 1000 + t]);
    // A block's input is what its first convolution reads (features.S.I.block.0.0); 16 blocks.
    const blockInputs = graph.layers.filter((l) => /^features\.\d+\.\d+\.block\.0\.0$/.test(l.name)).map((l) => l.inputs[0]);
    expect(blockInputs).toHaveLength(16);
    const cuts = [graph.input.name, ...blockInputs, 'features.8.2', 'flatten'];
    for (const value of cuts) {
      sums(rel.get(value)!, batch).forEach((v, n) => expect(Math.abs(v - targetLogits[n]), `${value}, sample ${n}: ${v} vs ${targetLogits[n]}`)
        .toBeLessThanOrEqual(1e-6 * Math.abs(targetLogits[n])));
    }
    const se = graph.layers.filter((l) => /\.block\.\d+\.(avgpool|fc1|activation|fc2|scale_activation)$/.test(l.name));
    expect(se).toHaveLength(5 * 16);
    for (const l of se) expect(rel.has(l.output), l.output).toBe(false);
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const explainer = await Explainer.create(fm, composite);
    try {
      const ex = await explainer.explain(input, batch, { targets, init: 'logit' });
      const err = relL2(ex.relevance, rel.get(graph.input.name)!);
      const gaps = ex.relevanceSums.map((v, n) => ((v - ex.targetLogits[n]) / Math.abs(ex.targetLogits[n])).toExponential(1));
      console.log(`efficientnet_b0:random 32x32, lrp-z, zero biases: GPU vs reference rel L2 ${err.toExponential(2)}; (sum - logit) / |logit| per sample ${gaps.join(', ')}`);
      expect(err).toBeLessThanOrEqual(1e-3);
      ex.relevanceSums.forEach((v, n) => expect(Math.abs(v - ex.targetLogits[n]), `sample ${n}`).toBeLessThanOrEqual(1e-4 * Math.abs(ex.targetLogits[n])));
    } finally {
      explainer.destroy();
      fm.destroy();
    }
  }, 600_000);
});

describe('batches capped by the relevance scratch', () => {
  // conv1's output, 8x17x15 floats, is the largest activation: a binding of six of them caps the
  // forward pass at 6 samples, and alpha-beta's two s slices of conv1 at 3. A larger batch runs in
  // chunks, and every path gives what explaining each sample alone gives, bit for bit.
  it('an explainer says the largest batch it takes, and a larger one runs in chunks equal to each sample alone', async () => {
    const graph = smallGraph(7, 0.1);
    const perSample = 4 * numel(valueInfo(graph, 'conv1').shape);
    const capped = new GpuContext(gpu.gpu.device, { shaders: nodeShaderLoader, bindingLimit: 6 * perSample });
    const resolve = (name: string) => resolveComposite(parseComposite(name, 'test'), graph);
    const fm = await ForwardModel.create(capped, graph);
    const ab = await Explainer.create(fm, resolve('lrp-alpha2beta1'));
    const z = await Explainer.create(fm, resolve('lrp-z'));
    const free = await ForwardModel.create(gpu.ctx, graph);
    const abFree = await Explainer.create(free, resolve('lrp-alpha2beta1'));
    try {
      expect(fm.maxBatch).toBe(6);
      expect(ab.maxBatch).toBe(3);
      expect(z.maxBatch).toBeGreaterThanOrEqual(3);
      expect(Explainer.maxBatchOf(fm, [ab, z])).toBe(3);
      expect(ab.chunks(5)).toEqual([[0, 3], [3, 2]]);
      expect(ab.chunks(6)).toEqual([[0, 3], [3, 3]]);
      expect(ab.chunks(7)).toEqual([[0, 3], [3, 3], [6, 1]]);
      const batch = 8;
      const per = numel(graph.input.shape);
      const input = Float32Array.from(randomArray(batch * per, 11));
      const targets = [1, 'predicted', 4, 'predicted', 7, 0, 'predicted', 9] as const;
      const alone: Awaited<ReturnType<Explainer['explain']>>[] = [];
      for (let n = 0; n < batch; n++) alone.push(await ab.explain(input.subarray(n * per, (n + 1) * per), 1, { targets: targets[n] }));
      const expectAlone = (got: { relevance: Float32Array; logits: Float32Array; targets: number[]; targetLogits: number[] }, n0: number, label: string) => {
        const n = got.targets.length;
        expect(got.targets, label).toEqual(alone.slice(n0, n0 + n).flatMap((a) => a.targets));
        expect(Array.from(got.targetLogits), label).toEqual(alone.slice(n0, n0 + n).flatMap((a) => a.targetLogits));
        expect(Array.from(got.logits), label).toEqual(alone.slice(n0, n0 + n).flatMap((a) => Array.from(a.logits)));
        expect(Array.from(got.relevance), label).toEqual(alone.slice(n0, n0 + n).flatMap((a) => Array.from(a.relevance)));
      };

      // explain: 6 samples (the forward's most) in chunks of 3, and progress after each.
      const told: [number, number][] = [];
      const six = await ab.explain(input.subarray(0, 6 * per), 6, { targets: targets.slice(0, 6), onProgress: (d, t) => told.push([d, t]) });
      expect(told).toEqual([[3, 6], [6, 6]]);
      expectAlone(six, 0, 'explain, 6 in chunks');
      expect(six.relevanceSums).toEqual(alone.slice(0, 6).flatMap((a) => a.relevanceSums));
      // Over the forward pass's activations of 5: copied out in chunks of 3 and 2.
      const acts = await fm.forward(input.subarray(per, 6 * per), 5);
      try {
        expectAlone(await ab.explainActivations(acts, { targets: targets.slice(1, 6) }), 1, 'explainActivations, 5');
        const r = await ab.relevanceOnGpu(acts, { targets: targets.slice(1, 6) });
        try {
          expect(r.count).toBe(5 * per);
          expectAlone({ ...r, relevance: await capped.readF32(r.buffer, 0, r.count, 'test') }, 1, 'relevanceOnGpu, 5');
        } finally {
          r.release();
        }
        await expect(ab.explainActivations(acts, { targets: [1, 2] })).rejects.toThrow(/2 targets given for a batch of 5/);
      } finally {
        acts.release();
      }
      // From the input, past the forward's 6, into one GPU buffer; more than one binding holds is refused.
      const r = await ab.relevanceOfInput(input, batch, { targets: [...targets] });
      try {
        expectAlone({ ...r, relevance: await capped.readF32(r.buffer, 0, r.count, 'test') }, 0, 'relevanceOfInput, 8');
      } finally {
        r.release();
      }
      const most = Math.floor(6 * perSample / (4 * per));
      await expect(ab.relevanceOfInput(new Float32Array((most + 1) * per), most + 1, { targets: 0 }))
        .rejects.toThrow(new RegExp(`input relevance of ${most + 1} samples .* at most ${most} samples lie in one GPU buffer`));
      // The capped explainer gives what an uncapped one gives on the whole batch (the kernels do not mix samples).
      const whole = await abFree.explain(input, batch, { targets: [...targets] });
      const all = await ab.explain(input, batch, { targets: [...targets] });
      expect(relL2(all.relevance, whole.relevance)).toBeLessThan(1e-6);
    } finally {
      abFree.destroy();
      free.destroy();
      ab.destroy();
      z.destroy();
      fm.destroy();
      capped.destroy();
    }
  });
});

describe('conservation, caffenet:random', () => {
  const PRESETS = ['lrp-z', 'lrp-alpha1beta0', 'epsilon-alpha2-beta1-flat'];

  it(`the input relevance sums to the target logit (${PRESETS.join(', ')})`, async () => {
    const graph = builtinModel('caffenet:random');
    expect(graph.layers.filter(isLinear).every((l) => l.bias.every((v) => v === 0)), 'zero biases').toBe(true);
    // Caffe-preprocessed pixels are BGR minus the mean: roughly +-100.
    const input = Float32Array.from(randomArray(numel(graph.input.shape), 227, 50));
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(input, 1);
    const lines: string[] = [];
    try {
      for (const name of PRESETS) {
        const composite: ResolvedComposite = resolveComposite(parseComposite(name, name), graph);
        const explainer = await Explainer.create(fm, composite);
        try {
          const t0 = performance.now();
          const ex = await explainer.explainActivations(acts, { targets: 'predicted', init: 'logit' });
          const [sum] = ex.relevanceSums;
          const [logit] = ex.targetLogits;
          const rel = Math.abs(sum - logit) / Math.abs(logit);
          lines.push(`${name}: target ${ex.targets[0]}, logit ${logit.toFixed(4)}, sum ${sum.toFixed(4)}, relative gap ${rel.toExponential(2)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
          expect(ex.relevance.every(Number.isFinite), `${name}: finite relevance`).toBe(true);
          expect(ex.relevance.some((v) => v !== 0), `${name}: some relevance`).toBe(true);
          expect(rel, `${name}: sum ${sum} vs logit ${logit}`).toBeLessThanOrEqual(1e-3);
        } finally {
          explainer.destroy();
        }
      }
    } finally {
      acts.release();
      fm.destroy();
      console.log(`caffenet:random conservation:\n  ${lines.join('\n  ')}`);
    }
    // Warm, about half a minute; a cold Mesa shader cache adds an LLVM compile per pipeline.
  }, 900_000);
});
