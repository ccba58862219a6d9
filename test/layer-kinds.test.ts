/**
 * The per-kind tables (src/graph/kinds.ts, src/forward/kinds.ts, src/lrp/kind-rules.ts,
 * src/lrp/ops/index.ts) agree with each other: TypeScript makes each name every kind; these check
 * what it cannot.
 */
import { describe, expect, it } from 'vitest';
import { FORWARD_KINDS } from '../src/forward/kinds.ts';
import { GRAPH_KINDS } from '../src/graph/kinds.ts';
import { IMPORT_ONLY_KINDS, type LayerKind } from '../src/graph/ir.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { nonnegativeValues } from '../src/lrp/explainer.ts';
import { KIND_RULES, KIND_SELECTORS } from '../src/lrp/kind-rules.ts';
import { BACKWARD_KINDS } from '../src/lrp/ops/index.ts';
import { METHODS } from '../src/lrp/composite.ts';

const KINDS = Object.keys(GRAPH_KINDS) as LayerKind[];

describe('layer kind tables', () => {
  it('name the same kinds', () => {
    for (const table of [FORWARD_KINDS, KIND_RULES, BACKWARD_KINDS]) expect(Object.keys(table).sort()).toEqual([...KINDS].sort());
  });

  for (const kind of KINDS.filter((k) => !IMPORT_ONLY_KINDS.has(k))) {
    it(kind, () => {
      const rules = KIND_RULES[kind];
      const backward = BACKWARD_KINDS[kind];
      // The default rule is one the kind takes, and every rule it takes (and every method's) has a
      // relevance step: an op, or relevance passed through.
      expect(rules.rules).toContain(rules.defaultRule(1e-6).rule);
      const assigned = [...rules.rules.map((r) => ({ rule: r }) as never), ...METHODS.map((m) => rules.methodRule(m))];
      for (const rule of assigned) expect(backward.passThrough(rule) || backward.create !== null, `${kind}: ${JSON.stringify(rule)}`).toBe(true);
      // A view runs no forward kernel and takes one input.
      if (FORWARD_KINDS[kind].view) expect(GRAPH_KINDS[kind].arity).toBe('one');
    });
  }

  it('import-only kinds (bias) have no rule, no op, and say so when reached', async () => {
    for (const kind of IMPORT_ONLY_KINDS) {
      expect(KIND_RULES[kind].rules).toEqual([]);
      expect(() => KIND_RULES[kind].defaultRule(1e-6)).toThrow(/removed by the canonizer/);
      expect(BACKWARD_KINDS[kind].create).toBeNull();
      const fwd = FORWARD_KINDS[kind];
      expect(fwd.view).toBe(false);
      if (!fwd.view) await expect(fwd.create(null as never, { kind, name: 'l' } as never, [], [], null as never, {})).rejects.toThrow(/canonizer removes it/);
    }
  });

  it("non-negativity after the residual kinds: ReLU6 always, a sum of two non-negatives, never a BatchNorm's output", () => {
    const b = new GraphBuilder('nonneg', 'x', [2, 3, 3]);
    const c = 2;
    const bn = { channels: c, scale: new Float32Array(c).fill(1), bias: new Float32Array(c), mean: new Float32Array(c), variance: new Float32Array(c).fill(1), epsilon: 1e-5 };
    const add = (name: string, inputs: string[], l: Record<string, unknown>) => b.add({ name, inputs, output: name, ...l } as never);
    add('r', ['x'], { kind: 'relu' });
    add('relu6', ['x'], { kind: 'clip', min: 0, max: 6 });
    add('clipSigned', ['x'], { kind: 'clip', min: -1, max: 1 });
    add('clipOfNonneg', ['r'], { kind: 'clip', min: -1, max: 1 });
    add('clipNegative', ['r'], { kind: 'clip', min: -3, max: -1 });
    add('sumNonneg', ['r', 'relu6'], { kind: 'add' });
    add('sumSigned', ['r', 'x'], { kind: 'add' });
    add('bn', ['r'], { kind: 'batchnorm', ...bn });
    add('leaky', ['r'], { kind: 'leakyrelu', alpha: 0.1 });
    add('leakyNeg', ['r'], { kind: 'leakyrelu', alpha: -0.1 });
    add('pad', ['relu6'], { kind: 'pad', pads: [1, 1, 1, 1] });
    expect([...nonnegativeValues(b.build('pad'))].sort()).toEqual(['clipOfNonneg', 'leaky', 'pad', 'r', 'relu6', 'sumNonneg']);
  });

  it('non-negativity after the modern-CNN kinds: sigmoids always; tanh, SiLU, hard swish, a gate and a non-negative scale keep it', () => {
    const b = new GraphBuilder('nonneg', 'x', [2, 3, 3]);
    const add = (name: string, inputs: string[], l: Record<string, unknown>) => b.add({ name, inputs, output: name, ...l } as never);
    add('r', ['x'], { kind: 'relu' });
    add('sig', ['x'], { kind: 'sigmoid' });
    add('hsig', ['x'], { kind: 'hardsigmoid', alpha: 0.2, beta: 0.5 });
    for (const [kind, extra] of [['tanh', {}], ['silu', {}], ['hardswish', { alpha: 1 / 6, beta: 0.5 }]] as const) {
      add(`${kind}OfNonneg`, ['r'], { kind, ...extra });
      add(`${kind}Signed`, ['x'], { kind, ...extra });
    }
    add('pool', ['r'], { kind: 'globalavgpool' });
    add('gateNonneg', ['r', 'pool'], { kind: 'gate' });
    add('gateSigned', ['x', 'sig'], { kind: 'gate' });
    add('scaleNonneg', ['r'], { kind: 'scale', scale: Float32Array.of(0, 2) });
    add('scaleNegative', ['r'], { kind: 'scale', scale: Float32Array.of(-1) });
    expect([...nonnegativeValues(b.build('scaleNegative'))].sort()).toEqual([
      'gateNonneg', 'hardswishOfNonneg', 'hsig', 'pool', 'r', 'scaleNonneg', 'sig', 'siluOfNonneg', 'tanhOfNonneg',
    ]);
  });

  it('a gate takes its own shape or C×1×1 against C×H×W; a scale one value or one per channel', () => {
    const b = new GraphBuilder('shapes', 'x', [2, 3, 3]);
    b.add({ kind: 'globalavgpool', name: 'p', inputs: ['x'], output: 'p' });
    b.add({ kind: 'flatten', name: 'f', inputs: ['x'], output: 'f' });
    expect(() => b.add({ kind: 'gate', name: 'g', inputs: ['x', 'f'], output: 'g' })).toThrow("layer 'g' (gate): gates [2, 3, 3] by [18]");
    expect(() => b.add({ kind: 'gate', name: 'g', inputs: ['f', 'p'], output: 'g' })).toThrow(/gates \[18\] by \[2, 1, 1\]/);
    expect(() => b.add({ kind: 'scale', name: 's', inputs: ['x'], output: 's', scale: Float32Array.of(1, 2, 3) })).toThrow(/has 3 scale values for an input of shape \[2, 3, 3\]/);
    expect(() => b.add({ kind: 'scale', name: 's', inputs: ['x'], output: 's', scale: Float32Array.of(1, NaN) })).toThrow(/scale value 1 of 2 is NaN/);
    expect(b.add({ kind: 'gate', name: 'g', inputs: ['x', 'p'], output: 'g' }).kind).toBe('gate');
  });

  it('every kind selector but linear picks some kind', () => {
    for (const sel of KIND_SELECTORS.filter((s) => s !== 'linear')) {
      expect(KINDS.filter((k) => KIND_RULES[k].selector === sel), sel).not.toEqual([]);
    }
  });
});
