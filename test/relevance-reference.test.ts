// The float64 CPU relevance reference against zennit's reference vectors, and its own properties:
// conservation of the conserving rules, the gradient rules against finite differences of the
// forward reference, and pooling rules against their linear-layer equivalents.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConvLayer, DenseLayer, Graph, Layer, Shape } from '../src/graph/ir.ts';
import { isLinear, numel } from '../src/graph/ir.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { Rng } from '../src/graph/zoo.ts';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import type { LayerRule, LinearRule, Method } from '../src/lrp/rule-spec.ts';
import { DEFAULT_STABILIZER } from '../src/lrp/rule-spec.ts';
import { relL2 } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import { withZennitMergedBatchNorm, zennitCanonized } from './helpers/zennit.ts';
import { randomArray, referenceForward, referenceLayer } from './reference/forward.ts';
import { referenceExplain, referenceLayerRelevance } from './reference/relevance.ts';

// ---------------------------------------------------------------------------------------------
// zennit reference vectors
// ---------------------------------------------------------------------------------------------

interface CompositeJson {
  stabilizer?: number;
  method?: Method;
  rules?: ({ layers: string; rule: string } & Record<string, unknown>)[];
}

interface CaseJson {
  name: string;
  composite: CompositeJson;
  target: number[];
  init: 'onehot' | 'logit';
  expected: string;
  tolerance: number;
}

/**
 * A small local reading of composite-spec.md (selectors conv, dense, linear, #k, #k-m only), so
 * this test does not depend on the real composite parser.
 */
function compositeRules(graph: Graph, c: CompositeJson): { rules: Map<string, LayerRule>; method: Method | null } {
  const rules = new Map<string, LayerRule>();
  if (c.method) return { rules, method: c.method };
  const stabilizer = c.stabilizer ?? DEFAULT_STABILIZER;
  const linear = graph.layers.filter(isLinear);
  const pick = (sel: string): Layer[] => {
    if (sel === 'linear') return linear;
    if (sel === 'conv' || sel === 'dense') return linear.filter((l) => l.kind === sel);
    const m = /^#(-?\d+)(?:-(\d+))?$/.exec(sel);
    if (!m) throw new Error(`selector ${sel} is not handled by this test`);
    const at = (k: number): number => (k < 0 ? linear.length + k : k);
    const lo = at(Number(m[1]));
    const hi = m[2] === undefined ? lo : at(Number(m[2]));
    return linear.slice(lo, hi + 1);
  };
  const bounds = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : [Number(v)]);
  for (const e of c.rules ?? []) {
    let rule: LinearRule;
    switch (e.rule) {
      case 'z': rule = { rule: 'z', stabilizer }; break;
      case 'epsilon': rule = { rule: 'epsilon', epsilon: Number(e.epsilon) }; break;
      case 'zplus': rule = { rule: 'zplus', stabilizer }; break;
      case 'alpha-beta': rule = { rule: 'alpha-beta', alpha: Number(e.alpha), beta: Number(e.beta), stabilizer }; break;
      case 'gamma': rule = { rule: 'gamma', gamma: Number(e.gamma), stabilizer }; break;
      case 'flat': rule = { rule: 'flat', stabilizer }; break;
      case 'wsquare': rule = { rule: 'wsquare', stabilizer }; break;
      case 'zbox': rule = { rule: 'zbox', low: bounds(e.low), high: bounds(e.high), stabilizer }; break;
      default: throw new Error(`rule ${e.rule} is not handled by this test`);
    }
    for (const l of pick(e.layers)) rules.set(l.name, rule);
  }
  // Unselected linear layers get z; the other layers take referenceExplain's LRP defaults
  // (ReLU and LRN pass, max-pool winner, average pool norm).
  for (const l of linear) if (!rules.has(l.name)) rules.set(l.name, { rule: 'z', stabilizer });
  return { rules, method: null };
}

/**
 * How far the exactly folded residual models may be from zennit's references, whose BatchNorm merge
 * leaves a factor 1 / sqrt(1 + eps) per merged BatchNorm (largest seen: 1.23e-3, alpha2beta1 on
 * mobilenet-v2-tiny, whose depthwise layers have 9-tap denominators).
 */
const EXACT_FOLD_BOUND = 2e-3;

/** Both reference sets: the plain CNNs, and the residual ones (skip sums, BatchNorm, ReLU6). */
const models: string[] = ['testvectors/zennit', 'testvectors/zennit-residual'].flatMap((set) =>
  haveShared(`${set} reference vectors`, `${set}/index.json`)
    ? (JSON.parse(readFileSync(sharedPath(`${set}/index.json`), 'utf8')) as string[]).map((m) => `${set}/${m}`)
    : []);

