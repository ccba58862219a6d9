/**
 * One entry of a JSON composite's `rules`: its selectors, its rule, and the rule's parameters,
 * all checked before any model is loaded (what needs the model waits for the resolver).
 *
 * Decisions where the spec is silent:
 * - `layers` may also be a non-empty array of selectors (their union).
 * - An `epsilon` entry in JSON must give `epsilon` (a missing parameter is an error, as the spec
 *   says); only presets take theirs from `--epsilon`.
 * - Rules that take no parameters (`winner`, `pass`) reject a `stabilizer`; `epsilon` takes
 *   `epsilon` and no `stabilizer` (its epsilon is its stabilizer).
 * - A rule is checked against the kinds a kind or `#k` selector picks here; a `name:` selector's
 *   layer is only known to the resolver, which checks it there.
 */
import { ENTRY_RULES, KIND_RULES, type EntryRuleName, type KindSelector } from '../kind-rules.ts';
import { LINEAR_RULES } from '../rule-spec.ts';
import { entryFail, isFiniteNumber, isPlainObject, json, shorten } from './json.ts';
import { parseSelector } from './select.ts';
import type { CompositeEntry, EntryRule, ZboxBound } from './spec.ts';

/**
 * The rules a selector may take: those of the kinds it picks (src/lrp/kind-rules.ts); `linear`
 * and `#k` pick conv and dense layers. `name:` may take any rule; the layer decides.
 */
function rulesFor(sel: KindSelector | 'index'): readonly EntryRuleName[] {
  if (sel === 'linear' || sel === 'index') return LINEAR_RULES;
  return [...new Set(Object.values(KIND_RULES).filter((k) => k.selector === sel).flatMap((k) => k.rules))];
}

const ALL_RULES: ReadonlySet<string> = new Set<string>(ENTRY_RULES);

/** Parameter keys each rule takes (besides `layers` and `rule`). */
const PARAMS: Record<EntryRuleName, readonly string[]> = {
  z: ['stabilizer'],
  epsilon: ['epsilon'],
  zplus: ['stabilizer'],
  'alpha-beta': ['alpha', 'beta', 'stabilizer'],
  gamma: ['gamma', 'stabilizer'],
  flat: ['stabilizer'],
  wsquare: ['stabilizer'],
  zbox: ['low', 'high', 'stabilizer'],
  winner: [],
  proportional: ['stabilizer'],
  norm: ['stabilizer'],
  pass: [],
};

const SELECTOR_HELP = 'conv, dense, linear, #k, #k-m, #-1, name:NAME, maxpool, avgpool, relu, lrn, add, layernorm';
const RULE_HELP =
  `conv/dense: ${LINEAR_RULES.join(', ')}; maxpool: winner, proportional; avgpool: norm, flat; relu, lrn: pass; add: norm`;
/** alpha - beta must be 1 up to the rounding of decimal numbers in JSON (2.1 - 1.1). */
const ALPHA_BETA_TOLERANCE = 1e-9;

