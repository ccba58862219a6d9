/**
 * Composites: which rule runs on which layer (shared/docs/composite-spec.md).
 *
 * Two steps, so that a bad spec fails before any model is loaded and a spec that does not fit the
 * model fails before anything runs:
 *
 * - `parseComposite` turns a preset name, JSON text or a parsed JSON object into a `CompositeSpec`,
 *   checking everything that does not need the model: keys, rule names, selectors, parameters.
 * - `resolveComposite` binds a spec to a graph: it picks a `LayerRule` for every layer, checks what
 *   needs the model (`#k` and `name:` selectors that match nothing, zbox bound lengths) and fills
 *   what presets leave to the run (`--epsilon`, zbox bounds from the preprocessing, `--flat-layers`).
 *
 * Every error is an Error naming the source and, where there is one, the entry
 * (`composite.json: rules[2] {"layers":"#9","rule":"flat"}: selector #9 matches no layer ...`).
 *
 * Decisions where the spec is silent:
 * - Every layer gets an entry in `ResolvedComposite.rules`; layers with nothing to choose
 *   (flatten, identity/dropout, concat) get `pass`, in the gradient methods too (their derivative
 *   is the identity, shape-mapped), so a consumer can look up any layer without a fallback.
 * - Residual networks (lrp-rules.md, "Residual networks and BatchNorm"): every `add` gets `norm`
 *   with the composite's stabilizer unless an entry selects it (`add` is its selector, `norm` its
 *   only rule); standalone BatchNorm, Clip and LeakyRelu get `pass`, and the gradient methods give
 *   them their true derivative; a Pad's relevance is cropped under every rule (src/lrp/kind-rules.ts).
 * - An `epsilon` entry in JSON must give `epsilon` (a missing parameter is an error, as the spec
 *   says); only presets take theirs from `--epsilon`.
 * - `layers` may also be a non-empty array of selectors (their union). A top-level `"name"`
 *   (a string) names the composite; otherwise a JSON composite is named after its method, or "custom".
 * - `#k-m` takes negative indices at either end (`#0--1` is every linear layer, `#-2--1` the last
 *   two); a range that is empty or reaches past either end is an error, like `#k` matching nothing.
 * - Zbox bounds: one number is broadcast; a list must have one value per input channel of the
 *   layer (a conv's input channels, a dense layer's input features). A dense layer fed by the
 *   model's C×H×W input through Flatten also takes C values, expanded over H·W in NCHW order.
 * - `--flat-layers N` applies after every entry (it wins over `#0` entries), with the composite's
 *   stabilizer; N = 0 changes nothing. Preset epsilons: see presets.ts.
 * - `--epsilon` on a composite that takes no epsilon from it, and a kind selector that matches
 *   nothing, are notes, not errors. `--flat-layers` on a gradient method is an error.
 * - Rules that take no parameters (`winner`, `pass`) reject a `stabilizer`; `epsilon` takes
 *   `epsilon` and no `stabilizer` (its epsilon is its stabilizer). A method composite takes no
 *   other key.
 */
import type { Graph, Layer } from '../graph/ir.ts';
import { isLinear } from '../graph/ir.ts';
import type { PatternSet } from '../patterns/pattern-set.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { ENTRY_RULES, KIND_RULES, KIND_SELECTORS, type EntryRuleName, type KindSelector } from './kind-rules.ts';
import type { LayerRule, LinearRule, Method } from './rule-spec.ts';
import { DEFAULT_STABILIZER, LINEAR_RULES } from './rule-spec.ts';
import { isPresetName, PRESET_NAMES, presetComposite } from './presets.ts';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export const METHODS: readonly Method[] = ['gradient', 'gradient-x-input', 'guided-backprop', 'pattern-attribution'];

export { KIND_SELECTORS, type KindSelector, type EntryRuleName } from './kind-rules.ts';

