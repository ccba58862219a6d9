/**
 * The records the evaluation passes along, dataset → preprocess → GPU → metrics → report.
 * Browser-safe: readers that touch files live in src/node/datasets/.
 */
import type { Box } from '../preprocess/geometry.ts';

/** One object class of an image with its boxes, in the image's own VOC coordinates (1-based, inclusive). */
export interface ClassBoxes {
  readonly classIndex: number;
  readonly className: string;
  readonly boxes: readonly Box[];
}

/** One image of a dataset and the (image, class) pairs measured on it. */
export interface Sample {
  /** Stable id, e.g. "2007_000027" or "ILSVRC2012_val_00000008": the key of resume and merge. */
  readonly id: string;
  readonly imagePath: string;
  readonly annotationPath: string;
  /** Size from the annotation (checked against the decoded image). */
  readonly width: number;
  readonly height: number;
  readonly classes: readonly ClassBoxes[];
}

/** A pair skipped before reaching the GPU, with why (bad XML, box outside the image, ...). */
export interface Skip {
  readonly id: string;
  /** The class, when the problem is one pair's rather than the image's. */
  readonly classIndex?: number;
  readonly className?: string;
  readonly reason: string;
}

/** A sample ready for the GPU: its model input and one mask per measured pair. */
export interface PreparedSample {
  readonly sample: Sample;
  /** C × H × W float32 at the model input size. */
  readonly input: Float32Array;
  /** Per pair (the sample's classes that survived preprocessing): the class and its H × W 0/1 mask. */
  readonly pairs: readonly { readonly classIndex: number; readonly className: string; readonly mask: Uint8Array }[];
  /** Pairs of this sample dropped in preprocessing (every box outside the crop, ...). */
  readonly skips: readonly Skip[];
}

/** One measurement: the paper's per-pair numbers. */
export interface PairRecord {
  readonly image: string;
  readonly class: string;
  readonly classIndex: number;
  readonly analyzer: string;
  readonly S_in: number;
  readonly S_tot: number;
  readonly R_in: number;
  readonly R_tot: number;
  /** null when R_tot = 0 (degenerate: left out of every mean). */
  readonly mu: number | null;
  readonly mu_w: number | null;
  /** Region perturbation (`--metrics mu,aopc`), in runs that measure it. */
  readonly aopc?: AopcRecord;
}

/**
 * The region-perturbation curves of one record (src/eval/region-perturbation.ts): the class logit
 * f(x_k) for k = 0..L, x_0 the clean input, removing patches in the analyzer's MoRF and LeRF
 * orders. Logits are float32 values written with 9 significant digits (enough to give the float32
 * back); every aggregate is computed from these numbers.
 */
export interface AopcRecord {
  /** f(x_0), also the first value of every curve. */
  readonly f0: number;
  readonly morf: readonly number[];
  readonly lerf: readonly number[];
  /**
   * The random order's curves for this (image, class): kept once per pair, in the record of the
   * run's first analyzer (absent in the others).
   */
  readonly random?: { readonly morf: readonly number[]; readonly lerf: readonly number[] };
}