const readNpy = (path: string): { shape: number[]; data: Float32Array } => {
  const a = parseNpy(new Uint8Array(readFileSync(path)), path);
  return { shape: a.shape, data: npyToFloat32(a) };
};

describe('CPU relevance reference vs zennit 0.5.1', () => {
  it.skipIf(models.length === 0)('has reference vectors to check', () => expect(models.length).toBeGreaterThan(0));

  for (const dir of models) {
    const model = dir.split('/').slice(-2).join('/');
    it(`${model}: every case within its tolerance`, () => {
      const spec = JSON.parse(readFileSync(sharedPath(`${dir}/cases.json`), 'utf8')) as { cases: CaseJson[]; input_shape: number[] };
      const graph = importOnnx(new Uint8Array(readFileSync(sharedPath(`${dir}/model.onnx`))), { source: model });
      const input = readNpy(sharedPath(`${dir}/input.npy`));
      const batch = input.shape[0];
      const x = Float64Array.from(input.data);
      const errors: string[] = [];
      const failures: string[] = [];
      const residual = dir.includes('zennit-residual');
      const zennitGraph = residual ? withZennitMergedBatchNorm(graph) : graph;
      for (const c of spec.cases) {
        const g = zennitCanonized(c) ? zennitGraph : graph;
        const { rules, method } = compositeRules(g, c.composite);
        const got = referenceExplain(g, rules, method, x, batch, c.target, c.init);
        const want = readNpy(sharedPath(`${dir}/${c.expected}`)).data;
        const err = relL2(got, want);
        let note = '';
        if (g !== graph) {
          // The same case on the exactly folded model: what zennit's leftover 1 / sqrt(1 + eps) alone changes.
          const exact = relL2(referenceExplain(graph, compositeRules(graph, c.composite).rules, method, x, batch, c.target, c.init), want);
          note = ` (exactly folded: ${exact.toExponential(2)})`;
          if (!(exact <= EXACT_FOLD_BOUND)) failures.push(`${c.name} (${c.init}) exactly folded: ${exact} > ${EXACT_FOLD_BOUND}`);
        }
        errors.push(`${c.name}/${c.init} ${err.toExponential(2)}${note}`);
        if (!(err <= c.tolerance)) failures.push(`${c.name} (${c.init}): ${err} > ${c.tolerance}`);
      }
      console.log(`${model}: ${errors.join(', ')}`);
      expect(failures).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Conservation
// ---------------------------------------------------------------------------------------------

const rng = new Rng(7);
function randF32(n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
}

function conv(inC: number, outC: number, kernel: [number, number], o: Partial<ConvLayer> = {}, zeroBias = true): ConvLayer {
  const groups = o.groups ?? 1;
  const fanIn = (inC / groups) * kernel[0] * kernel[1];
  return {
    kind: 'conv', name: 'conv', inputs: ['x'], output: 'y', inChannels: inC, outChannels: outC, kernel,
    stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups,
    weight: randF32(outC * fanIn, Math.sqrt(2 / fanIn)), bias: zeroBias ? new Float32Array(outC) : randF32(outC, 0.3), ...o,
  };
}

function dense(inF: number, outF: number, zeroBias = true): DenseLayer {
  return {
    kind: 'dense', name: 'dense', inputs: ['x'], output: 'y', inFeatures: inF, outFeatures: outF,
    weight: randF32(inF * outF, Math.sqrt(2 / inF)), bias: zeroBias ? new Float32Array(outF) : randF32(outF, 0.3),
  };
}

const sum = (a: ArrayLike<number>, from = 0, to = a.length): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i];
  return s;
};

interface LinearCase { label: string; layer: ConvLayer | DenseLayer; shape: Shape }

const linearCases = (zeroBias: boolean): LinearCase[] => [
  { label: 'conv 3x3 p1 s2', layer: conv(3, 5, [3, 3], { pads: [1, 1, 1, 1], stride: [2, 2] }, zeroBias), shape: [3, 9, 8] },
  { label: 'conv 3x3 groups 2 dilation 2 asym pads', layer: conv(4, 6, [3, 3], { groups: 2, dilation: [2, 2], pads: [2, 1, 0, 2] }, zeroBias), shape: [4, 8, 7] },
  { label: 'dense', layer: dense(29, 9, zeroBias), shape: [29] },
];

const TINY = 1e-12;
// Signed random inputs: with ReLU outputs (many zeros) an output whose field holds no positive
// (or no negative) contribution makes p_j (n_j) zero, and alpha-beta then loses alpha R_j (or
// beta R_j): conservation needs both denominators non-zero.
const conserving: [string, LinearRule][] = [
  ['z', { rule: 'z', stabilizer: TINY }],
  ['epsilon', { rule: 'epsilon', epsilon: TINY }],
  ['zplus', { rule: 'zplus', stabilizer: TINY }],
  ['alpha1beta0', { rule: 'alpha-beta', alpha: 1, beta: 0, stabilizer: TINY }],
  ['alpha2beta1', { rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: TINY }],
  ['gamma', { rule: 'gamma', gamma: 0.25, stabilizer: TINY }],
  ['flat', { rule: 'flat', stabilizer: TINY }],
  ['wsquare', { rule: 'wsquare', stabilizer: TINY }],
  ['zbox', { rule: 'zbox', low: [-3], high: [3], stabilizer: TINY }],
];

describe('conservation: sum_i R_i = sum_j R_j per sample with zero biases', () => {
  const N = 2;
  for (const c of linearCases(true)) {
    for (const [label, rule] of conserving) {
      it(`${c.label}: ${label}`, () => {
        const nIn = numel(c.shape);
        let x = randomArray(N * nIn, 3);
        if (rule.rule === 'zbox') x = x.map((v) => Math.min(Math.max(v, -3), 3));
        const z = referenceLayer(c.layer, [x], [c.shape], N);
        const R = randomArray(z.length, 4).map(Math.abs);
        const Rin = referenceLayerRelevance(c.layer, rule, x, c.shape, z, R, N);
        const nOut = z.length / N;
        for (let n = 0; n < N; n++) {
          let want = sum(R, n * nOut, (n + 1) * nOut);
          // gamma passes nothing through an output with z = 0 (none here, with random inputs).
          if (rule.rule === 'gamma') expect(z.every((v) => v !== 0)).toBe(true);
          if (rule.rule === 'epsilon' || rule.rule === 'z') want = sum(R.map((r, j) => r * z[j] / (z[j] + Math.sign(z[j]) * TINY)), n * nOut, (n + 1) * nOut);
          expect(sum(Rin, n * nIn, (n + 1) * nIn) / want).toBeCloseTo(1, 9);
        }
      });
    }
  }

  it('with biases, z: the difference is what the biases absorb, sum_j R_j b_j / z_j', () => {
    for (const c of linearCases(false)) {
      const x = randomArray(numel(c.shape), 5);
      const z = referenceLayer(c.layer, [x], [c.shape], 1);
      const R = randomArray(z.length, 6);
      const Rin = referenceLayerRelevance(c.layer, { rule: 'z', stabilizer: TINY }, x, c.shape, z, R, 1);
      const outPlane = z.length / c.layer.bias.length;
      const absorbed = sum(R.map((r, j) => r * c.layer.bias[Math.floor(j / outPlane)] / z[j]));
      expect((sum(Rin) + absorbed) / sum(R)).toBeCloseTo(1, 7);
      expect(Math.abs(absorbed)).toBeGreaterThan(1e-3);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Gradient rules vs finite differences; pooling rules vs equivalent convolutions
// ---------------------------------------------------------------------------------------------

/** d/dx of sum_j g_j f(x)_j by central differences of the forward reference. */
function numericGradient(layer: Layer, x: Float64Array, shape: Shape, g: Float64Array, N: number, h = 1e-6): Float64Array {
  const out = new Float64Array(x.length);
  const f = (v: Float64Array): number => {
    const y = referenceLayer(layer, [v], [shape], N);
    let s = 0;
    for (let j = 0; j < y.length; j++) s += y[j] * g[j];
    return s;
  };
  for (let i = 0; i < x.length; i++) {
    const xp = Float64Array.from(x);
    const xm = Float64Array.from(x);
    xp[i] += h;
    xm[i] -= h;
    out[i] = (f(xp) - f(xm)) / (2 * h);
  }
  return out;
}

describe('gradient rules are the derivative of the forward reference', () => {
  const io = { inputs: ['x'], output: 'y' };
  const cases: [string, Layer, Shape][] = [
    ['conv grouped strided', conv(4, 6, [3, 2], { groups: 2, stride: [2, 1], pads: [1, 0, 1, 1] }, false), [4, 6, 5]],
    ['dense', dense(13, 5, false), [13]],
    ['lrn size 5', { kind: 'lrn', name: 'lrn', ...io, size: 5, alpha: 0.3, beta: 0.75, bias: 1.5 }, [7, 2, 3]],
    ['lrn size 4 (even)', { kind: 'lrn', name: 'lrn', ...io, size: 4, alpha: 0.8, beta: 0.6, bias: 2 }, [6, 2, 2]],
    ['avgpool 3x3 s2 p1 ceil include pad', { kind: 'avgpool', name: 'ap', ...io, kernel: [3, 3], stride: [2, 2], pads: [1, 1, 0, 1], ceilMode: true, countIncludePad: true }, [2, 6, 7]],
    ['avgpool 3x2 s2 p1 ceil exclude pad', { kind: 'avgpool', name: 'ap', ...io, kernel: [3, 2], stride: [2, 2], pads: [1, 0, 1, 1], ceilMode: true, countIncludePad: false }, [2, 6, 7]],
    ['globalavgpool', { kind: 'globalavgpool', name: 'gap', ...io }, [3, 4, 5]],
    ['maxpool 3x3 s2 p1 ceil dilation', { kind: 'maxpool', name: 'mp', ...io, kernel: [3, 2], stride: [2, 1], pads: [1, 1, 0, 1], dilation: [1, 2], ceilMode: true }, [2, 7, 6]],
    ['relu', { kind: 'relu', name: 'relu', ...io }, [2, 3, 4]],
  ];
  for (const [label, layer, shape] of cases) {
    it(label, () => {
      const N = 2;
      const x = randomArray(N * numel(shape), 8);
      const z = referenceLayer(layer, [x], [shape], N);
      const g = randomArray(z.length, 9);
      const rule: LayerRule = layer.kind === 'maxpool' ? { rule: 'winner' } : { rule: 'gradient' };
      const got = referenceLayerRelevance(layer, rule, x, shape, z, g, N);
      expect(relL2(got, numericGradient(layer, x, shape, g, N))).toBeLessThan(1e-7);
    });
  }
});

describe('pooling rules equal their linear-layer equivalents', () => {
  // 2x2 stride-2 average pooling without padding is a depthwise conv with weights 1/4.
  const C = 3;
  const shape: Shape = [C, 6, 4];
  const pool: Layer = { kind: 'avgpool', name: 'ap', inputs: ['x'], output: 'y', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], ceilMode: false, countIncludePad: false };
  const dw = conv(C, C, [2, 2], { groups: C, stride: [2, 2], weight: new Float32Array(C * 4).fill(0.25) });
  const N = 2;
  const x = randomArray(N * numel(shape), 10);
  const z = referenceLayer(pool, [x], [shape], N);
  const R = randomArray(z.length, 11);

  it('avgpool norm = epsilon rule on the depthwise conv', () => {
    const a = referenceLayerRelevance(pool, { rule: 'norm', stabilizer: 0.01 }, x, shape, z, R, N);
    const b = referenceLayerRelevance(dw, { rule: 'epsilon', epsilon: 0.01 }, x, shape, z, R, N);
    expect(relL2(a, b)).toBeLessThan(1e-14);
  });

  it('avgpool flat without padding = R_j / (k (1 + eps)) to each window member', () => {
    const a = referenceLayerRelevance(pool, { rule: 'flat', stabilizer: 0.01 }, x, shape, z, R, N);
    const b = referenceLayerRelevance(dw, { rule: 'gradient' }, x, shape, z, R.map((r) => r / 1.01), N);
    expect(relL2(a, b)).toBeLessThan(1e-14);
  });

  it('maxpool proportional is the z rule on the window as a linear map', () => {
    const mp: Layer = { kind: 'maxpool', name: 'mp', inputs: ['x'], output: 'y', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], dilation: [1, 1], ceilMode: false };
    const zm = referenceLayer(mp, [x], [shape], N);
    const a = referenceLayerRelevance(mp, { rule: 'proportional', stabilizer: 1e-3 }, x, shape, zm, R, N);
    // R_i = x_i sum_j R_j / stab(z_j): a depthwise conv of ones, with z the window max.
    const ones = conv(C, C, [2, 2], { groups: C, stride: [2, 2], weight: new Float32Array(C * 4).fill(1) });
    const b = referenceLayerRelevance(ones, { rule: 'epsilon', epsilon: 1e-3 }, x, shape, zm, R, N);
    expect(relL2(a, b)).toBeLessThan(1e-14);
  });

  it('maxpool winner takes the first maximum on ties', () => {
    const mp: Layer = { kind: 'maxpool', name: 'mp', inputs: ['x'], output: 'y', kernel: [2, 2], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], ceilMode: false };
    // 2x3 input [[1, 2, 3], [3, 3, 3]]: windows {1, 2 / 3, 3} and {2, 3 / 3, 3}.
    const xt = Float64Array.of(1, 2, 3, 3, 3, 3);
    const zt = referenceLayer(mp, [xt], [[1, 2, 3]], 1);
    expect(Array.from(referenceLayerRelevance(mp, { rule: 'winner' }, xt, [1, 2, 3], zt, Float64Array.of(10, 100), 1)))
      .toEqual([0, 0, 100, 10, 0, 0]);
  });
});

// ---------------------------------------------------------------------------------------------
// The whole backward pass on a graph with fan-out, concat, LRN and both poolings
// ---------------------------------------------------------------------------------------------

describe('referenceExplain on a branching graph', () => {
  // x → conv1 → relu1 ─┬→ maxpool → conv2 → relu2 ─┬→ concat → flatten → dense
  //                    └→ avgpool → lrn ────────────┘
  const build = (zeroBias: boolean): Graph => {
    const b = new GraphBuilder('branching', 'x', [3, 8, 8]);
    b.add({ ...conv(3, 6, [3, 3], { pads: [1, 1, 1, 1] }, zeroBias), name: 'conv1', inputs: ['x'], output: 'c1' });
    b.add({ kind: 'relu', name: 'relu1', inputs: ['c1'], output: 'r1' });
    b.add({ kind: 'maxpool', name: 'mp', inputs: ['r1'], output: 'mp', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], dilation: [1, 1], ceilMode: false });
    b.add({ kind: 'avgpool', name: 'ap', inputs: ['r1'], output: 'ap', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], ceilMode: false, countIncludePad: false });
    b.add({ kind: 'lrn', name: 'lrn', inputs: ['ap'], output: 'lrn', size: 3, alpha: 0.5, beta: 0.75, bias: 1 });
    b.add({ ...conv(6, 4, [3, 3], { pads: [1, 1, 1, 1] }, zeroBias), name: 'conv2', inputs: ['mp'], output: 'c2' });
    b.add({ kind: 'relu', name: 'relu2', inputs: ['c2'], output: 'r2' });
    b.add({ kind: 'concat', name: 'cat', inputs: ['r2', 'lrn'], output: 'cat' });
    b.add({ kind: 'flatten', name: 'flat', inputs: ['cat'], output: 'f' });
    b.add({ ...dense(160, 5, zeroBias), name: 'fc', inputs: ['f'], output: 'logits' });
    return b.build('logits');
  };
  const N = 2;
  const targets = [3, 1];

  it('gradient = finite differences of the forward reference (fan-out sums, concat splits)', () => {
    const graph = build(false);
    const x = randomArray(N * 3 * 64, 21);
    const g = referenceExplain(graph, new Map(), 'gradient', x, N, targets, 'onehot');
    const h = 1e-6;
    const objective = (v: Float64Array): number => {
      const y = referenceForward(graph, v, N).get('logits')!;
      return y[targets[0]] + y[5 + targets[1]];
    };
    const numeric = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xp = Float64Array.from(x);
      const xm = Float64Array.from(x);
      xp[i] += h;
      xm[i] -= h;
      numeric[i] = (objective(xp) - objective(xm)) / (2 * h);
    }
    expect(relL2(g, numeric)).toBeLessThan(1e-6);
    const gxi = referenceExplain(graph, new Map(), 'gradient-x-input', x, N, targets, 'onehot');
    expect(relL2(gxi, g.map((v, i) => v * x[i]))).toBe(0);
  });

  it('LRP-z with zero biases conserves the seed through the whole graph', () => {
    const graph = build(true);
    const x = randomArray(N * 3 * 64, 22);
    const rules = new Map<string, LayerRule>([
      ['conv1', { rule: 'z', stabilizer: TINY }], ['conv2', { rule: 'z', stabilizer: TINY }], ['fc', { rule: 'z', stabilizer: TINY }],
      ['ap', { rule: 'norm', stabilizer: TINY }],
    ]);
    for (const init of ['onehot', 'logit'] as const) {
      const R = referenceExplain(graph, rules, null, x, N, targets, init);
      const logits = referenceForward(graph, x, N).get('logits')!;
      for (let n = 0; n < N; n++) {
        const seed = init === 'onehot' ? 1 : logits[n * 5 + targets[n]];
        expect(sum(R, n * 192, (n + 1) * 192) / seed).toBeCloseTo(1, 8);
      }
    }
  });
});
