/**
 * The data a composite passes through (shared/docs/composite-spec.md): a `CompositeSpec` as parsed
 * from a preset or JSON, and the `ResolvedComposite` it becomes on one graph.
 *
 * Types and vocabulary only, and no import of the parser or the presets: presets.ts builds specs
 * from these types and the parser loads presets.ts, so a shared leaf keeps the arrows one way.
 */
import type { PatternSet } from '../../patterns/pattern-set.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import type { KindSelector } from '../kind-rules.ts';
import type { LayerRule, Method } from '../rule-spec.ts';

export const METHODS: readonly Method[] = ['gradient', 'gradient-x-input', 'guided-backprop', 'pattern-attribution'];

export { KIND_SELECTORS, type KindSelector, type EntryRuleName } from '../kind-rules.ts';

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
