// The canonizer passes, each on small graphs: what it rewrites, what it leaves, its report, and
// that the function is unchanged (the float64 CPU forward of the graph before and after).
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import {
  canonize, foldBatchNorm, foldBias, formatReports, fuseGatedActivations, mergePads, PASSES, stripSoftmax, type CanonizerPass,
} from '../src/graph/canonize/index.ts';
import type { BatchNormLayer, ConvLayer, Graph, Layer, Shape } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { relL2 } from './helpers/gpu.ts';
import { randomArray, referenceForward } from './reference/forward.ts';

const rng = new Rng(31);
const randF32 = (n: number, std = 1): Float32Array => {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
};

function conv(name: string, input: string, inC: number, outC: number, k = 3, o: Partial<ConvLayer> = {}): LayerSpec {
  return {
    kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [k, k],
    stride: [1, 1], pads: [(k - 1) / 2, (k - 1) / 2, (k - 1) / 2, (k - 1) / 2], dilation: [1, 1], groups: 1,
    weight: randF32(outC * inC * k * k, Math.sqrt(2 / (inC * k * k))), bias: randF32(outC, 0.1), ...o,
  };
}

function bn(name: string, input: string, c: number): BatchNormLayer {
  const variance = Float32Array.from(randF32(c), (v) => 0.3 + v * v);
  return {
    kind: 'batchnorm', name, inputs: [input], output: name, channels: c,
    scale: randF32(c), bias: randF32(c, 0.2), mean: randF32(c, 0.2), variance, epsilon: 1e-3,
  };
}

function graph(input: Shape, layers: LayerSpec[], output = layers.at(-1)!.output, outputs?: string[]): Graph {
  const b = new GraphBuilder('g', 'x', input);
  for (const l of layers) b.add(l);
  return b.build(output, outputs);
}

const kinds = (g: Graph): string[] => g.layers.map((l) => l.kind);

/** The pass's output computes what its input did: float64 forward of both, on two samples. */
function expectSameFunction(before: Graph, after: Graph, tol = 1e-6): void {
  const x = randomArray(2 * numel(before.input.shape), 5);
  const a = referenceForward(before, x, 2).get(before.output)!;
  const b = referenceForward(after, x, 2).get(after.output)!;
  expect(relL2(b, a)).toBeLessThanOrEqual(tol);
}

/** Runs a pass and checks it left its input untouched (passes are pure). */
function run(pass: CanonizerPass, g: Graph) {
  const layers = [...g.layers];
  const weights = g.layers.map((l) => ('weight' in l ? Float32Array.from(l.weight) : null));
  const r = pass.run(g);
  expect(g.layers).toEqual(layers);
  g.layers.forEach((l, i) => {
    if ('weight' in l) expect(relL2(l.weight, weights[i]!)).toBe(0);
  });
  return r;
}

