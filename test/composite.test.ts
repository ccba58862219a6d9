// Composites: parsing, validation, presets and resolution against real models
// (shared/docs/composite-spec.md). No GPU needed.
import type { PatternSet } from '../src/patterns/pattern-set.ts';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Graph, Layer } from '../src/graph/ir.ts';
import { isLinear } from '../src/graph/ir.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { builtinModel } from '../src/graph/zoo.ts';
import type { ResolvedComposite, ResolveOptions } from '../src/lrp/composite.ts';
import { formatComposite, formatNumber, parseComposite, parseSelector, resolveComposite } from '../src/lrp/composite.ts';
import { PRESET_NAMES, presetDescription } from '../src/lrp/presets.ts';
import type { LayerRule } from '../src/lrp/rule-spec.ts';
import type { PreprocessSpec } from '../src/preprocess/spec.ts';
import { builtinPreprocess, caffeImagenet, torchvisionImagenet } from '../src/preprocess/presets.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const ZENNIT_MODELS = ['vgg-tiny', 'caffenet-tiny'] as const;
const haveZennit = Object.fromEntries(
  ZENNIT_MODELS.map((m) => [m, haveShared('composite tests', `testvectors/zennit/${m}/model.onnx`, `testvectors/zennit/${m}/cases.json`)]),
) as Record<(typeof ZENNIT_MODELS)[number], boolean>;

const zennitCache = new Map<string, Graph>();
function zennitModel(m: string): Graph {
  let g = zennitCache.get(m);
  if (!g) {
    const p = sharedPath(`testvectors/zennit/${m}/model.onnx`);
    g = importOnnx(new Uint8Array(readFileSync(p)), { source: p });
    zennitCache.set(m, g);
  }
  return g;
}

interface ZennitCase { name: string; composite: unknown }
function zennitCases(m: string): ZennitCase[] {
  return (JSON.parse(readFileSync(sharedPath(`testvectors/zennit/${m}/cases.json`), 'utf8')) as { cases: ZennitCase[] }).cases;
}

let vgg16: Graph | undefined;
let caffenet: Graph | undefined;
const builtins = {
  'vgg16:random': () => (vgg16 ??= builtinModel('vgg16:random')),
  'caffenet:random': () => (caffenet ??= builtinModel('caffenet:random')),
};

/** A small model with every layer kind a composite can meet, built by hand (no fixture needed). */
function tinyModel(): Graph {
  const b = new GraphBuilder('tiny', 'x', [3, 8, 8]);
  const conv = (name: string, input: string, inC: number, outC: number, k = 3, groups = 1): void => {
    b.add({
      kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [k, k],
      stride: [1, 1], pads: [1, 1, 1, 1], dilation: [1, 1], groups,
      weight: new Float32Array(outC * (inC / groups) * k * k).fill(0.1), bias: new Float32Array(outC),
    });
  };
  conv('c0', 'x', 3, 4);
  b.add({ kind: 'relu', name: 'r0', inputs: ['c0'], output: 'r0' });
  b.add({ kind: 'lrn', name: 'n0', inputs: ['r0'], output: 'n0', size: 3, alpha: 1e-4, beta: 0.75, bias: 1 });
  b.add({ kind: 'maxpool', name: 'mp', inputs: ['n0'], output: 'mp', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], dilation: [1, 1], ceilMode: false });
  conv('c1a', 'mp', 4, 2);
  conv('c1b', 'mp', 4, 2);
  b.add({ kind: 'concat', name: 'cat', inputs: ['c1a', 'c1b'], output: 'cat' });
  b.add({ kind: 'avgpool', name: 'ap', inputs: ['cat'], output: 'ap', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], ceilMode: false, countIncludePad: true });
  b.add({ kind: 'globalavgpool', name: 'gap', inputs: ['ap'], output: 'gap' });
  b.add({ kind: 'flatten', name: 'fl', inputs: ['gap'], output: 'fl' });
  b.add({ kind: 'dense', name: 'fc', inputs: ['fl'], output: 'fc', inFeatures: 4, outFeatures: 3, weight: new Float32Array(12), bias: new Float32Array(3) });
  b.add({ kind: 'identity', name: 'drop', inputs: ['fc'], output: 'drop' });
  b.add({ kind: 'dense', name: 'out', inputs: ['drop'], output: 'out', inFeatures: 3, outFeatures: 2, weight: new Float32Array(6), bias: new Float32Array(2) });
  return b.build('out');
}

/** An MLP on an image: a dense layer fed by the model input through Flatten (zbox per image channel). */
function mlpModel(): Graph {
  const b = new GraphBuilder('mlp', 'x', [3, 2, 2]);
  b.add({ kind: 'flatten', name: 'fl', inputs: ['x'], output: 'fl' });
  b.add({ kind: 'dense', name: 'fc0', inputs: ['fl'], output: 'fc0', inFeatures: 12, outFeatures: 5, weight: new Float32Array(60), bias: new Float32Array(5) });
  b.add({ kind: 'relu', name: 'r', inputs: ['fc0'], output: 'r' });
  b.add({ kind: 'dense', name: 'fc1', inputs: ['r'], output: 'fc1', inFeatures: 5, outFeatures: 2, weight: new Float32Array(10), bias: new Float32Array(2) });
  return b.build('fc1');
}

const resolve = (text: unknown, g: Graph, opts?: ResolveOptions): ResolvedComposite =>
  resolveComposite(parseComposite(text, 'composite.json'), g, opts);
const rulesOf = (r: ResolvedComposite, g: Graph): Record<string, LayerRule> =>
  Object.fromEntries(g.layers.map((l) => [l.name, r.rules.get(l.name)!]));
const linearNames = (g: Graph): string[] => g.layers.filter(isLinear).map((l) => l.name);
const comp = (...rules: unknown[]): string => JSON.stringify({ rules });