export function parseEntry(raw: unknown, index: number, source: string): CompositeEntry {
  const text = shorten(json(raw));
  const fail = (msg: string): never => entryFail(source, index, text, msg);
  if (!isPlainObject(raw)) return fail('an entry must be an object {"layers": SELECTOR, "rule": RULE, ...parameters}');
  if (raw.layers === undefined) return fail(`missing "layers" (a selector: ${SELECTOR_HELP})`);
  if (raw.rule === undefined) return fail(`missing "rule" (rules: ${RULE_HELP})`);

  const layers = raw.layers;
  let selectorTexts: string[];
  if (typeof layers === 'string') selectorTexts = [layers];
  else if (Array.isArray(layers) && layers.length > 0 && layers.every((s) => typeof s === 'string')) selectorTexts = layers;
  else return fail(`"layers" must be a selector or a non-empty list of selectors, got ${shorten(json(layers))}`);
  const selectors = selectorTexts.map((s) => parseSelector(s) ?? fail(`unknown selector '${s}' (selectors: ${SELECTOR_HELP})`));

  const rule = raw.rule;
  if (typeof rule !== 'string') return fail(`"rule" must be a string, got ${json(rule)}`);
  if (rule === 'guided') return fail('rule "guided" is only available through {"method": "guided-backprop"}');
  if (rule === 'gradient') return fail('rule "gradient" is only available through {"method": "gradient"} (or gradient-x-input)');
  if (rule === 'pattern') return fail('rule "pattern" is only available through {"method": "pattern-attribution"}');
  if (!ALL_RULES.has(rule)) return fail(`unknown rule '${rule}' (rules: ${RULE_HELP})`);
  const ruleName = rule as EntryRuleName;
  for (let s = 0; s < selectors.length; s++) {
    const sel = selectors[s];
    if (sel.type === 'name') continue; // checked against the layer's kind when resolving
    const key = sel.type === 'kind' ? sel.kind : 'index';
    const allowed = rulesFor(key);
    if (!allowed.includes(ruleName)) {
      const what = sel.type === 'kind' ? `${sel.kind} layers` : `selector ${selectorTexts[s]} (linear layers)`;
      fail(`rule '${rule}' does not apply to ${what}, which take: ${allowed.join(', ')}`);
    }
  }

  const params = PARAMS[ruleName];
  for (const k of Object.keys(raw)) {
    if (k === 'layers' || k === 'rule' || params.includes(k)) continue;
    const takes = params.length === 0 ? 'it takes no parameters' : `it takes: ${params.join(', ')}`;
    const hint = ruleName === 'epsilon' && k === 'stabilizer' ? '; its "epsilon" is its stabilizer' : '';
    fail(`unknown parameter "${k}" for rule '${rule}' (${takes}${hint})`);
  }

  const num = (key: string, what: string, ok: (v: number) => boolean): number => {
    const v = raw[key];
    if (v === undefined) return fail(`rule '${rule}' needs "${key}" (${what})`);
    if (!isFiniteNumber(v) || !ok(v)) return fail(`"${key}" must be ${what}, got ${json(v)}`);
    return v;
  };
  const stab = (): { stabilizer?: number } =>
    raw.stabilizer === undefined ? {} : { stabilizer: num('stabilizer', 'a positive number', (v) => v > 0) };

  let entryRule: EntryRule;
  switch (ruleName) {
    case 'z':
    case 'zplus':
    case 'flat':
    case 'wsquare':
    case 'proportional':
    case 'norm':
      entryRule = { rule: ruleName, ...stab() };
      break;
    case 'epsilon':
      entryRule = { rule: 'epsilon', epsilon: num('epsilon', 'a number >= 0', (v) => v >= 0) };
      break;
    case 'alpha-beta': {
      const alpha = num('alpha', 'a number >= 0', (v) => v >= 0);
      const beta = num('beta', 'a number >= 0', (v) => v >= 0);
      if (Math.abs(alpha - beta - 1) > ALPHA_BETA_TOLERANCE) {
        fail(`alpha - beta must be 1, got alpha ${alpha} - beta ${beta} = ${alpha - beta}`);
      }
      entryRule = { rule: 'alpha-beta', alpha, beta, ...stab() };
      break;
    }
    case 'gamma':
      entryRule = { rule: 'gamma', gamma: num('gamma', 'a number >= 0', (v) => v >= 0), ...stab() };
      break;
    case 'zbox': {
      const bound = (key: 'low' | 'high'): ZboxBound => {
        const v = raw[key];
        if (v === undefined) return fail(`rule 'zbox' needs "${key}" (a number, or one number per input channel)`);
        if (isFiniteNumber(v)) return v;
        if (Array.isArray(v) && v.length > 0 && v.every(isFiniteNumber)) return [...v];
        return fail(`"${key}" must be a number or a non-empty list of numbers, got ${shorten(json(v))}`);
      };
      const low = bound('low');
      const high = bound('high');
      if (Array.isArray(low) && Array.isArray(high) && low.length !== high.length) {
        fail(`"low" has ${low.length} values but "high" has ${high.length}`);
      }
      const n = Math.max(Array.isArray(low) ? low.length : 1, Array.isArray(high) ? high.length : 1);
      for (let c = 0; c < n; c++) {
        const l = typeof low === 'number' ? low : low[c];
        const h = typeof high === 'number' ? high : high[c];
        if (l > h) fail(`"low" must not exceed "high", but channel ${c} has low ${l} > high ${h}`);
      }
      entryRule = { rule: 'zbox', bounds: { low, high }, ...stab() };
      break;
    }
    case 'winner':
    case 'pass':
      entryRule = { rule: ruleName };
      break;
  }
  return { index, text, selectors, rule: entryRule };
}
