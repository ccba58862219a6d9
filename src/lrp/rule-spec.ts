/**
 * What a composite assigns to a layer: a rule name with its parameters, exactly the vocabulary of
 * shared/docs/lrp-rules.md. How a rule is computed (which GPU passes) lives in rules.ts.
 */

/** Rules for convolution and dense layers. */
export type LinearRule =
  | { readonly rule: 'z'; readonly stabilizer: number }
  | { readonly rule: 'epsilon'; readonly epsilon: number }
  | { readonly rule: 'zplus'; readonly stabilizer: number }
  | { readonly rule: 'alpha-beta'; readonly alpha: number; readonly beta: number; readonly stabilizer: number }
  | { readonly rule: 'gamma'; readonly gamma: number; readonly stabilizer: number }
  | { readonly rule: 'flat'; readonly stabilizer: number }
  | { readonly rule: 'wsquare'; readonly stabilizer: number }
  | {
    readonly rule: 'zbox';
    /** One value per input channel (a single number in the JSON is broadcast). */
    readonly low: readonly number[];
    readonly high: readonly number[];
    readonly stabilizer: number;
  }
  /** The true gradient (gradient methods). */
  | { readonly rule: 'gradient' }
  /**
   * PatternAttribution's backward step: the gradient with the weight W replaced by A * W
   * (element-wise), A the layer's learned pattern in the IR's weight layout; `source` says where
   * it came from, `digest` identifies the whole pattern set by content (run identities compare it,
   * never the arrays).
   */
  | { readonly rule: 'pattern'; readonly pattern: Float32Array; readonly source: string; readonly digest: string };

export type MaxPoolRule = { readonly rule: 'winner' } | { readonly rule: 'proportional'; readonly stabilizer: number };
export type AvgPoolRule =
  | { readonly rule: 'norm'; readonly stabilizer: number }
  | { readonly rule: 'flat'; readonly stabilizer: number }
  | { readonly rule: 'gradient' };
/** `pass` leaves relevance unchanged; `gradient` is the true derivative; `guided` is guided backprop's ReLU. */
export type ReluRule = { readonly rule: 'pass' } | { readonly rule: 'gradient' } | { readonly rule: 'guided' };
export type LrnRule = { readonly rule: 'pass' } | { readonly rule: 'gradient' };

export type Method = 'gradient' | 'gradient-x-input' | 'guided-backprop' | 'pattern-attribution';

/** One layer's assignment; layers without parameters to choose (Flatten, Concat, ...) need none. */
export type LayerRule = LinearRule | MaxPoolRule | AvgPoolRule | ReluRule | LrnRule;

export const LINEAR_RULES = ['z', 'epsilon', 'zplus', 'alpha-beta', 'gamma', 'flat', 'wsquare', 'zbox'] as const;
export const DEFAULT_STABILIZER = 1e-6;

/** A rule as people write it, e.g. `alpha-beta(alpha=2, beta=1, stabilizer=0.000001)`, for messages. */
export function ruleLabel(rule: LayerRule): string {
  if (rule.rule === 'pattern') return `pattern(from ${rule.source})`;
  const params = Object.entries(rule).filter(([k]) => k !== 'rule').map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`);
  return params.length ? `${rule.rule}(${params.join(', ')})` : rule.rule;
}
