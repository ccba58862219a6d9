/**
 * The model-parameter randomization check in the public API (`model.sanityCheck`): the options
 * and the result types (src/eval/sanity.ts runs it; the same code `lrp sanity` runs).
 */
import type { CompositeOptions } from './composite.ts';
import type { Target } from './explainer.ts';

export type { SanityResult, SanityRow, SanityStat, SanityStep } from '../eval/sanity.ts';
export type { MapPairSimilarity } from '../eval/map-similarity.ts';

/** Options of {@link Model.sanityCheck}. */
export interface SanityCheckOptions extends CompositeOptions {
  /**
   * The class explained: one for every sample, or one per sample. `'predicted'` (the default) is
   * the original model's prediction, kept at every step of the cascade.
   */
  readonly target?: Target | readonly Target[];
  /** Seeds the random weights (default 0): the same seed, the same weights. */
  readonly seed?: number;
  /** Samples per forward and relevance pass (default 16, at most what the model fits). */
  readonly batchSize?: number;
  /** The relevance the target starts with (default `'logit'`). */
  readonly init?: 'logit' | 'onehot';
  /** Called after each batch: sample explanations done of `total`, and which model ran. */
  readonly onProgress?: (done: number, total: number, what: string) => void;
}