describe('fold-batchnorm', () => {
  it('merges a BatchNorm into the convolution and the dense layer before it', () => {
    const g = graph([3, 6, 5], [
      conv('c1', 'x', 3, 4), bn('bn1', 'c1', 4), { kind: 'relu', name: 'r', inputs: ['bn1'], output: 'r' },
      { kind: 'flatten', name: 'f', inputs: ['r'], output: 'f' },
      { kind: 'dense', name: 'fc', inputs: ['f'], output: 'fc', inFeatures: 120, outFeatures: 7, weight: randF32(840, 0.1), bias: randF32(7), hasBias: false },
      bn('bn2', 'fc', 7),
    ]);
    const { graph: out, report } = run(foldBatchNorm, g);
    expect(kinds(out)).toEqual(['conv', 'relu', 'flatten', 'dense']);
    expect(out.output).toBe('bn2');
    expect(out.layers[0]).toMatchObject({ name: 'c1', output: 'bn1' });
    expect(out.layers[3]).toMatchObject({ name: 'fc', hasBias: true });
    expect(report).toEqual({ pass: 'fold-batchnorm', summary: 'folded 2 BatchNorm (1 into conv layers, 1 into dense layers)', changed: true });
    expectSameFunction(g, out);
  });

  it('keeps the BatchNorm standalone where a skip connection also reads the convolution', () => {
    // x → c1 ─┬→ bn → relu → c2 ─┐
    //         └──────────────────+→ add
    const g = graph([4, 5, 5], [
      conv('c1', 'x', 4, 4), bn('bn', 'c1', 4), { kind: 'relu', name: 'r', inputs: ['bn'], output: 'r' },
      conv('c2', 'r', 4, 4), { kind: 'add', name: 'add', inputs: ['c2', 'c1'], output: 'add' },
    ]);
    const { graph: out, report } = run(foldBatchNorm, g);
    expect(kinds(out)).toEqual(['conv', 'batchnorm', 'relu', 'conv', 'add']);
    expect(report.summary).toBe('kept 1 BatchNorm standalone (1 after conv whose output is also read elsewhere)');
    expect(report.changed).toBe(false);
    expect(out).toBe(g);
    expectSameFunction(g, out, 0);
  });

  it('keeps a BatchNorm after an addition, a concatenation, a ReLU (pre-activation) or at the input', () => {
    const g = graph([2, 4, 4], [
      bn('bn0', 'x', 2), conv('c1', 'bn0', 2, 2), conv('c2', 'x', 2, 2),
      { kind: 'add', name: 'add', inputs: ['c1', 'c2'], output: 'add' }, bn('bn1', 'add', 2),
      { kind: 'concat', name: 'cat', inputs: ['bn1', 'x'], output: 'cat' }, bn('bn2', 'cat', 4),
      { kind: 'relu', name: 'r', inputs: ['bn2'], output: 'r' }, bn('bn3', 'r', 4),
    ]);
    const { graph: out, report } = run(foldBatchNorm, g);
    expect(kinds(out).filter((k) => k === 'batchnorm')).toHaveLength(4);
    expect(report.summary).toBe('kept 4 BatchNorm standalone (1 at the input, 1 after add, 1 after concat, 1 after relu)');
  });

  it('a BatchNorm whose convolution output is also a graph output stays', () => {
    const g = graph([2, 4, 4], [conv('c1', 'x', 2, 3), bn('bn', 'c1', 3)], 'bn', ['bn', 'c1']);
    expect(kinds(run(foldBatchNorm, g).graph)).toEqual(['conv', 'batchnorm']);
  });

  it('two BatchNorms in a row both merge', () => {
    const g = graph([2, 4, 4], [conv('c1', 'x', 2, 3), bn('bn1', 'c1', 3), bn('bn2', 'bn1', 3)]);
    const { graph: out } = run(foldBatchNorm, g);
    expect(kinds(out)).toEqual(['conv']);
    expectSameFunction(g, out);
  });
});

describe('fold-bias', () => {
  const bias = (name: string, input: string, c: number): LayerSpec => ({ kind: 'bias', name, inputs: [input], output: name, bias: randF32(c) });

  it('joins the bias of the convolution, or the shift of the BatchNorm, before it', () => {
    const g = graph([2, 4, 4], [
      conv('c1', 'x', 2, 3, 3, { hasBias: false, bias: new Float32Array(3) }), bias('b1', 'c1', 3), bias('b2', 'b1', 3),
      { kind: 'relu', name: 'r', inputs: ['b2'], output: 'r' }, bn('bn', 'r', 3), bias('b3', 'bn', 3),
    ]);
    const { graph: out, report } = run(foldBias, g);
    expect(kinds(out)).toEqual(['conv', 'relu', 'batchnorm']);
    expect(out.layers[0]).toMatchObject({ output: 'b2', hasBias: true });
    expect(out.output).toBe('b3');
    expect(report.summary).toBe('folded 3 bias Add (2 into conv layers, 1 into batchnorm layers)');
    expectSameFunction(g, out);
  });

  it('then fold-batchnorm folds Conv → BatchNorm → Add(bias) whole', () => {
    const g = graph([2, 4, 4], [conv('c1', 'x', 2, 3), bn('bn', 'c1', 3), bias('b', 'bn', 3)]);
    const { graph: out, reports } = canonize(g);
    expect(kinds(out)).toEqual(['conv']);
    expect(reports.map((r) => r.changed)).toEqual([true, true, false, false, false, false]);
    expectSameFunction(g, out);
  });

  it('a bias after anything else is refused by name when canonizing', () => {
    const g = graph([2, 4, 4], [{ kind: 'relu', name: 'r', inputs: ['x'], output: 'r' }, bias('after-relu', 'r', 2)]);
    expect(kinds(run(foldBias, g).graph)).toEqual(['relu', 'bias']);
    expect(() => canonize(g)).toThrow(/layer 'after-relu': an Add of a constant is supported only as a bias after a Conv/);
  });
});