export type Selector =
  | { readonly type: 'kind'; readonly kind: KindSelector }
  /** Linear layers `from` to `to` in forward order, both included; negative counts from the end. */
  | { readonly type: 'index'; readonly from: number; readonly to: number }
  | { readonly type: 'name'; readonly name: string };

/** An epsilon a preset leaves to `--epsilon`, with the value it takes when the option is absent. */
export interface EpsilonFromOption { readonly option: 'epsilon'; readonly default: number }
export type ZboxBound = number | readonly number[];

/** A rule as an entry gives it: parameters as written, `stabilizer` only where overridden. */
export type EntryRule =
  | { readonly rule: 'z' | 'zplus' | 'flat' | 'wsquare' | 'proportional' | 'norm'; readonly stabilizer?: number }
  | { readonly rule: 'epsilon'; readonly epsilon: number | EpsilonFromOption }
  | { readonly rule: 'alpha-beta'; readonly alpha: number; readonly beta: number; readonly stabilizer?: number }
  | { readonly rule: 'gamma'; readonly gamma: number; readonly stabilizer?: number }
  | {
    readonly rule: 'zbox';
    /** `'preprocess'`: the bounds of the model's input range under its preprocessing (presets only). */
    readonly bounds: { readonly low: ZboxBound; readonly high: ZboxBound } | 'preprocess';
    readonly stabilizer?: number;
  }
  | { readonly rule: 'winner' | 'pass' };

export interface CompositeEntry {
  /** Position in `rules`, for messages. */
  readonly index: number;
  /** The entry as written (JSON, shortened when long), for messages. */
  readonly text: string;
  /** The union of these selects the entry's layers. */
  readonly selectors: readonly Selector[];
  readonly rule: EntryRule;
}

export interface CompositeSpec {
  /** The preset name, the JSON's `"name"`, the method, or "custom". */
  readonly name: string;
  /** Where the spec came from (a file name, `--composite`), prefixed to every message. */
  readonly source: string;
  /** The preset it came from, if any. */
  readonly preset: string | null;
  readonly stabilizer: number;
  /** A gradient method instead of rules (then `rules` is empty). */
  readonly method: Method | null;
  /** Applied in order: a later entry overrides an earlier one for the layers it selects. */
  readonly rules: readonly CompositeEntry[];
}

export interface ResolveOptions {
  /** `--flat-layers N`: linear layers #0..#(N-1) use `flat`, after every entry. */
  flatLayers?: number;
  /** `--epsilon E`: the epsilon of the presets that use one (default per preset: 0.1, or zennit's 1e-6). */
  epsilon?: number;
  /** The model's preprocessing, for presets whose zbox bounds come from it. */
  preprocess?: PreprocessSpec | null;
  /** Learned patterns (`--patterns DIR`), which the pattern-attribution method needs. */
  patterns?: PatternSet | null;
  /**
   * `--classifier-layers K`: the last K linear layers count as `dense` for kind selectors (and
   * not as `conv`), so an all-convolutional model's classifier (SqueezeNet's conv10) takes the
   * rule the composite gives dense layers, as the paper puts epsilon at the top. Default 0.
   */
  classifierLayers?: number;
}

