/**
 * Composites as people read them: numbers, rules with their parameters, the per-layer table that
 * `lrp explain --verbose` and the library's explainers print and eval reports record, and entries
 * in the resolver's notes.
 *
 * Decisions: numbers keep six significant digits and go exponential below 1e-3 (1e-6, not
 * 0.000001); a zbox bound that is one value repeated prints as that value, a long one as its first
 * three values and a count.
 */
import type { Graph } from '../../graph/ir.ts';
import { isLinear } from '../../graph/ir.ts';
import type { LayerRule } from '../rule-spec.ts';
import type { EntryRule, ResolvedComposite, ResolveOptions } from './spec.ts';

/** A number as people write it: 1e-6, 0.25, 2. */
export function formatNumber(v: number): string {
  const r = Number(v.toPrecision(6));
  return r !== 0 && Math.abs(r) < 1e-3 ? r.toExponential() : String(r);
}

function formatBounds(v: readonly number[]): string {
  if (v.length > 0 && v.every((x) => x === v[0])) return formatNumber(v[0]);
  if (v.length <= 6) return `[${v.map(formatNumber).join(', ')}]`;
  return `[${v.slice(0, 3).map(formatNumber).join(', ')}, ... (${v.length} values)]`;
}

/** A rule with its parameters in one line, e.g. `alpha-beta alpha=2 beta=1 stabilizer=1e-6`. */
export function formatRule(rule: LayerRule): string {
  const stab = 'stabilizer' in rule ? ` stabilizer=${formatNumber(rule.stabilizer)}` : '';
  switch (rule.rule) {
    case 'epsilon':
      return `epsilon epsilon=${formatNumber(rule.epsilon)}`;
    case 'alpha-beta':
      return `alpha-beta alpha=${formatNumber(rule.alpha)} beta=${formatNumber(rule.beta)}${stab}`;
    case 'gamma':
      return `gamma gamma=${formatNumber(rule.gamma)}${stab}`;
    case 'zbox':
      return `zbox low=${formatBounds(rule.low)} high=${formatBounds(rule.high)}${stab}`;
    case 'pattern':
      return `pattern (A * W, A from ${rule.source}, digest ${rule.digest})`;
    default:
      return `${rule.rule}${stab}`;
  }
}

/** One layer's rule, as reports record it. */
export interface LayerRuleRow {
  readonly layer: string;
  readonly kind: string;
  /** `#k` for the k-th linear layer in forward order, null for others. */
  readonly linear: string | null;
  /** The rule with its parameters (formatRule). */
  readonly rule: string;
}

/** The resolved composite, one row per layer in forward order. */
export function compositeRows(resolved: ResolvedComposite, graph: Graph): LayerRuleRow[] {
  let k = 0;
  return graph.layers.map((l) => {
    const rule = resolved.rules.get(l.name);
    return { layer: l.name, kind: l.kind, linear: isLinear(l) ? `#${k++}` : null, rule: rule ? formatRule(rule) : '-' };
  });
}

/**
 * A table of the resolved composite, one row per layer in forward order: the linear index (`#k`),
 * the layer name, its kind and its rule. Notes are not included; print `resolved.notes` beside it.
 */
export function formatComposite(resolved: ResolvedComposite, graph: Graph): string {
  const rows: string[][] = [['#', 'layer', 'kind', 'rule'], ...compositeRows(resolved, graph).map((r) => [r.linear ?? '', r.layer, r.kind, r.rule])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const head = `composite ${resolved.name}${resolved.method ? ` (method ${resolved.method})` : ''} on ${graph.name}`;
  return [head, ...rows.map((r) => `  ${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')}`)].join('\n');
}

/** An entry's rule with the numbers it resolves to (for notes: no option names, no defaults). */
export function entryRuleText(rule: EntryRule, opts: ResolveOptions): string {
  switch (rule.rule) {
    case 'epsilon':
      return `epsilon ${formatNumber(typeof rule.epsilon === 'number' ? rule.epsilon : opts.epsilon ?? rule.epsilon.default)}`;
    case 'alpha-beta':
      return `alpha-beta alpha=${formatNumber(rule.alpha)} beta=${formatNumber(rule.beta)}`;
    case 'gamma':
      return `gamma ${formatNumber(rule.gamma)}`;
    case 'zbox':
      return rule.bounds === 'preprocess' ? 'zbox (bounds from the preprocessing)' : 'zbox';
    default:
      return rule.rule;
  }
}
