import { describe, expect, it } from 'vitest';
import type { Graph, Layer, LinearLayer } from '../src/graph/ir.ts';
import { isLinear, numel } from '../src/graph/ir.ts';
import { BUILTIN_MODELS, Rng, builtinModel, builtinModelUncanonized, isBuiltinSpec } from '../src/graph/zoo.ts';
import { canonize } from '../src/graph/canonize/index.ts';
import { formatCount, formatSummary, summarizeGraph } from '../src/graph/summary.ts';
import { randomArray, referenceForward } from './reference/forward.ts';

function layer(g: Graph, name: string): Layer {
  const l = g.layers.find((x) => x.name === name);
  if (!l) throw new Error(`no layer ${name}`);
  return l;
}

function linear(g: Graph, name: string): LinearLayer {
  const l = layer(g, name);
  if (!isLinear(l)) throw new Error(`${name} is not linear`);
  return l;
}

function stats(a: Float32Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    s2 += a[i] * a[i];
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean) };
}

let caffenetDefault: Graph | undefined;
/** caffenet:random, built once: several tests only read it. */
const caffenet0 = (): Graph => (caffenetDefault ??= builtinModel('caffenet:random'));

/** Elementwise equality without vitest's deep-equal, which crawls on 100M-element arrays. */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('built-in models: architecture', () => {
  it('vgg16: 138,357,544 parameters, 15.47 GMACs, torchvision names', () => {
    const g = builtinModel('vgg16:random');
    const s = summarizeGraph(g);
    expect(s.totalParams).toBe(138_357_544);
    expect(s.totalMacs).toBe(15_470_264_320);
    expect(g.input).toEqual({ name: 'input', shape: [3, 224, 224] });
    expect(g.output).toBe('logits');
    expect(g.values.get('logits')!.shape).toEqual([1000]);
    expect(g.values.get('features.30')!.shape).toEqual([512, 7, 7]);
    expect(linear(g, 'classifier.0').weight.length).toBe(4096 * 25088);
    expect(layer(g, 'classifier.2').kind).toBe('identity');
    expect(g.layers.filter((l) => l.kind === 'conv')).toHaveLength(13);
    expect(formatSummary(s)).toContain('138,357,544');
  });

  it('vgg11: 132,863,336 parameters', () => {
    const g = builtinModel('vgg11:random');
    const s = summarizeGraph(g);
    expect(s.totalParams).toBe(132_863_336);
    expect(s.totalMacs).toBe(7_609_090_048);
    expect(g.layers.filter((l) => l.kind === 'conv')).toHaveLength(8);
    expect(g.values.get('features.20')!.shape).toEqual([512, 7, 7]);
  });

  it('alexnet: 61,100,840 parameters, 6x6 map before the classifier', () => {
    const g = builtinModel('alexnet:random');
    const s = summarizeGraph(g);
    expect(s.totalParams).toBe(61_100_840);
    expect(s.totalMacs).toBe(714_188_480);
    expect(g.values.get('features.12')!.shape).toEqual([256, 6, 6]);
    expect(layer(g, 'avgpool').kind).toBe('identity');
    expect(linear(g, 'classifier.1').weight.length).toBe(4096 * 9216);
  });

  it('caffenet: 60,965,224 parameters, pool before LRN, grouped convs', () => {
    const g = caffenet0();
    const s = summarizeGraph(g);
    expect(s.totalParams).toBe(60_965_224);
    expect(g.input.shape).toEqual([3, 227, 227]);
    const order = g.layers.map((l) => l.name);
    expect(order.slice(0, 8)).toEqual(['conv1', 'relu1', 'pool1', 'norm1', 'conv2', 'relu2', 'pool2', 'norm2']);
    const groups = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'].map((n) => {
      const l = layer(g, n);
      return l.kind === 'conv' ? l.groups : 0;
    });
    expect(groups).toEqual([1, 2, 1, 2, 2]);
    const norm = layer(g, 'norm1');
    expect(norm).toMatchObject({ kind: 'lrn', size: 5, alpha: 1e-4, beta: 0.75, bias: 1 });
    expect(g.values.get('pool5')!.shape).toEqual([256, 6, 6]);
  });

  it('caffenet: activations keep an O(1) scale through the random network', () => {
    const g = builtinModel('caffenet:random:3');
    const values = referenceForward(g, randomArray(numel(g.input.shape), 1), 1);
    const rms = (a: Float64Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    for (const name of ['conv1', 'conv5', 'fc7', 'logits']) {
      const r = rms(values.get(name)!);
      expect(r, name).toBeGreaterThan(0.3);
      expect(r, name).toBeLessThan(30);
    }
  });
});

