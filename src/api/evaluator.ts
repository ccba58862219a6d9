/**
 * The evaluation in the public API (shared/docs/evaluation-protocol.md): how much of an
 * explanation's positive relevance falls inside the object's bounding box, per (image, class)
 * pair and analyzer, reduced on the GPU by the same Evaluator `lrp eval` runs; then the paper's
 * aggregates (Table 1's mu_w, mu<=0.25, mu<=0.5, mu; Fig. 3's curve) from the records.
 */
import type { ForwardModel } from '../forward/model.ts';
import { pairRecord } from '../eval/aggregate.ts';
import { Evaluator as Engine } from '../eval/evaluator.ts';
import { maskedSumsCpu, type PairSums } from '../eval/masked-sums.ts';
import type { PairRecord, PreparedSample, Skip } from '../eval/types.ts';
import type { ResolvedComposite } from '../lrp/composite.ts';
import type { CompositeOptions } from './composite.ts';
import type { Tensor } from './input.ts';
import { argumentError, requireChoice, requireOptions, requireTensor } from '../io/arguments.ts';
import { untilDestroyed } from './lifetime.ts';

export { aggregate, type Aggregates, type Curve, type ReportRow } from '../eval/aggregate.ts';
export { isPrepared, prepareDecoded as prepareImage, type PrepareFailure, type PrepareResult } from '../eval/pairs.ts';
export { boxMask, type Box } from '../preprocess/geometry.ts';
export type { ClassBoxes, PairRecord, PreparedSample, Sample, Skip } from '../eval/types.ts';
export type { PairSums } from '../eval/masked-sums.ts';

/** Options of `model.evaluator()`: the composites' run-time choices, and the GPU batch. */
export interface EvaluatorOptions extends CompositeOptions {
  /** The most (image, class) pairs per relevance pass (default 16, at most what the model fits). */
  readonly relevanceBatch?: number;
}

/** Options of {@link Evaluator.evaluate}. */
export interface EvaluateOptions {
  /** The relevance the target class starts with (default `'logit'`, as in the paper). */
  readonly init?: 'logit' | 'onehot';
  /** Also return each record's channel-summed H×W relevance map. */
  readonly maps?: boolean;
}

/** The records of one batch. */
export interface Evaluation {
  /** One per (image, class, analyzer): the sums and the metrics mu and mu_w. */
  readonly records: readonly PairRecord[];
  /** Pairs that could not be measured (a class outside the model's outputs, an empty mask), with why. */
  readonly skips: readonly Skip[];
  /** Parallel to `records` when `maps` was asked: each H×W map. */
  readonly maps: readonly Float32Array[] | null;
}

/**
 * Several analyzers measured on the same samples, one forward pass per image: make one with
 * `model.evaluator(['cmp-alpha2-flat', 'lrp-z'])`, feed it prepared samples (`prepareImage`, or
 * `prepareSample` in Node), and aggregate the records with `aggregate`.
 */
export class Evaluator {
  private destroyed = false;

  private constructor(private readonly engine: Engine, private readonly onDestroy: () => void) {}

  /** @internal */
  static async of(
    forward: ForwardModel, analyzers: readonly { name: string; composite: ResolvedComposite }[], options: EvaluatorOptions, onDestroy: () => void,
  ): Promise<Evaluator> {
    const batch = options.relevanceBatch ?? 16;
    if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`relevanceBatch must be a whole number >= 1, got ${batch}`);
    return new Evaluator(await Engine.create(forward, analyzers, { relevanceBatch: batch }), onDestroy);
  }

  /** The analyzers' names, in the order given: the order of `aggregate`'s ties and columns. */
  get analyzers(): readonly string[] {
    return this.engine.analyzers.map((a) => a.name);
  }

  /** Measures every pair of `samples` under every analyzer. */
  async evaluate(samples: readonly PreparedSample[], options: EvaluateOptions = {}): Promise<Evaluation> {
    if (this.destroyed) throw new Error('this evaluator was destroyed; make a new one with model.evaluator()');
    options = requireOptions('evaluate', options);
    const init = requireChoice('evaluate', 'options.init', options.init, ['logit', 'onehot'] as const, 'logit');
    const r = await untilDestroyed('evaluate', () => (this.destroyed ? 'the evaluator (or its model, or the Lrp)' : null),
      () => this.engine.evaluate(samples, { init, maps: options.maps }));
    return { records: r.records, skips: r.skips, maps: r.maps };
  }

  /** Frees its kernels (the model stays). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.engine.destroy();
    this.onDestroy();
  }
}

/** The localisation of one relevance map against a mask. */
export interface Localization extends PairSums {
  /** R_in / R_tot: the share of positive relevance inside the mask; null when R_tot = 0. */
  readonly mu: number | null;
  /** mu · S_tot / S_in: mu weighted by the inverse of the mask's area share (1 is chance). */
  readonly mu_w: number | null;
}

/**
 * The paper's metric on the CPU, for one sample of an explanation: sums the relevance over
 * channels, keeps the positive part, and compares what lies inside `mask` (H×W, non-zero inside,
 * e.g. from `boxMask`) with the total. Float64; the evaluator computes the same on the GPU.
 */
export function localization(relevance: Tensor, mask: ArrayLike<number>, sample = 0): Localization {
  requireTensor('localization', 'relevance', relevance);
  if (!(ArrayBuffer.isView(mask) || Array.isArray(mask))) throw argumentError('localization', 'mask', 'an H×W list or typed array (boxMask gives one)', mask);
  if (relevance.shape.length !== 4) throw new Error(`localization needs an N×C×H×W relevance, got shape [${relevance.shape.join(', ')}]`);
  const [n, c, h, w] = relevance.shape;
  if (!Number.isInteger(sample) || sample < 0 || sample >= n) throw new Error(`sample ${sample} is not in the batch of ${n}`);
  if (mask.length !== h * w) throw new Error(`the mask has ${mask.length} pixels, the relevance maps ${h}×${w} = ${h * w}`);
  const sums = maskedSumsCpu(relevance.data, c, h * w, mask, sample * c * h * w);
  if (sums.S_in === 0) throw new Error('the mask is empty (no non-zero pixel): nothing to measure');
  const r = pairRecord({ image: '', class: '', classIndex: 0, analyzer: '' }, sums);
  return { ...sums, mu: r.mu, mu_w: r.mu_w };
}