describe('merge-pads', () => {
  const pad = (name: string, input: string, pads: [number, number, number, number]): LayerSpec => ({ kind: 'pad', name, inputs: [input], output: name, pads });

  it('merges into the convolution after it (adding to its padding)', () => {
    const g = graph([2, 5, 6], [pad('p', 'x', [1, 0, 2, 3]), conv('c', 'p', 2, 3, 3, { pads: [1, 1, 0, 1], stride: [2, 1] })]);
    const { graph: out, report } = run(mergePads, g);
    expect(kinds(out)).toEqual(['conv']);
    expect(out.layers[0]).toMatchObject({ inputs: ['x'], pads: [2, 1, 2, 4] });
    expect(report.summary).toBe("merged 1 Pad into the next layer's padding");
    expectSameFunction(g, out);
  });

  it('merges into an average pooling that counts padding, not one that excludes it, nor a max-pooling', () => {
    const pool = (name: string, input: string, kind: 'avgpool' | 'maxpool', countIncludePad: boolean): LayerSpec => (kind === 'avgpool'
      ? { kind, name, inputs: [input], output: name, kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], ceilMode: true, countIncludePad }
      : { kind, name, inputs: [input], output: name, kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], ceilMode: true, dilation: [1, 1] });
    const g = graph([2, 7, 7], [
      pad('p1', 'x', [1, 1, 0, 0]), pool('a1', 'p1', 'avgpool', true),
      pad('p2', 'x', [1, 1, 0, 0]), pool('a2', 'p2', 'avgpool', false),
      pad('p3', 'x', [1, 1, 0, 0]), pool('m', 'p3', 'maxpool', false),
      { kind: 'concat', name: 'cat', inputs: ['a1', 'a2', 'm'], output: 'cat' },
    ]);
    const { graph: out, report } = run(mergePads, g);
    expect(kinds(out)).toEqual(['avgpool', 'pad', 'avgpool', 'pad', 'maxpool', 'concat']);
    expect(report.summary).toBe("merged 1 Pad into the next layer's padding; kept 2 Pad standalone");
    expectSameFunction(g, out);
  });

  it('removes a Pad of zero width (DenseNet transitions export one before each AveragePool)', () => {
    const g = graph([2, 4, 4], [pad('p', 'x', [0, 0, 0, 0]), { kind: 'relu', name: 'r', inputs: ['p'], output: 'r' }]);
    const { graph: out, report } = run(mergePads, g);
    expect(kinds(out)).toEqual(['relu']);
    expect(out.layers[0].inputs).toEqual(['x']);
    expect(report.summary).toBe('removed 1 Pad of zero width');
  });
});

describe('strip-softmax', () => {
  const fc = (name: string, input: string, inF: number, outF: number): LayerSpec => ({
    kind: 'dense', name, inputs: [input], output: name, inFeatures: inF, outFeatures: outF, weight: randF32(inF * outF), bias: randF32(outF),
  });

  it('removes the trailing Softmax: the output and the declared outputs name the logits', () => {
    const g = graph([5], [fc('fc', 'x', 5, 3), { kind: 'softmax', name: 'sm', inputs: ['fc'], output: 'prob' }], 'prob', ['prob']);
    const { graph: out, report } = run(stripSoftmax, g);
    expect(kinds(out)).toEqual(['dense']);
    expect(out.output).toBe('fc');
    expect(out.outputs).toEqual(['fc']);
    expect(report.summary).toBe('stripped 1 trailing Softmax (the output is the logits)');
  });

  it('keeps a Softmax over the last axis that another layer reads (attention), refuses one over another axis', () => {
    const inner = (lastAxis?: boolean) => graph([5], [
      fc('fc', 'x', 5, 3), { kind: 'softmax', name: 'sm', inputs: ['fc'], output: 'p', ...(lastAxis === undefined ? {} : { lastAxis }) }, fc('fc2', 'p', 3, 2),
    ]);
    const { graph: out, report } = run(stripSoftmax, inner());
    expect(kinds(out)).toEqual(['dense', 'softmax', 'dense']);
    expect(report.changed).toBe(false);
    expect(() => stripSoftmax.run(inner(false))).toThrow("layer 'sm': a Softmax inside the network is supported only over the last axis");
  });
});

