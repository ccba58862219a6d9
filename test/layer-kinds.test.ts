/**
 * The per-kind tables (src/graph/kinds.ts, src/forward/kinds.ts, src/lrp/kind-rules.ts,
 * src/lrp/ops/index.ts) agree with each other: TypeScript makes each name every kind; these check
 * what it cannot.
 */
import { describe, expect, it } from 'vitest';
import { FORWARD_KINDS } from '../src/forward/kinds.ts';
import { GRAPH_KINDS } from '../src/graph/kinds.ts';
import type { LayerKind } from '../src/graph/ir.ts';
import { KIND_RULES, KIND_SELECTORS } from '../src/lrp/kind-rules.ts';
import { BACKWARD_KINDS } from '../src/lrp/ops/index.ts';
import { METHODS } from '../src/lrp/composite.ts';

const KINDS = Object.keys(GRAPH_KINDS) as LayerKind[];

describe('layer kind tables', () => {
  it('name the same kinds', () => {
    for (const table of [FORWARD_KINDS, KIND_RULES, BACKWARD_KINDS]) expect(Object.keys(table).sort()).toEqual([...KINDS].sort());
  });

  for (const kind of KINDS) {
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

  it('every kind selector but linear picks some kind', () => {
    for (const sel of KIND_SELECTORS.filter((s) => s !== 'linear')) {
      expect(KINDS.filter((k) => KIND_RULES[k].selector === sel), sel).not.toEqual([]);
    }
  });
});
