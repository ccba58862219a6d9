/**
 * Composites in the public API: which LRP rule runs on which layer, given as a preset name or as
 * the JSON of shared/docs/composite-spec.md (zennit's "composite", Captum's per-layer `rule`).
 * A thin layer over src/lrp/composite.ts, whose parser and resolver do all the checking.
 */
import type { Graph } from '../graph/ir.ts';
import { formatComposite, parseComposite, resolveComposite, type CompositeSpec, type ResolvedComposite } from '../lrp/composite.ts';
import { PRESET_NAMES, presetDescription, type PresetName } from '../lrp/presets.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import type { Patterns } from './patterns.ts';

/** The name of a preset composite, e.g. `'cmp-alpha2-flat'` (the paper's LRP_CMP:α2+b). */
export type { PresetName };

/** A layer selector: `conv`, `dense`, `linear`, `#k`, `#k-m`, `name:NODE`, `maxpool`, `avgpool`, `relu`, `lrn`. */
export type LayerSelector = string;

/** One entry of a composite's `rules`: a rule and the layers it applies to, with its parameters. */
export type CompositeRuleJson = { readonly layers: LayerSelector | readonly LayerSelector[] } & (
  | { readonly rule: 'z' | 'zplus' | 'flat' | 'wsquare' | 'proportional' | 'norm'; readonly stabilizer?: number }
  | { readonly rule: 'epsilon'; readonly epsilon: number }
  | { readonly rule: 'alpha-beta'; readonly alpha: number; readonly beta: number; readonly stabilizer?: number }
  | { readonly rule: 'gamma'; readonly gamma: number; readonly stabilizer?: number }
  | { readonly rule: 'zbox'; readonly low: number | readonly number[]; readonly high: number | readonly number[]; readonly stabilizer?: number }
  | { readonly rule: 'winner' | 'pass' }
);

/**
 * A composite as JSON (shared/docs/composite-spec.md): rules applied in order, a later entry
 * overriding an earlier one for the layers it selects; or a gradient method instead of rules.
 *
 * @example
 * ```ts
 * const composite: CompositeJson = {
 *   rules: [
 *     { layers: 'dense', rule: 'epsilon', epsilon: 0.1 },
 *     { layers: 'conv', rule: 'alpha-beta', alpha: 2, beta: 1 },
 *     { layers: '#0', rule: 'flat' },
 *   ],
 * };
 * ```
 */
export type CompositeJson =
  | {
    /** Names the composite in messages and reports (default "custom"). */
    readonly name?: string;
    /** The stabilizer of every rule that does not give its own (default 1e-6). */
    readonly stabilizer?: number;
    readonly rules: readonly CompositeRuleJson[];
  }
  | {
    readonly name?: string;
    /**
     * A method that follows every layer's true derivative instead of LRP rules;
     * `pattern-attribution` replaces each linear layer's weight W by A * W, A its learned pattern
     * (give `patterns` in the options).
     */
    readonly method: 'gradient' | 'gradient-x-input' | 'guided-backprop' | 'pattern-attribution';
  };

/** What `model.explainer()` and `Composite.parse()` take: a preset name, JSON text, a JSON object, or a parsed composite. */
export type CompositeSource = PresetName | string | CompositeJson | Composite;

/** The run-time choices a composite leaves open. */
export interface CompositeOptions {
  /**
   * The epsilon of the presets that use one (`lrp-epsilon`, the dense part of the `cmp-*` presets);
   * default 0.1, zennit's 1e-6 for the zennit-named presets. JSON composites give their own.
   */
  readonly epsilon?: number;
  /**
   * Turns the first N linear layers (`#0` to `#N-1`) to the `flat` rule, after every entry: the
   * paper's knob from local features to a coarse localisation. Default 0 (none).
   */
  readonly flatLayers?: number;
  /**
   * The model's learned patterns, which `pattern-attribution` needs (`model.learnPatterns()`, or
   * `loadPatterns()` in Node); other composites ignore them.
   */
  readonly patterns?: Patterns;
}

/** A preset with what it does. */
export interface PresetInfo {
  /** What `model.explainer()` takes, e.g. `'cmp-alpha2-flat'`. */
  readonly name: PresetName;
  /** e.g. `LRP_CMP:α2+b: dense: epsilon (--epsilon, default 0.1); conv: alpha-beta 2, 1; #0: flat`. */
  readonly description: string;
}

/**
 * What `Composite.describe` reads of a model: its graph and preprocessing. A `Model` is one (the
 * type is structural so that this module need not import the model's, which imports it).
 */
export interface DescribedModel {
  /** @internal The layer graph the GPU runs (after import and canonization). */
  readonly graph: Graph;
  /** The preprocessing images go through (`zbox` takes its input range from it), or null. */
  readonly preprocess: PreprocessSpec | null;
}

/**
 * A checked composite: parsing validates everything that does not need a model (rule names,
 * selectors, parameters), so a bad composite fails before any model loads; binding it to a model
 * (`model.explainer(composite)`) checks the rest (`#k` and `name:` selectors that match nothing).
 *
 * @example
 * ```ts
 * const composite = Composite.parse('{"rules": [{"layers": "linear", "rule": "epsilon", "epsilon": 0.25}]}');
 * console.log(composite.describe(model));   // the rule of every layer
 * ```
 */
export class Composite {
  private constructor(
    /** @internal */
    readonly spec: CompositeSpec,
  ) {}

  /**
   * Parses and checks a composite. Errors name `options.source` (default "composite") and the
   * offending entry, e.g. `composite: rules[1] {...}: unknown rule 'alpha-bta'`.
   */
  static parse(composite: CompositeSource, options: { readonly source?: string } = {}): Composite {
    if (composite instanceof Composite) return composite;
    return new Composite(parseComposite(composite, options.source ?? 'composite'));
  }

  /** Every preset, in the order of the paper's tables. */
  static get presets(): readonly PresetInfo[] {
    return PRESET_NAMES.map((name) => ({ name, description: presetDescription(name) }));
  }

  /** The preset name, the JSON's `name`, the method, or "custom". */
  get name(): string {
    return this.spec.name;
  }

  /** The gradient method, for a method composite; null for LRP rules. */
  get method(): 'gradient' | 'gradient-x-input' | 'guided-backprop' | 'pattern-attribution' | null {
    return this.spec.method;
  }

  /** The preset it came from, if any. */
  get preset(): PresetName | null {
    return this.spec.preset as PresetName | null;
  }

  /**
   * The rule every layer of `model` gets, as a table (one row per layer: linear index, name, kind,
   * rule with parameters), followed by the notes resolving it produced (defaults taken, ...).
   */
  describe(model: DescribedModel, options: CompositeOptions = {}): string {
    const resolved = this.resolve(model.graph, model.preprocess, options);
    return [formatComposite(resolved, model.graph), ...resolved.notes.map((n) => `note: ${n}`)].join('\n');
  }

  /** @internal The rule of every layer of `graph`. */
  resolve(graph: Graph, preprocess: PreprocessSpec | null, options: CompositeOptions = {}): ResolvedComposite {
    return resolveComposite(this.spec, graph, { epsilon: options.epsilon, flatLayers: options.flatLayers, preprocess, patterns: options.patterns?.set });
  }
}