describe('fuse-gated-activations', () => {
  const act = (kind: 'sigmoid' | 'hardsigmoid', name: string, input: string): LayerSpec => (kind === 'sigmoid'
    ? { kind, name, inputs: [input], output: name }
    : { kind, name, inputs: [input], output: name, alpha: 0.2, beta: 0.4 });
  const gate = (name: string, x: string, g: string): LayerSpec => ({ kind: 'gate', name, inputs: [x, g], output: name });

  it('Mul(x, Sigmoid(x)) becomes SiLU, Mul(x, HardSigmoid(x)) HardSwish with its alpha and beta; an SE gate stays', () => {
    const g = graph([2, 5, 3], [
      conv('c1', 'x', 2, 4), act('sigmoid', 's1', 'c1'), gate('m1', 'c1', 's1'),
      conv('c2', 'm1', 4, 4), act('hardsigmoid', 'h2', 'c2'), gate('m2', 'c2', 'h2'),
      { kind: 'globalavgpool', name: 'sq', inputs: ['m2'], output: 'sq' }, conv('fc', 'sq', 4, 4, 1), act('sigmoid', 'sg', 'fc'),
      gate('se', 'm2', 'sg'),
    ]);
    const r = run(fuseGatedActivations, g);
    expect(kinds(r.graph)).toEqual(['conv', 'silu', 'conv', 'hardswish', 'globalavgpool', 'conv', 'sigmoid', 'gate']);
    expect(r.graph.layers.find((l) => l.name === 'm2')).toMatchObject({ kind: 'hardswish', alpha: 0.2, beta: 0.4, inputs: ['c2'] });
    expect(r.report).toEqual({
      pass: 'fuse-gated-activations', changed: true,
      summary: 'fused 1 Mul(x, Sigmoid(x)) into SiLU; fused 1 Mul(x, HardSigmoid(x)) into HardSwish; 1 other gate (squeeze-and-excitation or the like) stay',
    });
    expectSameFunction(g, r.graph, 1e-12);
  });

  it("leaves a gate whose sigmoid something else reads, or that is a graph output, or of another value's sigmoid", () => {
    const g = graph([2, 4, 4], [
      conv('c1', 'x', 2, 2), act('sigmoid', 's1', 'c1'), gate('m1', 'c1', 's1'),
      { kind: 'add', name: 'a', inputs: ['m1', 's1'], output: 'a' },
      conv('c2', 'a', 2, 2), act('sigmoid', 's2', 'c2'), gate('m2', 'c2', 's2'),
      conv('c3', 'm2', 2, 2), act('sigmoid', 's3', 'c2'), gate('m3', 'c3', 's3'),
    ], 'm3', ['m3', 's2']);
    const r = run(fuseGatedActivations, g);
    expect(r.graph).toBe(g);
    expect(r.report).toEqual({ pass: 'fuse-gated-activations', changed: false, summary: '3 other gates (squeeze-and-excitation or the like) stay' });
  });
});

describe('canonize', () => {
  it('runs every pass in order and reports each, "nothing to do" included', () => {
    const g = graph([2, 4, 4], [conv('c', 'x', 2, 2), { kind: 'relu', name: 'r', inputs: ['c'], output: 'r' }]);
    const { graph: out, reports } = canonize(g);
    expect(out).toBe(g);
    expect(reports.map((r) => r.pass)).toEqual(PASSES.map((p) => p.name));
    expect(formatReports(reports)).toBe([
      '  fold-bias               nothing to do',
      '  fold-batchnorm          nothing to do',
      '  fuse-gated-activations  nothing to do',
      '  merge-pads              nothing to do',
      '  strip-softmax           nothing to do',
      '  transpose-views         nothing to do',
    ].join('\n'));
  });

  it('a DenseNet-like block: BatchNorms after concatenations stay, the rest fold, the function is kept', () => {
    const layers: LayerSpec[] = [conv('conv0', 'x', 3, 4), bn('norm0', 'conv0', 4), { kind: 'relu', name: 'relu0', inputs: ['norm0'], output: 'relu0' }];
    let feats = ['relu0'];
    let c = 4;
    for (let i = 1; i <= 2; i++) {
      const cat = `cat${i}`;
      layers.push({ kind: 'concat', name: cat, inputs: feats, output: cat });
      layers.push(bn(`norm1.${i}`, cat, c), { kind: 'relu', name: `relu1.${i}`, inputs: [`norm1.${i}`], output: `relu1.${i}` });
      layers.push(conv(`conv1.${i}`, `relu1.${i}`, c, 4, 1, { hasBias: false, bias: new Float32Array(4) }), bn(`norm2.${i}`, `conv1.${i}`, 4));
      layers.push({ kind: 'relu', name: `relu2.${i}`, inputs: [`norm2.${i}`], output: `relu2.${i}` }, conv(`conv2.${i}`, `relu2.${i}`, 4, 2));
      feats = [...feats, `conv2.${i}`];
      c += 2;
    }
    const g = graph([3, 6, 6], layers);
    const { graph: out, reports } = canonize(g);
    expect(reports[1].summary).toBe('folded 3 BatchNorm into conv layers; kept 2 BatchNorm standalone (2 after concat)');
    expect(out.layers.filter((l: Layer) => l.kind === 'batchnorm').map((l) => l.name)).toEqual(['norm1.1', 'norm1.2']);
    expectSameFunction(g, out);
  });
});