export interface ResolvedComposite {
  readonly name: string;
  readonly method: Method | null;
  /** Every layer of the graph, by layer name. */
  readonly rules: ReadonlyMap<string, LayerRule>;
  /** Things the tool should say once (defaults taken, options without effect, ...). */
  readonly notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

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

const TOP_KEYS = ['name', 'stabilizer', 'rules', 'method'];
const SELECTOR_HELP = 'conv, dense, linear, #k, #k-m, #-1, name:NAME, maxpool, avgpool, relu, lrn, add';
const RULE_HELP =
  `conv/dense: ${LINEAR_RULES.join(', ')}; maxpool: winner, proportional; avgpool: norm, flat; relu, lrn: pass; add: norm`;
const ALPHA_BETA_TOLERANCE = 1e-9;
const MAX_TEXT = 240;

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/**
 * A composite from a preset name, JSON text (starting with `{`), or an already parsed JSON value.
 * `source` names where it came from in every error.
 */
export function parseComposite(input: unknown, source: string): CompositeSpec {
  if (typeof input === 'string') {
    const text = input.trim();
    if (isPresetName(text)) return presetComposite(text, source);
    if (text.startsWith('{') || text.startsWith('[')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new Error(`${source}: composite is not valid JSON: ${(e as Error).message}`);
      }
      return parseCompositeJson(json, source);
    }
    throw new Error(
      `${source}: '${input}' is not a composite preset (presets: ${PRESET_NAMES.join(', ')}) nor JSON text (which starts with '{')`,
    );
  }
  return parseCompositeJson(input, source);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const json = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));

function parseCompositeJson(input: unknown, source: string): CompositeSpec {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!isPlainObject(input)) {
    return fail(`a composite must be a JSON object {"rules": [...]} or {"method": ...}, got ${shorten(json(input))}`);
  }
  for (const k of Object.keys(input)) {
    if (!TOP_KEYS.includes(k)) fail(`unknown key "${k}" in the composite (known: ${TOP_KEYS.join(', ')})`);
  }
  const name = input.name;
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    fail(`"name" must be a non-empty string, got ${json(name)}`);
  }

  if (input.method !== undefined) {
    const method = input.method;
    if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) {
      return fail(`unknown method ${json(method)} (methods: ${METHODS.join(', ')})`);
    }
    for (const k of ['rules', 'stabilizer']) {
      if (input[k] !== undefined) fail(`"method": "${method}" takes no "${k}" (a method uses every layer's true derivative)`);
    }
    return {
      name: (name as string | undefined) ?? method, source, preset: null, stabilizer: DEFAULT_STABILIZER,
      method: method as Method, rules: [],
    };
  }

  let stabilizer = DEFAULT_STABILIZER;
  if (input.stabilizer !== undefined) {
    if (!isFiniteNumber(input.stabilizer) || input.stabilizer <= 0) {
      fail(`"stabilizer" must be a positive number, got ${json(input.stabilizer)}`);
    }
    stabilizer = input.stabilizer as number;
  }
  if (input.rules === undefined) return fail('a composite needs "rules" (a list of {"layers", "rule"}) or a "method"');
  if (!Array.isArray(input.rules)) return fail(`"rules" must be a list of {"layers", "rule", ...}, got ${shorten(json(input.rules))}`);
  const rules = input.rules.map((e, i) => parseEntry(e, i, source));
  return { name: (name as string | undefined) ?? 'custom', source, preset: null, stabilizer, method: null, rules };
}

function shorten(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}

function entryFail(source: string, index: number, text: string, msg: string): never {
  throw new Error(`${source}: rules[${index}] ${text}: ${msg}`);
}

function parseEntry(raw: unknown, index: number, source: string): CompositeEntry {
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

/** A selector from its text, or null when it is not one. */
export function parseSelector(text: string): Selector | null {
  if ((KIND_SELECTORS as readonly string[]).includes(text)) return { type: 'kind', kind: text as KindSelector };
  if (text.startsWith('name:')) {
    const name = text.slice(5);
    return name === '' ? null : { type: 'name', name };
  }
  const m = /^#(-?\d+)(?:-(-?\d+))?$/.exec(text);
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) return null;
  return { type: 'index', from, to };
}

