/**
 * The named composites of shared/docs/composite-spec.md, "Presets", and zennit's aliases.
 *
 * A preset is data: entries in the form `parseComposite` produces from JSON, except that two of
 * their parameters are left to the run and filled by `resolveComposite`:
 * - an epsilon from `--epsilon` (default 0.1 for this project's presets, zennit's 1e-6 for
 *   zennit's composites: the `epsilon-plus*` / `epsilon-alpha2-beta1*` aliases and
 *   `epsilon-gamma-box`, which is zennit's EpsilonGammaBox);
 * - zbox bounds from the model's preprocessing (`epsilon-gamma-box`): the input range of pixel
 *   values 0..255, `low[c] = (0 * scale - mean[c]) / std[c]`, `high[c] = (255 * scale - mean[c]) / std[c]`.
 *
 * The spec types come from composite/spec.ts, which loads neither this module nor the parser: the
 * parser (composite/parse.ts) loads this module, never the other way round.
 */
import { formatNumber } from './composite/format.ts';
import type { CompositeEntry, CompositeSpec, EntryRule, Selector } from './composite/spec.ts';
import type { Method } from './rule-spec.ts';
import { DEFAULT_STABILIZER } from './rule-spec.ts';

/** The `--epsilon` default of this project's presets (the doc's table). */
export const DEFAULT_EPSILON = 0.1;
/** zennit's default epsilon, for the composites named after zennit's. */
export const ZENNIT_EPSILON = 1e-6;

type PresetRule = readonly [layers: string, rule: EntryRule];

interface PresetDef {
  /** The paper's name (or the library it comes from). */
  readonly paper: string;
  readonly method?: Method;
  readonly rules?: readonly PresetRule[];
}

const eps = (fallback: number): EntryRule => ({ rule: 'epsilon', epsilon: { option: 'epsilon', default: fallback } });
const ab = (alpha: number, beta: number): EntryRule => ({ rule: 'alpha-beta', alpha, beta });
const Z: EntryRule = { rule: 'z' };
const FLAT: EntryRule = { rule: 'flat' };

const cmp = (alpha: number, epsilon: number, flat: boolean): PresetRule[] => [
  ['dense', eps(epsilon)],
  ['conv', ab(alpha, alpha - 1)],
  ...(flat ? [['#0', FLAT] as const] : []),
];

const PRESETS = {
  'lrp-z': { paper: 'LRP_z', rules: [['linear', Z]] },
  'lrp-epsilon': { paper: 'LRP_ε', rules: [['linear', eps(DEFAULT_EPSILON)]] },
  'lrp-alpha1beta0': { paper: 'LRP_α1β0', rules: [['linear', ab(1, 0)]] },
  'lrp-alpha2beta1': { paper: 'LRP_α2β1', rules: [['linear', ab(2, 1)]] },
  'cmp-alpha1': { paper: 'LRP_CMP:α1', rules: cmp(1, DEFAULT_EPSILON, false) },
  'cmp-alpha1-flat': { paper: 'LRP_CMP:α1+b', rules: cmp(1, DEFAULT_EPSILON, true) },
  'cmp-alpha2': { paper: 'LRP_CMP:α2', rules: cmp(2, DEFAULT_EPSILON, false) },
  'cmp-alpha2-flat': { paper: 'LRP_CMP:α2+b', rules: cmp(2, DEFAULT_EPSILON, true) },
  'lrp-cam': { paper: 'LRP_CAM', rules: [['dense', Z], ['conv', FLAT]] },
  'epsilon-gamma-box': {
    paper: "zennit's EpsilonGammaBox",
    rules: [
      ['dense', eps(ZENNIT_EPSILON)],
      ['conv', { rule: 'gamma', gamma: 0.25 }],
      ['#0', { rule: 'zbox', bounds: 'preprocess' }],
    ],
  },
  gradient: { paper: 'Gradient', method: 'gradient' },
  'gradient-x-input': { paper: 'Gradient × Input', method: 'gradient-x-input' },
  'guided-backprop': { paper: 'Guided Backprop', method: 'guided-backprop' },
  'pattern-attribution': { paper: 'PatternAttribution (patterns from --patterns DIR)', method: 'pattern-attribution' },
  'epsilon-plus': { paper: "zennit's EpsilonPlus (= cmp-alpha1, ε 1e-6)", rules: cmp(1, ZENNIT_EPSILON, false) },
  'epsilon-plus-flat': { paper: "zennit's EpsilonPlusFlat (= cmp-alpha1-flat, ε 1e-6)", rules: cmp(1, ZENNIT_EPSILON, true) },
  'epsilon-alpha2-beta1': { paper: "zennit's EpsilonAlpha2Beta1 (= cmp-alpha2, ε 1e-6)", rules: cmp(2, ZENNIT_EPSILON, false) },
  'epsilon-alpha2-beta1-flat': {
    paper: "zennit's EpsilonAlpha2Beta1Flat (= cmp-alpha2-flat, ε 1e-6)", rules: cmp(2, ZENNIT_EPSILON, true),
  },
} as const satisfies Record<string, PresetDef>;

