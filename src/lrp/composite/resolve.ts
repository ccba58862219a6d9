/**
 * `resolveComposite`: binds a spec to a graph, so that a spec that does not fit the model fails
 * before anything runs. It picks a `LayerRule` for every layer, checks what needs the model (`#k`
 * and `name:` selectors that match nothing, zbox bound lengths) and fills what presets leave to the
 * run (`--epsilon`, zbox bounds from the preprocessing, `--flat-layers`). Selection is select.ts,
 * a rule on one layer bind.ts, gradient methods method.ts.
 *
 * Decisions where the spec is silent:
 * - Every layer gets an entry in `ResolvedComposite.rules`; layers with nothing to choose
 *   (flatten, identity/dropout, concat) get `pass`, in the gradient methods too (their derivative
 *   is the identity, shape-mapped), so a consumer can look up any layer without a fallback.
 * - Residual networks (lrp-rules.md, "Residual networks and BatchNorm"): every `add` gets `norm`
 *   with the composite's stabilizer unless an entry selects it (`add` is its selector, `norm` its
 *   only rule); standalone BatchNorm, Clip and LeakyRelu get `pass`, and the gradient methods give
 *   them their true derivative; a Pad's relevance is cropped under every rule (src/lrp/kind-rules.ts).
 * - `--flat-layers N` applies after every entry (it wins over `#0` entries), with the composite's
 *   stabilizer; N = 0 changes nothing. Preset epsilons: see presets.ts.
 * - `--epsilon` on a composite that takes no epsilon from it, and a kind selector that matches
 *   nothing, are notes, not errors. `--flat-layers` (and `--classifier-layers`) on a gradient
 *   method is an error.
 * - Layer names must be unique in the graph, since rules are looked up by name.
 */
