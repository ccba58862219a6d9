/**
 * A gradient-method composite on a graph (`{"method": ...}`, the gradient presets): every layer's
 * rule under the method, from the kind table, except that PatternAttribution's linear layers carry
 * their learned pattern, data no kind table holds.
 *
 * Decision: the patterns must have been checked against this very graph object (not one with the
 * same name), so a pattern set cannot be applied to a model it was not validated on.
 */
import type { Graph, Layer } from '../../graph/ir.ts';
import { isLinear } from '../../graph/ir.ts';
import type { PatternSet } from '../../patterns/pattern-set.ts';
import { KIND_RULES } from '../kind-rules.ts';
import type { LayerRule, Method } from '../rule-spec.ts';
import type { CompositeSpec } from './spec.ts';

/** Every layer's rule under `method`, by layer name in forward order. */
export function methodRules(
  spec: CompositeSpec, method: Method, graph: Graph, patterns: PatternSet | null,
): Map<string, LayerRule> {
  const rules = new Map<string, LayerRule>();
  const learned = method === 'pattern-attribution' ? methodPatterns(spec, graph, patterns) : null;
  for (const l of graph.layers) {
    rules.set(l.name, learned && isLinear(l) ? patternRule(l, learned) : KIND_RULES[l.kind].methodRule(method));
  }
  return rules;
}

/** The patterns pattern-attribution needs, checked to be this model's. */
function methodPatterns(spec: CompositeSpec, graph: Graph, patterns: PatternSet | null): PatternSet {
  if (!patterns) {
    throw new Error(`${spec.source}: pattern-attribution needs the model's learned patterns: give --patterns DIR ` +
      '(learn them once with lrp patterns --model MODEL --dataset ... --out DIR; in the library, the patterns option from model.learnPatterns())');
  }
  if (patterns.graph !== graph) throw new Error(`${spec.source}: the patterns from ${patterns.source} were checked against another model than ${graph.name}`);
  return patterns;
}

/** A linear layer's PatternAttribution step: the gradient through A * W. */
function patternRule(l: Layer, patterns: PatternSet): LayerRule {
  const pattern = patterns.byLayer.get(l.name);
  if (!pattern) throw new Error(`${patterns.source}: no pattern for node '${l.name}'`);
  return { rule: 'pattern', pattern, source: patterns.source, digest: patterns.digest };
}