/** The name of a preset composite, e.g. `'cmp-alpha2-flat'` (the paper's LRP_CMP:α2+b); see shared/docs/composite-spec.md. */
export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES: readonly PresetName[] = Object.keys(PRESETS) as PresetName[];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The selectors presets use, as `parseSelector` would read them. */
function selector(text: string): Selector {
  if (text === '#0') return { type: 'index', from: 0, to: 0 };
  if (text === 'dense' || text === 'conv' || text === 'linear') return { type: 'kind', kind: text };
  throw new Error(`internal: preset selector '${text}' is not handled`);
}

function paramText(rule: EntryRule): Record<string, unknown> {
  switch (rule.rule) {
    case 'epsilon':
      return {
        epsilon: typeof rule.epsilon === 'number' ? rule.epsilon : `--epsilon (default ${formatNumber(rule.epsilon.default)})`,
      };
    case 'zbox':
      return rule.bounds === 'preprocess' ? { low: 'from the preprocessing', high: 'from the preprocessing' } : { ...rule.bounds };
    default: {
      const { rule: _name, ...params } = rule;
      return params;
    }
  }
}

function describeRule(rule: EntryRule): string {
  switch (rule.rule) {
    case 'epsilon':
      return typeof rule.epsilon === 'number'
        ? `epsilon ${formatNumber(rule.epsilon)}`
        : `epsilon (--epsilon, default ${formatNumber(rule.epsilon.default)})`;
    case 'alpha-beta':
      return `alpha-beta ${rule.alpha}, ${rule.beta}`;
    case 'gamma':
      return `gamma ${rule.gamma}`;
    case 'zbox':
      return rule.bounds === 'preprocess' ? "zbox (bounds from the model's preprocessing)" : 'zbox';
    default:
      return rule.rule;
  }
}

/** The preset as a spec; `source` (e.g. `--composite`) prefixes its messages along with the preset's name. */
export function presetComposite(name: PresetName, source: string): CompositeSpec {
  const def: PresetDef = PRESETS[name];
  const rules: CompositeEntry[] = (def.rules ?? []).map(([layers, rule], index) => ({
    index,
    text: JSON.stringify({ layers, rule: rule.rule, ...paramText(rule) }),
    selectors: [selector(layers)],
    rule,
  }));
  return {
    name, source: `${source} (preset ${name})`, preset: name, stabilizer: DEFAULT_STABILIZER,
    method: def.method ?? null, rules,
  };
}

/** One line for help text, e.g. `LRP_CMP:α2+b: dense: epsilon (--epsilon, default 0.1); conv: alpha-beta 2, 1; #0: flat`. */
export function presetDescription(name: string): string {
  if (!isPresetName(name)) throw new Error(`unknown composite preset '${name}' (presets: ${PRESET_NAMES.join(', ')})`);
  const def: PresetDef = PRESETS[name];
  if (def.method) return `${def.paper}: the ${def.method} method`;
  return `${def.paper}: ${(def.rules ?? []).map(([layers, rule]) => `${layers}: ${describeRule(rule)}`).join('; ')}`;
}