export function selectorText(sel: Selector): string {
  switch (sel.type) {
    case 'kind':
      return sel.kind;
    case 'name':
      return `name:${sel.name}`;
    case 'index':
      return sel.from === sel.to ? `#${sel.from}` : `#${sel.from}-${sel.to}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------

/** Whether a kind selector picks a layer; `classifier` layers count as dense, not conv. */
function kindMatches(kind: KindSelector, layer: Layer, classifier: ReadonlySet<Layer>): boolean {
  if (classifier.has(layer)) return kind === 'dense' || kind === 'linear';
  return kind === 'linear' ? isLinear(layer) : KIND_RULES[layer.kind].selector === kind;
}

/** An entry's rule with the numbers it resolves to (for notes: no option names, no defaults). */
function entryRuleText(rule: EntryRule, opts: ResolveOptions): string {
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
    const patterns = spec.method === 'pattern-attribution' ? methodPatterns(spec, graph, opts.patterns ?? null) : null;
    for (const l of graph.layers) {
      // PatternAttribution's linear layers carry their pattern, data no kind table holds.
      rules.set(l.name, patterns && isLinear(l) ? patternRule(l, patterns) : KIND_RULES[l.kind].methodRule(spec.method));
    }
    return { name: spec.name, method: spec.method, rules, notes };
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

  /** The dense entry that matched nothing (an all-convolutional model), for the note below. */
  let emptyDense: CompositeEntry | null = null;
  for (const entry of spec.rules) {
    const fail = (msg: string): never => entryFail(spec.source, entry.index, entry.text, msg);
    const selected = new Set<Layer>();
    let onlyKinds = true;
    for (const sel of entry.selectors) {
      switch (sel.type) {
        case 'kind':
          for (const l of graph.layers) if (kindMatches(sel.kind, l, classifier)) selected.add(l);
          break;
        case 'name': {
          onlyKinds = false;
          const l = graph.layers.find((x) => x.name === sel.name);
          if (!l) fail(`selector name:${sel.name} matches no layer of model ${graph.name}${nameHint(graph, sel.name)}`);
          else selected.add(l);
          break;
        }
        case 'index': {
          onlyKinds = false;
          const text = selectorText(sel);
          const from = sel.from < 0 ? n + sel.from : sel.from;
          const to = sel.to < 0 ? n + sel.to : sel.to;
          if (sel.from === sel.to) {
            if (from < 0 || from >= n) fail(`selector ${text} matches no layer (${haveLinear})`);
          } else {
            if (from < 0 || from >= n || to < 0 || to >= n) fail(`selector ${text} reaches past the linear layers (${haveLinear}: #0-${n - 1})`);
            if (from > to) fail(`selector ${text} is an empty range (#${from} comes after #${to}; ${haveLinear})`);
          }
          for (let k = from; k <= to; k++) selected.add(linear[k]);
          break;
        }
      }
    }
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