import type { Graph, Layer } from '../../graph/ir.ts';
import { isLinear } from '../../graph/ir.ts';
import { KIND_RULES } from '../kind-rules.ts';
import type { LayerRule } from '../rule-spec.ts';
import { bindRule, type BindContext } from './bind.ts';
import { entryRuleText, formatNumber, formatRule } from './format.ts';
import { entryFail, isFiniteNumber } from './json.ts';
import { methodRules } from './method.ts';
import { selectLayers, selectorText, type SelectionScope } from './select.ts';
import type { CompositeEntry, CompositeSpec, ResolvedComposite, ResolveOptions } from './spec.ts';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Binds a composite to a model: a rule for every layer, checked against the layers it lands on. */
export function resolveComposite(spec: CompositeSpec, graph: Graph, opts: ResolveOptions = {}): ResolvedComposite {
  const notes: string[] = [];
  const rules = new Map<string, LayerRule>();
  const names = new Set<string>();
  for (const l of graph.layers) {
    if (names.has(l.name)) {
      throw new Error(`${spec.source}: model ${graph.name} has two layers named '${l.name}'; a composite needs unique layer names`);
    }
    names.add(l.name);
  }
  if (opts.epsilon !== undefined && !(isFiniteNumber(opts.epsilon) && opts.epsilon >= 0)) {
    throw new Error(`--epsilon must be a number >= 0, got ${opts.epsilon}`);
  }
  const flatLayers = opts.flatLayers ?? 0;
  if (!Number.isSafeInteger(flatLayers) || flatLayers < 0) {
    throw new Error(`--flat-layers must be a whole number >= 0, got ${opts.flatLayers}`);
  }
  const linear = graph.layers.filter(isLinear);
  const n = linear.length;
  const haveLinear = `the model has ${plural(n, 'linear layer')}`;
  const classifierLayers = opts.classifierLayers ?? 0;
  if (!Number.isSafeInteger(classifierLayers) || classifierLayers < 0) {
    throw new Error(`--classifier-layers must be a whole number >= 0, got ${opts.classifierLayers}`);
  }
  if (classifierLayers > n) {
    throw new Error(`${spec.source}: --classifier-layers ${classifierLayers} asks for more layers than there are (${haveLinear})`);
  }
  const classifier = new Set<Layer>(classifierLayers > 0 ? linear.slice(n - classifierLayers) : []);

  if (spec.method !== null) {
    if (flatLayers > 0) {
      throw new Error(`${spec.source}: --flat-layers applies to LRP composites, not to the ${spec.method} method`);
    }
    if (classifierLayers > 0) {
      throw new Error(`${spec.source}: --classifier-layers applies to LRP composites, not to the ${spec.method} method`);
    }
    if (opts.epsilon !== undefined) notes.push(`--epsilon ${opts.epsilon} has no effect on the ${spec.method} method`);
    return { name: spec.name, method: spec.method, rules: methodRules(spec, spec.method, graph, opts.patterns ?? null), notes };
  }

  const assigned = new Map<string, LayerRule>();
  let usedEpsilonOption = false;
  const ctx: BindContext = {
    spec, graph, opts,
    onEpsilonOption: () => {
      usedEpsilonOption = true;
    },
    notes,
  };
  const scope: SelectionScope = { graph, linear, classifier, haveLinear };

  /** The dense entry that matched nothing (an all-convolutional model), for the note below. */
  let emptyDense: CompositeEntry | null = null;
  for (const entry of spec.rules) {
    const fail = (msg: string): never => entryFail(spec.source, entry.index, entry.text, msg);
    const { selected, onlyKinds } = selectLayers(entry.selectors, scope, fail);
    if (selected.size === 0 && onlyKinds) {
      const kinds = entry.selectors.map(selectorText).join(', ');
      const what = spec.preset ? `${kinds}: ${entryRuleText(entry.rule, opts)}` : `rules[${entry.index}] ${entry.text}`;
      notes.push(`${spec.preset ?? spec.source}: ${what} selects no layer (${graph.name} has no ${kinds} layer)`);
      if (entry.selectors.some((x) => x.type === 'kind' && x.kind === 'dense') && entry.rule.rule !== 'z') emptyDense = entry;
    }
    for (const l of graph.layers) {
      if (!selected.has(l)) continue;
      const allowed = KIND_RULES[l.kind].rules;
      if (!allowed.includes(entry.rule.rule)) {
        fail(`rule '${entry.rule.rule}' does not apply to layer ${l.name} (${l.kind}), which takes: ${allowed.join(', ')}`);
      }
      assigned.set(l.name, bindRule(entry.rule, l, fail, ctx));
    }
  }

  if (flatLayers > 0) {
    if (flatLayers > n) {
      throw new Error(`${spec.source}: --flat-layers ${flatLayers} asks for more layers than there are (${haveLinear})`);
    }
    const flat = linear.slice(0, flatLayers);
    for (const l of flat) assigned.set(l.name, { rule: 'flat', stabilizer: spec.stabilizer });
    notes.push(`--flat-layers ${flatLayers}: ${flat.map((l) => l.name).join(', ')} use flat`);
  }

  const unselected: string[] = [];
  for (const l of graph.layers) {
    const got = assigned.get(l.name);
    if (got) {
      rules.set(l.name, got);
      continue;
    }
    if (isLinear(l)) unselected.push(l.name);
    rules.set(l.name, KIND_RULES[l.kind].defaultRule(spec.stabilizer));
  }
  if (unselected.length > 0) {
    notes.push(
      `no rule selects ${unselected.length === 1 ? 'linear layer' : 'linear layers'} ${unselected.join(', ')}: ` +
      `${unselected.length === 1 ? 'it uses' : 'they use'} z (stabilizer ${formatNumber(spec.stabilizer)})`,
    );
  }
  if (classifierLayers > 0) {
    notes.push(`--classifier-layers ${classifierLayers}: ${[...classifier].map((l) => `${l.name} takes ${formatRule(rules.get(l.name)!)}`).join(', ')}`);
  }
  if (emptyDense && n > 0) {
    const top = linear[n - 1];
    notes.push(`${top.name}, the last linear layer, takes ${formatRule(rules.get(top.name)!)}; for the paper's ${entryRuleText(emptyDense.rule, opts)} `
      + `at the top of an all-convolutional model give --classifier-layers 1 (then ${top.name} takes the dense rule)`);
  }
  if (opts.epsilon !== undefined && !usedEpsilonOption) {
    notes.push(`--epsilon ${opts.epsilon} has no effect: composite ${spec.name} takes no epsilon from the option`);
  }
  return { name: spec.name, method: null, rules, notes };
}