/** What every resolved composite must satisfy on any graph, whatever it is. */
function expectWellFormed(r: ResolvedComposite, g: Graph): void {
  expect([...r.rules.keys()].sort()).toEqual(g.layers.map((l) => l.name).sort());
  const linearRules = ['z', 'epsilon', 'zplus', 'alpha-beta', 'gamma', 'flat', 'wsquare', 'zbox'];
  for (const l of g.layers) {
    const rule = r.rules.get(l.name)!.rule;
    const allowed: Record<Layer['kind'], string[]> = r.method
      ? {
        conv: [r.method === 'pattern-attribution' ? 'pattern' : 'gradient'], dense: [r.method === 'pattern-attribution' ? 'pattern' : 'gradient'],
        relu: r.method === 'guided-backprop' ? ['guided'] : ['gradient'],
        maxpool: ['winner'], avgpool: ['gradient'], globalavgpool: ['gradient'], lrn: ['gradient'],
        flatten: ['pass'], identity: ['pass'], concat: ['pass'], pad: ['pass'],
        add: ['gradient'], batchnorm: ['gradient'], clip: ['gradient'], leakyrelu: ['gradient'], bias: [], softmax: ['gradient'],
        sigmoid: ['gradient'], tanh: ['gradient'], silu: ['gradient'], hardsigmoid: ['gradient'], hardswish: ['gradient'],
        gate: ['gradient'], scale: ['gradient'],
        slice: ['pass'], gather: ['pass'], concatconst: ['pass'], addconst: ['pass'], matmul: ['gradient'],
        transpose: ['pass'], reshape: ['pass'], layernorm: ['gradient'], gelu: ['gradient'],
      }
      : {
        conv: linearRules, dense: linearRules, relu: ['pass'], maxpool: ['winner', 'proportional'],
        avgpool: ['norm', 'flat'], globalavgpool: ['norm', 'flat'], lrn: ['pass'],
        flatten: ['pass'], identity: ['pass'], concat: ['pass'], pad: ['pass'],
        add: ['norm'], batchnorm: ['pass'], clip: ['pass'], leakyrelu: ['pass'], bias: [], softmax: ['pass'],
        sigmoid: ['pass'], tanh: ['pass'], silu: ['pass'], hardsigmoid: ['pass'], hardswish: ['pass'], gate: ['pass'], scale: ['pass'],
        slice: ['pass'], gather: ['pass'], concatconst: ['pass'], addconst: ['norm'], matmul: ['z', 'epsilon'],
        transpose: ['pass'], reshape: ['pass'], layernorm: ['norm', 'pass'], gelu: ['pass'],
      };
    expect(allowed[l.kind], `${l.name} (${l.kind})`).toContain(rule);
  }
}

/** The expected rule of each layer of a composite given as (linear layer -> rule), the rest default. */
function expectLinear(r: ResolvedComposite, g: Graph, linear: (l: Layer, k: number) => LayerRule): void {
  let k = 0;
  for (const l of g.layers) {
    const got = r.rules.get(l.name);
    if (isLinear(l)) expect(got, l.name).toEqual(linear(l, k++));
    else if (l.kind === 'maxpool') expect(got, l.name).toEqual({ rule: 'winner' });
    else if (l.kind === 'avgpool' || l.kind === 'globalavgpool') expect(got, l.name).toEqual({ rule: 'norm', stabilizer: 1e-6 });
    else expect(got, l.name).toEqual({ rule: 'pass' });
  }
}

const S = 1e-6;
const Z = { rule: 'z', stabilizer: S } as const;
const FLAT = { rule: 'flat', stabilizer: S } as const;
const AB = (alpha: number, beta: number) => ({ rule: 'alpha-beta', alpha, beta, stabilizer: S }) as const;
const EPS = (epsilon: number) => ({ rule: 'epsilon', epsilon }) as const;
const GAMMA = { rule: 'gamma', gamma: 0.25, stabilizer: S } as const;

// ---------------------------------------------------------------------------------------------
// Presets
// ---------------------------------------------------------------------------------------------