describe('built-in residual models', () => {
  // torchvision's trainable parameter counts (sum of p.numel() over model.parameters(): BatchNorm's
  // scale and shift, not its running statistics; no conv biases) and its multiply-adds at 224.
  const cases = [
    { spec: 'resnet18:random', params: 11_689_512, macs: 1_814_073_344, bn: 20, adds: 8 },
    { spec: 'resnet50:random', params: 25_557_032, macs: 4_089_184_256, bn: 53, adds: 16 },
    { spec: 'mobilenetv2:random', params: 3_504_872, macs: 300_774_272, bn: 52, adds: 10 },
    { spec: 'efficientnet_b0:random', params: 5_288_548, macs: 385_814_752, bn: 49, adds: 9 },
  ];
  for (const c of cases) {
    it(`${c.spec}: ${formatCount(c.params)} parameters before canonization, ${c.bn} BatchNorm folded, ${c.adds} skip sums`, () => {
      const raw = builtinModelUncanonized(c.spec);
      const s = summarizeGraph(raw);
      expect(s.totalParams).toBe(c.params);
      expect(s.totalMacs).toBe(c.macs);
      expect(raw.layers.filter((l) => l.kind === 'batchnorm')).toHaveLength(c.bn);
      const { graph, reports } = canonize(raw);
      expect(reports.find((r) => r.pass === 'fold-batchnorm')!.summary).toBe(`folded ${c.bn} BatchNorm into conv layers`);
      expect(graph.layers.filter((l) => l.kind === 'batchnorm')).toHaveLength(0);
      expect(graph.layers.filter((l) => l.kind === 'add')).toHaveLength(c.adds);
      expect(graph.values.get('logits')!.shape).toEqual([1000]);
      expect(summarizeGraph(graph).totalMacs).toBe(c.macs);
    });
  }

  it('torchvision names: resnet50 bottlenecks with a downsample, mobilenetv2 inverted residuals with ReLU6', () => {
    const r = builtinModel('resnet50:random');
    expect(layer(r, 'layer1.0.downsample.0')).toMatchObject({ kind: 'conv', kernel: [1, 1], outChannels: 256 });
    expect(layer(r, 'layer2.0.conv2')).toMatchObject({ kind: 'conv', stride: [2, 2] });
    expect(layer(r, 'layer4.2.add').inputs).toEqual(['layer4.2.bn3', 'layer4.1.relu_2']);
    const m = builtinModel('mobilenetv2:random');
    expect(layer(m, 'features.2.conv.1.0')).toMatchObject({ kind: 'conv', groups: 96, stride: [2, 2] });
    expect(layer(m, 'features.2.conv.1.2')).toMatchObject({ kind: 'clip', min: 0, max: 6 });
    expect(layer(m, 'features.3.add').inputs).toEqual(['features.2.conv.3', 'features.3.conv.3']);
  });

  it('torchvision names: efficientnet_b0 MBConv blocks with SiLU and squeeze-and-excitation gates', () => {
    const e = builtinModel('efficientnet_b0:random');
    expect(e.layers.filter((l) => l.kind === 'silu')).toHaveLength(49);
    expect(e.layers.filter((l) => l.kind === 'gate')).toHaveLength(16);
    expect(layer(e, 'features.3.0.block.1.0')).toMatchObject({ kind: 'conv', groups: 144, kernel: [5, 5], stride: [2, 2], pads: [2, 2, 2, 2] });
    expect(layer(e, 'features.3.0.block.2.fc1')).toMatchObject({ kind: 'conv', inChannels: 144, outChannels: 6, kernel: [1, 1] });
    expect(layer(e, 'features.3.0.block.2.mul').inputs).toEqual(['features.3.0.block.1.2', 'features.3.0.block.2.scale_activation']);
    expect(layer(e, 'features.3.1.add').inputs).toEqual(['features.3.0.block.3.1', 'features.3.1.block.3.1']);
    expect(layer(e, 'features.1.0.block.0.0')).toMatchObject({ kind: 'conv', groups: 32 });
    expect(e.values.get('features.8.2')!.shape).toEqual([1280, 7, 7]);
  });

  it('activations keep an O(1) scale (at a 64-pixel input, on the float64 reference)', () => {
    for (const spec of ['resnet50:random', 'mobilenetv2:random', 'efficientnet_b0:random']) {
      const g = builtinModel(spec, { inputSize: 64 });
      const values = referenceForward(g, randomArray(numel(g.input.shape), 2), 1);
      const rms = (a: Float64Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
      for (const l of g.layers.filter((x) => x.kind === 'add' || x.output === 'logits')) {
        const r = rms(values.get(l.output)!);
        expect(r, `${spec} ${l.name}`).toBeGreaterThan(0.1);
        expect(r, `${spec} ${l.name}`).toBeLessThan(100);
      }
    }
  });

  it('only the fully convolutional models take another input size', () => {
    expect(builtinModel('resnet18:random', { inputSize: 32 }).input.shape).toEqual([3, 32, 32]);
    expect(() => builtinModel('vgg16:random', { inputSize: 64 })).toThrow(/vgg16 has a fixed input size/);
  });
});

describe('built-in models: weights', () => {
  it('are deterministic for a seed and differ between seeds', () => {
    const a = builtinModel('alexnet:random:7');
    const b = builtinModel('alexnet:random:7');
    const c = builtinModel('alexnet:random:8');
    for (const name of ['features.0', 'features.10', 'classifier.6']) {
      expect(sameValues(linear(a, name).weight, linear(b, name).weight), name).toBe(true);
      expect(sameValues(linear(a, name).weight, linear(c, name).weight), name).toBe(false);
    }
    expect(a.name).toBe('alexnet:random:7');
  });

  it('default to seed 0', () => {
    const a = caffenet0();
    const b = builtinModel('caffenet:random:0');
    expect(sameValues(linear(a, 'conv2').weight, linear(b, 'conv2').weight)).toBe(true);
  });

  it('are He-initialised (std sqrt(2 / fan_in), mean 0) with zero biases', () => {
    const g = builtinModel('caffenet:random:1');
    const cases: [string, number][] = [
      ['conv1', 3 * 11 * 11],
      ['conv2', (96 / 2) * 5 * 5], // grouped: fan-in is per group
      ['conv4', (384 / 2) * 3 * 3],
      ['fc6', 9216],
      ['fc8', 4096],
    ];
    for (const [name, fanIn] of cases) {
      const l = linear(g, name);
      const { mean, std } = stats(l.weight);
      const expected = Math.sqrt(2 / fanIn);
      expect(std / expected, name).toBeGreaterThan(0.98);
      expect(std / expected, name).toBeLessThan(1.02);
      expect(Math.abs(mean) / expected, name).toBeLessThan(0.02);
      expect(l.bias.every((v) => v === 0), name).toBe(true);
    }
  });
});

describe('Rng', () => {
  it('normals have the right moments and tails', () => {
    const a = new Float64Array(1_000_000);
    new Rng(42).fillNormal(a, 1);
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    let beyond2 = 0;
    for (const v of a) {
      s += v;
      s2 += v * v;
      s4 += v ** 4;
      if (Math.abs(v) > 2) beyond2++;
    }
    const n = a.length;
    expect(Math.abs(s / n)).toBeLessThan(0.005);
    expect(s2 / n).toBeCloseTo(1, 2);
    expect(s4 / n).toBeCloseTo(3, 1);
    expect(beyond2 / n).toBeCloseTo(0.0455, 3);
  });

  it('fillNormal draws the same stream as normal()', () => {
    const a = new Float64Array(10_000);
    new Rng(5).fillNormal(a, 2);
    const r = new Rng(5);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBe(2 * r.normal());
  });

  it('uniform lies in (0, 1)', () => {
    const r = new Rng(9);
    for (let i = 0; i < 10_000; i++) {
      const u = r.uniform();
      expect(u > 0 && u < 1).toBe(true);
    }
  });
});

describe('builtinModel specs', () => {
  it('lists the available models for an unknown name', () => {
    expect(() => builtinModel('resnet34:random')).toThrow(/vgg16:random.*vgg11.*alexnet.*caffenet.*resnet18.*resnet50.*mobilenetv2.*efficientnet_b0/);
  });

  it('rejects missing or non-random weights and bad seeds', () => {
    expect(() => builtinModel('vgg16')).toThrow(/only random weights/);
    expect(() => builtinModel('vgg16:imagenet')).toThrow(/only random weights/);
    expect(() => builtinModel('alexnet:random:-1')).toThrow(/seed/);
    expect(() => builtinModel('alexnet:random:1.5')).toThrow(/seed/);
    expect(() => builtinModel('alexnet:random:4294967296')).toThrow(/seed/);
  });

  it('BUILTIN_MODELS and isBuiltinSpec', () => {
    expect(BUILTIN_MODELS).toEqual(['vgg16', 'vgg11', 'alexnet', 'caffenet', 'resnet18', 'resnet50', 'mobilenetv2', 'efficientnet_b0', 'vit_b_16']);
    expect(isBuiltinSpec('vgg16:random')).toBe(true);
    expect(isBuiltinSpec('caffenet:random:12')).toBe(true);
    expect(isBuiltinSpec('models/vgg16.onnx')).toBe(false);
    expect(isBuiltinSpec('C:\\models\\vgg16.onnx')).toBe(false);
  });
});

describe('summary formatting', () => {
  it('uses locale-independent thousands separators', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1000)).toBe('1,000');
    expect(formatCount(138357544)).toBe('138,357,544');
  });

  it('aligns columns', () => {
    const text = formatSummary(summarizeGraph(caffenet0()));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^layer\s+kind\s+input\s+output\s+params\s+MACs$/);
    // Right-aligned numeric columns: every row with a params count ends at the same column.
    const ends = lines.filter((l) => /^(conv|fc)\d/.test(l)).map((l) => l.length);
    expect(new Set(ends).size).toBe(1);
    expect(lines.at(-1)).toMatch(/^total\s+60,965,224\s+724,406,816$/);
  });
});