function nameHint(graph: Graph, name: string): string {
  const lower = name.toLowerCase();
  const close = graph.layers.filter((l) => l.name.toLowerCase().includes(lower) || lower.includes(l.name.toLowerCase()));
  const shown = (close.length > 0 ? close : graph.layers.filter(isLinear)).slice(0, 8).map((l) => l.name);
  return shown.length === 0 ? '' : ` (${close.length > 0 ? 'similar' : 'linear layers'}: ${shown.join(', ')}${shown.length === 8 ? ', ...' : ''})`;
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

interface BindContext {
  readonly spec: CompositeSpec;
  readonly graph: Graph;
  readonly opts: ResolveOptions;
  readonly onEpsilonOption: () => void;
  readonly notes: string[];
}

function bindRule(rule: EntryRule, layer: Layer, fail: (msg: string) => never, ctx: BindContext): LayerRule {
  const stabilizer = ('stabilizer' in rule ? rule.stabilizer : undefined) ?? ctx.spec.stabilizer;
  switch (rule.rule) {
    case 'z':
    case 'zplus':
    case 'flat':
    case 'wsquare':
    case 'proportional':
    case 'norm':
      return { rule: rule.rule, stabilizer };
    case 'epsilon': {
      let epsilon: number;
      if (typeof rule.epsilon === 'number') {
        epsilon = rule.epsilon;
      } else {
        ctx.onEpsilonOption();
        epsilon = ctx.opts.epsilon ?? rule.epsilon.default;
      }
      return { rule: 'epsilon', epsilon };
    }
    case 'alpha-beta':
      return { rule: 'alpha-beta', alpha: rule.alpha, beta: rule.beta, stabilizer };
    case 'gamma':
      return { rule: 'gamma', gamma: rule.gamma, stabilizer };
    case 'zbox':
      return zboxRule(rule.bounds, layer, stabilizer, fail, ctx);
    case 'winner':
    case 'pass':
      return { rule: rule.rule };
  }
}

/**
 * How a layer's input channels are counted for zbox bounds: `count` values, or (a dense layer fed
 * by the model's C×H×W input through Flatten/Identity) `imageChannels` values each covering `spread`
 * consecutive features.
 */
function zboxChannels(layer: Layer, graph: Graph): { count: number; imageChannels?: number; spread?: number } {
  if (layer.kind === 'conv') return { count: layer.inChannels };
  if (layer.kind !== 'dense') return { count: 0 };
  const producer = new Map(graph.layers.map((l) => [l.output, l]));
  let value = layer.inputs[0];
  for (;;) {
    if (value === graph.input.name) break;
    const p = producer.get(value);
    if (!p || (p.kind !== 'flatten' && p.kind !== 'identity') || p.inputs.length !== 1) return { count: layer.inFeatures };
    value = p.inputs[0];
  }
  const shape = graph.input.shape;
  if (shape.length !== 3 || shape[0] * shape[1] * shape[2] !== layer.inFeatures) return { count: layer.inFeatures };
  return { count: layer.inFeatures, imageChannels: shape[0], spread: shape[1] * shape[2] };
}

function zboxRule(
  bounds: Extract<EntryRule, { rule: 'zbox' }>['bounds'], layer: Layer, stabilizer: number,
  fail: (msg: string) => never, ctx: BindContext,
): LinearRule {
  const ch = zboxChannels(layer, ctx.graph);
  const what = layer.kind === 'dense' ? 'input features' : 'input channels';
  const expand = (v: ZboxBound, key: string): number[] => {
    if (typeof v === 'number') return new Array<number>(ch.count).fill(v);
    if (v.length === ch.count) return [...v];
    if (ch.imageChannels !== undefined && v.length === ch.imageChannels) {
      const spread = ch.spread!;
      return Array.from({ length: ch.count }, (_, f) => v[Math.floor(f / spread)]);
    }
    const alt = ch.imageChannels !== undefined ? ` (or one per channel of the model input: ${ch.imageChannels})` : '';
    return fail(`zbox "${key}" has ${v.length} values but layer ${layer.name} (${layer.kind}) has ${ch.count} ${what}${alt}`);
  };
  if (bounds !== 'preprocess') {
    return { rule: 'zbox', low: expand(bounds.low, 'low'), high: expand(bounds.high, 'high'), stabilizer };
  }
  const pre = ctx.opts.preprocess;
  if (!pre) {
    return fail(
      `zbox bounds come from the model's preprocessing, and model ${ctx.graph.name} has none ` +
      '(give --preprocess FILE, or put MODEL.onnx.json beside the model)',
    );
  }
  const c = pre.mean.length;
  const low = pre.mean.map((m, i) => (0 * pre.scale - m) / pre.std[i]);
  const high = pre.mean.map((m, i) => (255 * pre.scale - m) / pre.std[i]);
  if (c !== ch.count && c !== ch.imageChannels) {
    fail(
      `the preprocessing has ${c} channels (${pre.channels}) but layer ${layer.name} (${layer.kind}) has ${ch.count} ${what}`,
    );
  }
  ctx.notes.push(
    `zbox bounds on ${layer.name} from the preprocessing: low [${low.map(formatNumber).join(', ')}], ` +
    `high [${high.map(formatNumber).join(', ')}]`,
  );
  return { rule: 'zbox', low: expand(low, 'low'), high: expand(high, 'high'), stabilizer };
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

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