describe('presets', () => {
  it.skipIf(!haveShared('composite tests', 'docs/composite-spec.md'))('every preset of the doc table and every zennit alias exists and has a description', () => {
    // The doc's preset table: rows start with `| \`name\``; the methods row lists three names.
    const doc = readFileSync(sharedPath('docs/composite-spec.md'), 'utf8');
    const table = doc.slice(doc.indexOf('## Presets'));
    const documented = [...table.matchAll(/^\| (`[^|]+`)/gm)].flatMap((m) => [...m[1].matchAll(/`([a-z0-9-]+)`/g)].map((x) => x[1]));
    expect(documented).toContain('cmp-alpha2-flat');
    expect(documented).toContain('guided-backprop');
    // zennit's names, and this project's PatternAttribution (the paper's Table 1 row the doc's table lacks).
    const aliases = ['epsilon-plus', 'epsilon-plus-flat', 'epsilon-alpha2-beta1', 'epsilon-alpha2-beta1-flat', 'pattern-attribution'];
    expect([...PRESET_NAMES].sort()).toEqual([...new Set([...documented, ...aliases])].sort());
    for (const name of PRESET_NAMES) expect(presetDescription(name).length).toBeGreaterThan(10);
    expect(presetDescription('cmp-alpha2-flat')).toBe('LRP_CMP:α2+b: dense: epsilon (--epsilon, default 0.1); conv: alpha-beta 2, 1; #0: flat');
    expect(() => presetDescription('nope')).toThrow(/unknown composite preset 'nope'/);
  });

  // Graphs and specs are built lazily, inside the tests: a shared fixture that is absent must skip
  // its test, not fail the file while its cases are collected.
  const models: [string, () => Graph, () => PreprocessSpec, boolean][] = [
    ...ZENNIT_MODELS.map((m): [string, () => Graph, () => PreprocessSpec, boolean] => [
      m, () => zennitModel(m), () => torchvisionImagenet(zennitModel(m).input.shape[1]), haveZennit[m],
    ]),
    ...Object.entries(builtins).map(([name, build]): [string, () => Graph, () => PreprocessSpec, boolean] => [
      name, build, () => builtinPreprocess(name), true,
    ]),
  ];

  for (const [model, graph, specOf, available] of models) {
    it.skipIf(!available)(`every preset resolves on ${model}`, () => {
      const g = graph();
      const preprocess = specOf();
      // Zero patterns: enough for pattern-attribution to resolve (its maps are tested elsewhere).
      const patterns: PatternSet = {
        graph: g, source: 'zeros', digest: '0', byLayer: new Map(g.layers.filter(isLinear).map((l) => [l.name, new Float32Array(l.weight.length)])),
      };
      for (const name of PRESET_NAMES) {
        const r = resolveComposite(parseComposite(name, '--composite'), g, { preprocess, patterns });
        expect(r.name).toBe(name);
        expectWellFormed(r, g);
        // No preset leaves a linear layer to the default z.
        expect(r.notes.filter((n) => n.startsWith('no rule selects')), name).toEqual([]);
        expect(formatComposite(r, g).split('\n')).toHaveLength(g.layers.length + 2);
      }
    });

    it.skipIf(!available)(`cmp-alpha2-flat on ${model}: first conv flat, other convs alpha-beta 2/1, dense epsilon 0.1`, () => {
      const g = graph();
      const r = resolve('cmp-alpha2-flat', g);
      expect(r.method).toBeNull();
      expectLinear(r, g, (l, k) => (k === 0 ? FLAT : l.kind === 'conv' ? AB(2, 1) : EPS(0.1)));
      expect(g.layers.filter(isLinear)[0].kind).toBe('conv');
    });
  }

  it.skipIf(!haveZennit['vgg-tiny'])('the exact rules of every LRP preset on vgg-tiny', () => {
    const g = zennitModel('vgg-tiny');
    const lin = (conv: LayerRule, dense: LayerRule, first?: LayerRule) => (l: Layer, k: number): LayerRule =>
      (k === 0 && first) ? first : l.kind === 'conv' ? conv : dense;
    const want: Record<string, (l: Layer, k: number) => LayerRule> = {
      'lrp-z': lin(Z, Z),
      'lrp-epsilon': lin(EPS(0.1), EPS(0.1)),
      'lrp-alpha1beta0': lin(AB(1, 0), AB(1, 0)),
      'lrp-alpha2beta1': lin(AB(2, 1), AB(2, 1)),
      'cmp-alpha1': lin(AB(1, 0), EPS(0.1)),
      'cmp-alpha1-flat': lin(AB(1, 0), EPS(0.1), FLAT),
      'cmp-alpha2': lin(AB(2, 1), EPS(0.1)),
      'cmp-alpha2-flat': lin(AB(2, 1), EPS(0.1), FLAT),
      'lrp-cam': lin(FLAT, Z),
      'epsilon-plus': lin(AB(1, 0), EPS(1e-6)),
      'epsilon-plus-flat': lin(AB(1, 0), EPS(1e-6), FLAT),
      'epsilon-alpha2-beta1': lin(AB(2, 1), EPS(1e-6)),
      'epsilon-alpha2-beta1-flat': lin(AB(2, 1), EPS(1e-6), FLAT),
    };
    for (const [name, linear] of Object.entries(want)) expectLinear(resolve(name, g), g, linear);
  });

  it('--epsilon sets the epsilon of the presets that use one, and is a note elsewhere', () => {
    const g = tinyModel();
    expectLinear(resolve('lrp-epsilon', g, { epsilon: 0.25 }), g, () => EPS(0.25));
    expectLinear(resolve('cmp-alpha2', g, { epsilon: 0.25 }), g, (l) => (l.kind === 'conv' ? AB(2, 1) : EPS(0.25)));
    expectLinear(resolve('epsilon-plus', g, { epsilon: 0.25 }), g, (l) => (l.kind === 'conv' ? AB(1, 0) : EPS(0.25)));
    expect(resolve('cmp-alpha2', g, { epsilon: 0.25 }).notes.join('\n')).not.toMatch(/--epsilon/);
    for (const name of ['lrp-z', 'lrp-cam', 'gradient']) {
      expect(resolve(name, g, { epsilon: 0.25 }).notes.join('\n'), name).toMatch(/--epsilon 0\.25 has no effect/);
    }
    // JSON gives its own epsilon: the option does not override it.
    const r = resolve(comp({ layers: 'linear', rule: 'epsilon', epsilon: 0.5 }), g, { epsilon: 0.25 });
    expectLinear(r, g, () => EPS(0.5));
    expect(r.notes.join('\n')).toMatch(/--epsilon 0\.25 has no effect/);
    expect(() => resolve('lrp-epsilon', g, { epsilon: -1 })).toThrow(/--epsilon must be a number >= 0, got -1/);
  });

  describe('epsilon-gamma-box', () => {
    it('takes zbox bounds for #0 from the preprocessing (torchvision: RGB/255, mean/std)', () => {
      const g = tinyModel();
      const pre = torchvisionImagenet(8);
      const r = resolve('epsilon-gamma-box', g, { preprocess: pre });
      const low = [0, 1, 2].map((c) => -pre.mean[c] / pre.std[c]);
      const high = [0, 1, 2].map((c) => (1 - pre.mean[c]) / pre.std[c]);
      expect(low[0]).toBeCloseTo(-2.1179, 4);
      expect(high[2]).toBeCloseTo(2.64, 4);
      const zbox = r.rules.get('c0') as Extract<LayerRule, { rule: 'zbox' }>;
      expect(zbox.rule).toBe('zbox');
      expect(zbox.stabilizer).toBe(S);
      for (let c = 0; c < 3; c++) {
        expect(zbox.low[c]).toBeCloseTo(low[c], 12);
        expect(zbox.high[c]).toBeCloseTo(high[c], 12);
      }
      expect(r.rules.get('c1a')).toEqual(GAMMA);
      expect(r.rules.get('c1b')).toEqual(GAMMA);
      expect(r.rules.get('fc')).toEqual(EPS(1e-6));
      expect(r.rules.get('out')).toEqual(EPS(1e-6));
      expect(r.notes.join('\n')).toMatch(/zbox bounds on c0 from the preprocessing/);
    });

    it('Caffe preprocessing: BGR 0..255 minus the mean, in the model channel order', () => {
      const r = resolve('epsilon-gamma-box', tinyModel(), { preprocess: caffeImagenet(8) });
      expect(r.rules.get('c0')).toEqual({ rule: 'zbox', low: [-104, -117, -123], high: [151, 138, 132], stabilizer: S });
    });

    it('expands per-channel bounds over the features of a dense first layer fed by Flatten', () => {
      const pre: PreprocessSpec = { ...caffeImagenet(2), mean: [1, 2, 3] };
      const r = resolve('epsilon-gamma-box', mlpModel(), { preprocess: pre });
      expect(r.rules.get('fc0')).toEqual({
        rule: 'zbox', stabilizer: S,
        low: [-1, -1, -1, -1, -2, -2, -2, -2, -3, -3, -3, -3],
        high: [254, 254, 254, 254, 253, 253, 253, 253, 252, 252, 252, 252],
      });
    });

    it('without preprocessing, or with one of another channel count, is an error that says so', () => {
      const g = tinyModel();
      for (const preprocess of [undefined, null]) {
        expect(() => resolve('epsilon-gamma-box', g, { preprocess })).toThrow(
          'composite.json (preset epsilon-gamma-box): rules[2] {"layers":"#0","rule":"zbox","low":"from the preprocessing","high":"from the preprocessing"}: ' +
          "zbox bounds come from the model's preprocessing, and model tiny has none (give --preprocess FILE, or put MODEL.onnx.json beside the model)",
        );
      }
      const gray: PreprocessSpec = { ...torchvisionImagenet(8), channels: 'GRAY', mean: [0.5], std: [0.5] };
      expect(() => resolve('epsilon-gamma-box', g, { preprocess: gray })).toThrow(
        /rules\[2\] .*: the preprocessing has 1 channels \(GRAY\) but layer c0 \(conv\) has 3 input channels/,
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The zennit reference cases
// ---------------------------------------------------------------------------------------------

describe('the composite of every zennit reference case', () => {
  for (const m of ZENNIT_MODELS) {
    it.skipIf(!haveZennit[m])(`${m}: every case parses and resolves`, () => {
      const g = zennitModel(m);
      const cases = zennitCases(m);
      expect(cases.length).toBeGreaterThanOrEqual(16);
      const first = linearNames(g)[0];
      for (const c of cases) {
        const r = resolveComposite(parseComposite(c.composite, `${m}/cases.json ${c.name}`), g);
        expectWellFormed(r, g);
        expect(r.notes, c.name).toEqual([]);
        // Spot checks against the JSON itself.
        const json = c.composite as { method?: string; rules?: { layers: string; rule: string }[] };
        if (json.method) {
          expect(r.method).toBe(json.method);
          continue;
        }
        const last = json.rules!.at(-1)!;
        if (last.layers === '#0') expect(r.rules.get(first)!.rule, c.name).toBe(last.rule);
      }
      const ebox = cases.find((c) => c.name === 'epsilon-gamma-box')!;
      const r = resolveComposite(parseComposite(ebox.composite, 'cases.json'), g);
      expect(r.rules.get(first)).toEqual({ rule: 'zbox', low: [-2.1, -2.0, -1.8], high: [2.2, 2.4, 2.6], stabilizer: S });
      const first2 = cases.find((c) => c.name === 'cmp-alpha1-flat-first2')!;
      const r2 = resolveComposite(parseComposite(first2.composite, 'cases.json'), g);
      expectLinear(r2, g, (l, k) => (k < 2 ? FLAT : l.kind === 'conv' ? AB(1, 0) : EPS(0.01)));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Selectors and ordering
// ---------------------------------------------------------------------------------------------

describe('selectors', () => {
  const g = tinyModel(); // linear: c0, c1a, c1b, fc, out

  it('parses the selector forms', () => {
    expect(parseSelector('conv')).toEqual({ type: 'kind', kind: 'conv' });
    expect(parseSelector('#3')).toEqual({ type: 'index', from: 3, to: 3 });
    expect(parseSelector('#-1')).toEqual({ type: 'index', from: -1, to: -1 });
    expect(parseSelector('#0-1')).toEqual({ type: 'index', from: 0, to: 1 });
    expect(parseSelector('#-2--1')).toEqual({ type: 'index', from: -2, to: -1 });
    expect(parseSelector('name:a:b')).toEqual({ type: 'name', name: 'a:b' });
    for (const bad of ['convs', '#', '#a', '#1-', 'name:', 'Conv', ' conv', 'globalavgpool']) expect(parseSelector(bad), bad).toBeNull();
  });

  it('a later entry overrides an earlier one, for the layers it selects only', () => {
    const a = resolve(comp({ layers: 'linear', rule: 'zplus' }, { layers: 'conv', rule: 'flat' }), g);
    expect(rulesOf(a, g)).toMatchObject({ c0: FLAT, c1a: FLAT, c1b: FLAT, fc: { rule: 'zplus' }, out: { rule: 'zplus' } });
    const b = resolve(comp({ layers: 'conv', rule: 'flat' }, { layers: 'linear', rule: 'zplus' }), g);
    for (const n of linearNames(g)) expect(b.rules.get(n)).toEqual({ rule: 'zplus', stabilizer: S });
  });

  it('#k-m, #-1, #k, name: and lists of selectors', () => {
    const base = { layers: 'linear', rule: 'z' };
    const pick = (layers: unknown): string[] => {
      const r = resolve(comp(base, { layers, rule: 'wsquare' }), g);
      return linearNames(g).filter((n) => r.rules.get(n)!.rule === 'wsquare');
    };
    expect(pick('#0-1')).toEqual(['c0', 'c1a']);
    expect(pick('#-1')).toEqual(['out']);
    expect(pick('#-2--1')).toEqual(['fc', 'out']);
    expect(pick('#0--1')).toEqual(['c0', 'c1a', 'c1b', 'fc', 'out']);
    expect(pick('#2')).toEqual(['c1b']);
    expect(pick('#1-1')).toEqual(['c1a']);
    expect(pick('name:fc')).toEqual(['fc']);
    expect(pick(['#0', 'name:out'])).toEqual(['c0', 'out']);
    expect(pick('dense')).toEqual(['fc', 'out']);
    expect(pick('conv')).toEqual(['c0', 'c1a', 'c1b']);
  });

  it('kind selectors for the other layers, and name: on them', () => {
    const r = resolve(comp(
      { layers: 'maxpool', rule: 'proportional' },
      { layers: 'avgpool', rule: 'flat', stabilizer: 1e-3 },
      { layers: 'relu', rule: 'pass' },
      { layers: 'lrn', rule: 'pass' },
      { layers: 'name:gap', rule: 'norm' },
    ), g);
    expect(rulesOf(r, g)).toMatchObject({
      mp: { rule: 'proportional', stabilizer: S }, ap: { rule: 'flat', stabilizer: 1e-3 }, gap: { rule: 'norm', stabilizer: S },
      r0: { rule: 'pass' }, n0: { rule: 'pass' }, cat: { rule: 'pass' }, fl: { rule: 'pass' }, drop: { rule: 'pass' },
    });
    // `avgpool` covers GlobalAveragePool too.
    const ap = resolve(comp({ layers: 'avgpool', rule: 'flat' }), g);
    expect([ap.rules.get('ap'), ap.rules.get('gap')]).toEqual([FLAT, FLAT]);
    expect(() => resolve(comp({ layers: 'name:mp', rule: 'flat' }), g)).toThrow(
      'composite.json: rules[0] {"layers":"name:mp","rule":"flat"}: rule \'flat\' does not apply to layer mp (maxpool), which takes: winner, proportional',
    );
    expect(() => resolve(comp({ layers: 'name:c0', rule: 'winner' }), g)).toThrow(/rule 'winner' does not apply to layer c0 \(conv\)/);
  });

  it('the default: every layer gets a rule, unselected linear layers z with one note listing them', () => {
    const r = resolve(comp({ layers: 'conv', rule: 'zplus', stabilizer: 1e-4 }), g);
    expectWellFormed(r, g);
    expect(rulesOf(r, g)).toEqual({
      c0: { rule: 'zplus', stabilizer: 1e-4 }, c1a: { rule: 'zplus', stabilizer: 1e-4 }, c1b: { rule: 'zplus', stabilizer: 1e-4 },
      fc: Z, out: Z, r0: { rule: 'pass' }, n0: { rule: 'pass' }, mp: { rule: 'winner' }, cat: { rule: 'pass' },
      ap: { rule: 'norm', stabilizer: S }, gap: { rule: 'norm', stabilizer: S }, fl: { rule: 'pass' }, drop: { rule: 'pass' },
    });
    expect(r.notes).toEqual(['no rule selects linear layers fc, out: they use z (stabilizer 1e-6)']);
    const s = resolve(JSON.stringify({ stabilizer: 1e-3, rules: [] }), g);
    expect(s.rules.get('c0')).toEqual({ rule: 'z', stabilizer: 1e-3 });
    expect(s.rules.get('ap')).toEqual({ rule: 'norm', stabilizer: 1e-3 });
    expect(s.notes).toEqual(['no rule selects linear layers c0, c1a, c1b, fc, out: they use z (stabilizer 0.001)']);
  });

  it('a kind selector may match nothing (a note), #k and name: may not (an error)', () => {
    const mlp = mlpModel();
    const r = resolve(comp({ layers: 'conv', rule: 'flat' }, { layers: 'linear', rule: 'z' }), mlp);
    expect(r.notes).toEqual(['composite.json: rules[0] {"layers":"conv","rule":"flat"} selects no layer (mlp has no conv layer)']);
    expect(() => resolve(comp({ layers: '#2', rule: 'flat' }), mlp)).toThrow(
      'composite.json: rules[0] {"layers":"#2","rule":"flat"}: selector #2 matches no layer (the model has 2 linear layers)',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// --flat-layers
// ---------------------------------------------------------------------------------------------

describe('--flat-layers', () => {
  const g = tinyModel();

  it('turns #0..#(N-1) to flat after every entry, on presets and JSON', () => {
    const r = resolve('cmp-alpha1', g, { flatLayers: 2 });
    expectLinear(r, g, (l, k) => (k < 2 ? FLAT : l.kind === 'conv' ? AB(1, 0) : EPS(0.1)));
    expect(r.notes).toContain('--flat-layers 2: c0, c1a use flat');
    const j = resolve(JSON.stringify({ stabilizer: 1e-5, rules: [{ layers: 'linear', rule: 'zplus' }] }), g, { flatLayers: 5 });
    for (const n of linearNames(g)) expect(j.rules.get(n)).toEqual({ rule: 'flat', stabilizer: 1e-5 });
    expectLinear(resolve('cmp-alpha1', g, { flatLayers: 0 }), g, (l) => (l.kind === 'conv' ? AB(1, 0) : EPS(0.1)));
  });

  it('is an error past the linear layers, on a method, or not a whole number', () => {
    expect(() => resolve('cmp-alpha1', g, { flatLayers: 6 })).toThrow(
      'composite.json (preset cmp-alpha1): --flat-layers 6 asks for more layers than there are (the model has 5 linear layers)',
    );
    expect(() => resolve('gradient', g, { flatLayers: 1 })).toThrow(/--flat-layers applies to LRP composites, not to the gradient method/);
    expect(() => resolve('lrp-z', g, { flatLayers: 1.5 })).toThrow(/--flat-layers must be a whole number >= 0, got 1.5/);
    expect(() => resolve('lrp-z', g, { flatLayers: -1 })).toThrow(/--flat-layers must be a whole number >= 0/);
  });
});

// ---------------------------------------------------------------------------------------------
// --classifier-layers
// ---------------------------------------------------------------------------------------------

/** An all-convolutional classifier, SqueezeNet-style: conv, conv (the classifier), global average pool. */
function allConvModel(): Graph {
  const b = new GraphBuilder('allconv', 'x', [3, 4, 4]);
  const conv = (name: string, input: string, inC: number, outC: number, k: number): void => {
    b.add({
      kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [k, k],
      stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1,
      weight: new Float32Array(outC * inC * k * k).fill(0.1), bias: new Float32Array(outC),
    });
  };
  conv('features', 'x', 3, 4, 3);
  b.add({ kind: 'relu', name: 'r', inputs: ['features'], output: 'r' });
  conv('conv10', 'r', 4, 5, 1);
  b.add({ kind: 'globalavgpool', name: 'gap', inputs: ['conv10'], output: 'gap' });
  b.add({ kind: 'flatten', name: 'fl', inputs: ['gap'], output: 'fl' });
  return b.build('fl');
}

describe('--classifier-layers', () => {
  const g = allConvModel();

  it('without it, an all-conv model says its dense rule selects nothing, with the numbers and the way out', () => {
    const r = resolve('cmp-alpha2-flat', g);
    expect(r.rules.get('conv10')).toEqual(AB(2, 1));
    expect(r.notes).toEqual([
      'cmp-alpha2-flat: dense: epsilon 0.1 selects no layer (allconv has no dense layer)',
      "conv10, the last linear layer, takes alpha-beta alpha=2 beta=1 stabilizer=1e-6; for the paper's epsilon 0.1 at the top of an all-convolutional model give --classifier-layers 1 (then conv10 takes the dense rule)",
    ]);
    // The note prints the epsilon in force, never a stale default.
    expect(resolve('cmp-alpha2-flat', g, { epsilon: 0.25 }).notes[0]).toBe('cmp-alpha2-flat: dense: epsilon 0.25 selects no layer (allconv has no dense layer)');
    expect(resolve('epsilon-plus', g).notes[0]).toBe('epsilon-plus: dense: epsilon 1e-6 selects no layer (allconv has no dense layer)');
  });

  it('K=1 gives the last linear layer the dense rule, conv or not', () => {
    const r = resolve('cmp-alpha2-flat', g, { classifierLayers: 1 });
    expect(rulesOf(r, g)).toMatchObject({ features: FLAT, conv10: EPS(0.1) });
    expect(r.notes).toEqual(['--classifier-layers 1: conv10 takes epsilon epsilon=0.1']);
    const t = tinyModel();
    // On a model with dense layers, K=3 also takes the last conv (c1b), and leaves the earlier ones alone.
    const k3 = resolve('cmp-alpha1', t, { classifierLayers: 3 });
    expectLinear(k3, t, (l, k) => (k >= 2 ? EPS(0.1) : AB(1, 0)));
  });

  it('is an error past the linear layers, on a method, or not a whole number', () => {
    expect(() => resolve('cmp-alpha2', g, { classifierLayers: 3 })).toThrow(/--classifier-layers 3 asks for more layers than there are \(the model has 2 linear layers\)/);
    expect(() => resolve('gradient', g, { classifierLayers: 1 })).toThrow(/--classifier-layers applies to LRP composites/);
    expect(() => resolve('cmp-alpha2', g, { classifierLayers: -1 })).toThrow(/--classifier-layers must be a whole number >= 0/);
  });
});

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

describe('gradient methods', () => {
  const g = tinyModel();
  for (const method of ['gradient', 'gradient-x-input', 'guided-backprop'] as const) {
    it(`${method}: every layer its true derivative`, () => {
      for (const r of [resolve(method, g), resolve(JSON.stringify({ method }), g), resolve({ method }, g)]) {
        expect(r.method).toBe(method);
        expect(r.name).toBe(method);
        expect(r.notes).toEqual([]);
        const grad = { rule: 'gradient' };
        expect(rulesOf(r, g)).toEqual({
          c0: grad, c1a: grad, c1b: grad, fc: grad, out: grad, n0: grad, ap: grad, gap: grad,
          r0: method === 'guided-backprop' ? { rule: 'guided' } : grad,
          mp: { rule: 'winner' }, cat: { rule: 'pass' }, fl: { rule: 'pass' }, drop: { rule: 'pass' },
        });
        expect(formatComposite(r, g)).toContain(`(method ${method})`);
      }
    });
  }

  it('a method composite takes no rules or stabilizer', () => {
    expect(() => parseComposite({ method: 'gradient', rules: [] }, 'c.json')).toThrow(
      'c.json: "method": "gradient" takes no "rules" (a method uses every layer\'s true derivative)',
    );
    expect(() => parseComposite({ method: 'gradient', stabilizer: 1e-6 }, 'c.json')).toThrow(/takes no "stabilizer"/);
    expect(() => parseComposite({ method: 'smoothgrad' }, 'c.json')).toThrow(
      'c.json: unknown method "smoothgrad" (methods: gradient, gradient-x-input, guided-backprop, pattern-attribution)',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Parsing and errors
// ---------------------------------------------------------------------------------------------

describe('residual layers', () => {
  /** conv → bn (standalone: the conv also feeds the sum) → relu6 → add(relu6, c) → leaky → pad → gap → fc. */
  function residualModel(): Graph {
    const b = new GraphBuilder('residual', 'x', [2, 4, 4]);
    b.add({
      kind: 'conv', name: 'c', inputs: ['x'], output: 'c', inChannels: 2, outChannels: 2, kernel: [1, 1], stride: [1, 1],
      pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1, weight: new Float32Array(4), bias: new Float32Array(2),
    });
    const ones = new Float32Array(2).fill(1);
    b.add({ kind: 'batchnorm', name: 'bn', inputs: ['c'], output: 'bn', channels: 2, scale: ones, bias: new Float32Array(2), mean: new Float32Array(2), variance: ones, epsilon: 1e-5 });
    b.add({ kind: 'clip', name: 'relu6', inputs: ['bn'], output: 'relu6', min: 0, max: 6 });
    b.add({ kind: 'add', name: 'sum', inputs: ['relu6', 'c'], output: 'sum' });
    b.add({ kind: 'leakyrelu', name: 'leaky', inputs: ['sum'], output: 'leaky', alpha: 0.1 });
    b.add({ kind: 'pad', name: 'pad', inputs: ['leaky'], output: 'pad', pads: [1, 1, 1, 1] });
    b.add({ kind: 'globalavgpool', name: 'gap', inputs: ['pad'], output: 'gap' });
    b.add({ kind: 'flatten', name: 'fl', inputs: ['gap'], output: 'fl' });
    b.add({ kind: 'dense', name: 'fc', inputs: ['fl'], output: 'fc', inFeatures: 2, outFeatures: 3, weight: new Float32Array(6), bias: new Float32Array(3) });
    return b.build('fc');
  }
  const g = residualModel();

  it("every LRP preset gives the sum norm with the composite's stabilizer, the rest pass", () => {
    for (const preset of ['lrp-z', 'cmp-alpha2-flat', 'epsilon-gamma-box', 'lrp-cam']) {
      const r = resolve(preset, g, { preprocess: { size: [4, 4], channels: 'GRAY', scale: 1, mean: [0, 0], std: [1, 1], resize: 'rescale' } as never });
      expectWellFormed(r, g);
      expect(rulesOf(r, g)).toMatchObject({
        sum: { rule: 'norm', stabilizer: 1e-6 }, bn: { rule: 'pass' }, relu6: { rule: 'pass' }, leaky: { rule: 'pass' }, pad: { rule: 'pass' },
      });
    }
    expect(resolve(comp({ layers: 'linear', rule: 'z' }), g, {}).rules.get('sum')).toEqual({ rule: 'norm', stabilizer: 1e-6 });
    expect(resolve(JSON.stringify({ stabilizer: 1e-3, rules: [{ layers: 'linear', rule: 'z' }] }), g).rules.get('sum')).toEqual({ rule: 'norm', stabilizer: 1e-3 });
  });

  it("'add' selects the sums, with norm and its own stabilizer; any other rule is refused", () => {
    expect(resolve(comp({ layers: 'add', rule: 'norm', stabilizer: 0.5 }), g).rules.get('sum')).toEqual({ rule: 'norm', stabilizer: 0.5 });
    expect(resolve(comp({ layers: 'name:sum', rule: 'norm' }), g).rules.get('sum')).toEqual({ rule: 'norm', stabilizer: 1e-6 });
    expect(() => resolve(comp({ layers: 'add', rule: 'z' }), g)).toThrow("rules[0] {\"layers\":\"add\",\"rule\":\"z\"}: rule 'z' does not apply to add layers, which take: norm");
    expect(() => resolve(comp({ layers: 'name:bn', rule: 'flat' }), g)).toThrow("rule 'flat' does not apply to layer bn (batchnorm), which takes: pass");
  });

  it('the gradient methods: true derivatives, guided backprop changes only ReLU, a pad crops (pass)', () => {
    for (const method of ['gradient', 'guided-backprop']) {
      const r = resolve(JSON.stringify({ method }), g);
      expectWellFormed(r, g);
      expect(rulesOf(r, g)).toMatchObject({
        sum: { rule: 'gradient' }, bn: { rule: 'gradient' }, relu6: { rule: 'gradient' }, leaky: { rule: 'gradient' }, pad: { rule: 'pass' },
      });
    }
  });
});

describe('parseComposite', () => {
  const g = tinyModel();

  it('takes a preset name, JSON text or a parsed object, and names it', () => {
    const rules = [{ layers: 'conv', rule: 'flat' }];
    for (const input of [{ rules }, JSON.stringify({ rules }), `  \n${JSON.stringify({ rules })}\n`]) {
      const spec = parseComposite(input, 'c.json');
      expect(spec).toMatchObject({ name: 'custom', source: 'c.json', preset: null, method: null, stabilizer: 1e-6 });
      expect(spec.rules).toHaveLength(1);
    }
    expect(parseComposite({ name: 'mine', stabilizer: 1e-4, rules }, 'c.json')).toMatchObject({ name: 'mine', stabilizer: 1e-4 });
    expect(parseComposite(' cmp-alpha2 ', '--composite')).toMatchObject({ name: 'cmp-alpha2', preset: 'cmp-alpha2', source: '--composite (preset cmp-alpha2)' });
  });

  const bad: [string, unknown, string | RegExp][] = [
    ['unknown rule', comp({ layers: 'conv', rule: 'lrp0' }),
      /^composite\.json: rules\[0\] \{"layers":"conv","rule":"lrp0"\}: unknown rule 'lrp0' \(rules: conv\/dense: z, epsilon, /],
    ['unknown selector', comp({ layers: 'linear', rule: 'z' }, { layers: 'convs', rule: 'z' }),
      'composite.json: rules[1] {"layers":"convs","rule":"z"}: unknown selector \'convs\' (selectors: conv, dense, linear, #k, #k-m, #-1, name:NAME, maxpool, avgpool, relu, lrn, add, layernorm)'],
    ['alpha-beta 3/1', comp({ layers: 'conv', rule: 'alpha-beta', alpha: 3, beta: 1 }),
      'composite.json: rules[0] {"layers":"conv","rule":"alpha-beta","alpha":3,"beta":1}: alpha - beta must be 1, got alpha 3 - beta 1 = 2'],
    ['alpha-beta negative beta', comp({ layers: 'conv', rule: 'alpha-beta', alpha: 0.5, beta: -0.5 }),
      /rules\[0\] .*: "beta" must be a number >= 0, got -0\.5/],
    ['alpha-beta without beta', comp({ layers: 'conv', rule: 'alpha-beta', alpha: 1 }),
      /rules\[0\] .*: rule 'alpha-beta' needs "beta"/],
    ['negative epsilon', comp({ layers: 'dense', rule: 'epsilon', epsilon: -0.1 }),
      'composite.json: rules[0] {"layers":"dense","rule":"epsilon","epsilon":-0.1}: "epsilon" must be a number >= 0, got -0.1'],
    ['epsilon without epsilon', comp({ layers: 'dense', rule: 'epsilon' }),
      'composite.json: rules[0] {"layers":"dense","rule":"epsilon"}: rule \'epsilon\' needs "epsilon" (a number >= 0)'],
    ['epsilon with a stabilizer', comp({ layers: 'dense', rule: 'epsilon', epsilon: 0.1, stabilizer: 1e-6 }),
      /unknown parameter "stabilizer" for rule 'epsilon' \(it takes: epsilon; its "epsilon" is its stabilizer\)/],
    ['negative gamma', comp({ layers: 'conv', rule: 'gamma', gamma: -1 }), /"gamma" must be a number >= 0, got -1/],
    ['zbox low > high', comp({ layers: '#0', rule: 'zbox', low: [0, 2, 0], high: 1 }),
      /rules\[0\] .*: "low" must not exceed "high", but channel 1 has low 2 > high 1/],
    ['zbox lists of different lengths', comp({ layers: '#0', rule: 'zbox', low: [0, 0], high: [1, 1, 1] }),
      /"low" has 2 values but "high" has 3/],
    ['zbox without high', comp({ layers: '#0', rule: 'zbox', low: 0 }), /rule 'zbox' needs "high"/],
    ['zbox bound not a number', comp({ layers: '#0', rule: 'zbox', low: 'min', high: 1 }),
      /"low" must be a number or a non-empty list of numbers, got "min"/],
    ['unknown parameter', comp({ layers: 'conv', rule: 'z', epsilon: 0.1 }),
      'composite.json: rules[0] {"layers":"conv","rule":"z","epsilon":0.1}: unknown parameter "epsilon" for rule \'z\' (it takes: stabilizer)'],
    ['parameter on winner', comp({ layers: 'maxpool', rule: 'winner', stabilizer: 1e-6 }),
      /unknown parameter "stabilizer" for rule 'winner' \(it takes no parameters\)/],
    ['bad entry stabilizer', comp({ layers: 'conv', rule: 'z', stabilizer: 0 }), /rules\[0\] .*: "stabilizer" must be a positive number, got 0/],
    ['missing layers', comp({ rule: 'z' }), /^composite\.json: rules\[0\] \{"rule":"z"\}: missing "layers"/],
    ['missing rule', comp({ layers: 'conv' }), /^composite\.json: rules\[0\] \{"layers":"conv"\}: missing "rule"/],
    ['entry not an object', comp('conv'), /^composite\.json: rules\[0\] "conv": an entry must be an object/],
    ['empty layers list', comp({ layers: [], rule: 'z' }), /"layers" must be a selector or a non-empty list of selectors/],
    ['rule for the wrong kind', comp({ layers: 'maxpool', rule: 'epsilon', epsilon: 1 }),
      /rules\[0\] .*: rule 'epsilon' does not apply to maxpool layers, which take: winner, proportional/],
    ['linear rule on relu', comp({ layers: 'relu', rule: 'z' }), /rule 'z' does not apply to relu layers, which take: pass/],
    ['guided as a rule', comp({ layers: 'relu', rule: 'guided' }), /rule "guided" is only available through \{"method": "guided-backprop"\}/],
    ['winner on #k', comp({ layers: '#0', rule: 'winner' }), /rule 'winner' does not apply to selector #0 \(linear layers\)/],
    ['unknown key', { rules: [], stabiliser: 1e-6 },
      'composite.json: unknown key "stabiliser" in the composite (known: name, stabilizer, rules, method)'],
    ['no rules nor method', {}, /^composite\.json: a composite needs "rules" .* or a "method"/],
    ['rules not a list', { rules: { layers: 'conv', rule: 'z' } }, /"rules" must be a list/],
    ['negative stabilizer', { stabilizer: -1, rules: [] }, 'composite.json: "stabilizer" must be a positive number, got -1'],
    ['not an object', [1, 2], /^composite\.json: a composite must be a JSON object/],
    ['bad JSON text', '{"rules": [{"layers": "conv", "rule": "z",}]}', /^composite\.json: composite is not valid JSON: /],
    ['unknown preset', 'cmp-alpha3', /^composite\.json: 'cmp-alpha3' is not a composite preset \(presets: lrp-z, .*\) nor JSON text/],
  ];
  for (const [what, input, message] of bad) {
    it(`rejects: ${what}`, () => {
      expect(() => parseComposite(input, 'composite.json')).toThrow(message);
    });
  }

  const badForModel: [string, unknown, string | RegExp][] = [
    ['#99', comp({ layers: 'linear', rule: 'z' }, { layers: '#99', rule: 'flat' }),
      'composite.json: rules[1] {"layers":"#99","rule":"flat"}: selector #99 matches no layer (the model has 5 linear layers)'],
    ['#-6', comp({ layers: '#-6', rule: 'flat' }), /rules\[0\] .*: selector #-6 matches no layer \(the model has 5 linear layers\)/],
    ['#3-9', comp({ layers: '#3-9', rule: 'flat' }),
      'composite.json: rules[0] {"layers":"#3-9","rule":"flat"}: selector #3-9 reaches past the linear layers (the model has 5 linear layers: #0-4)'],
    ['#3-1', comp({ layers: '#3-1', rule: 'flat' }), /selector #3-1 is an empty range/],
    ['name:nope', comp({ layers: 'name:nope', rule: 'z' }),
      'composite.json: rules[0] {"layers":"name:nope","rule":"z"}: selector name:nope matches no layer of model tiny (linear layers: c0, c1a, c1b, fc, out)'],
    ['zbox wrong length', comp({ layers: '#0', rule: 'zbox', low: [0, 0], high: [1, 1] }),
      'composite.json: rules[0] {"layers":"#0","rule":"zbox","low":[0,0],"high":[1,1]}: zbox "low" has 2 values but layer c0 (conv) has 3 input channels'],
    ['zbox wrong length on a dense layer', comp({ layers: 'name:fc', rule: 'zbox', low: [0, 0], high: 1 }),
      /zbox "low" has 2 values but layer fc \(dense\) has 4 input features/],
  ];
  for (const [what, input, message] of badForModel) {
    it(`rejects on the model: ${what}`, () => {
      const spec = parseComposite(input, 'composite.json');
      expect(() => resolveComposite(spec, g)).toThrow(message);
    });
  }

  it('zbox bounds: a number is broadcast, a list is per channel (or per image channel for a dense first layer)', () => {
    const r = resolve(comp({ layers: '#0', rule: 'zbox', low: -1, high: [1, 2, 3] }), g);
    expect(r.rules.get('c0')).toEqual({ rule: 'zbox', low: [-1, -1, -1], high: [1, 2, 3], stabilizer: S });
    const mlp = mlpModel();
    const m = resolve(comp({ layers: '#0', rule: 'zbox', low: [0, 1, 2], high: 5 }), mlp);
    expect(m.rules.get('fc0')).toMatchObject({ low: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], high: new Array(12).fill(5) });
    expect(() => resolve(comp({ layers: '#1', rule: 'zbox', low: [0, 1, 2], high: 5 }), mlp)).toThrow(
      /zbox "low" has 3 values but layer fc1 \(dense\) has 5 input features/,
    );
  });

  it('rejects a model with two layers of one name (rules are keyed by name)', () => {
    const b = new GraphBuilder('dup', 'x', [4]);
    b.add({ kind: 'relu', name: 'a', inputs: ['x'], output: 'y1' });
    b.add({ kind: 'relu', name: 'a', inputs: ['y1'], output: 'y2' });
    expect(() => resolve('lrp-z', b.build('y2'))).toThrow(/model dup has two layers named 'a'/);
  });
});

describe('formatComposite', () => {
  it('one row per layer with the linear index, kind and rule with parameters', () => {
    const g = tinyModel();
    const text = formatComposite(resolve('cmp-alpha2-flat', g, { epsilon: 0.05 }), g);
    const lines = text.split('\n');
    expect(lines[0]).toBe('composite cmp-alpha2-flat on tiny');
    expect(lines[1]).toMatch(/^ {2}# +layer +kind +rule$/);
    expect(lines).toContain('  #0  c0     conv           flat stabilizer=1e-6');
    expect(lines).toContain('  #1  c1a    conv           alpha-beta alpha=2 beta=1 stabilizer=1e-6');
    expect(lines).toContain('  #4  out    dense          epsilon epsilon=0.05');
    expect(lines).toContain('      mp     maxpool        winner');
    expect(lines).toContain('      gap    globalavgpool  norm stabilizer=1e-6');
    const z = formatComposite(resolve(comp({ layers: '#0', rule: 'zbox', low: -1, high: [1, 2, 3] }), g), g);
    expect(z).toContain('zbox low=-1 high=[1, 2, 3] stabilizer=1e-6');
  });

  it('numbers as people write them', () => {
    expect([1e-6, 0.25, 2, 0.1 + 0.2, 1e-4, 0, -2.11790393].map(formatNumber)).toEqual(['1e-6', '0.25', '2', '0.3', '1e-4', '0', '-2.1179']);
  });
});
