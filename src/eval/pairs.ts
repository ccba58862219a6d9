/**
 * From an annotated image to the measured (image, class) pairs: box checks, the class masks at the
 * model input, and the result type of preparation. Browser-safe (no file access): the Node readers
 * in src/node/datasets/ and the worker pool in src/node/prepare/ are built on these.
 *
 * Geometry is the protocol's (shared/docs/evaluation-protocol.md, "Preprocessing"): every box goes
 * through transformBox, the mask of a class is boxMask of the union of its transformed boxes.
 */
import { boxMask, transformBox, type Box } from '../preprocess/geometry.ts';
import { preprocessImage, type RgbaImage } from '../preprocess/image.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import type { PreparedSample, Sample, Skip } from './types.ts';

/**
 * A sample that reached no GPU work: the image could not be decoded, its size disagrees with the
 * annotation, or every pair was dropped in preprocessing.
 */
export interface PrepareFailure {
  readonly sample: Sample;
  /** Why the sample as a whole was dropped; names the file where a file is at fault. */
  readonly reason: string;
  /** One Skip per pair of the sample (classIndex and className set), so skipped pairs count as `skips.length`. */
  readonly skips: readonly Skip[];
}

/** A sample ready for the GPU, or why it is not. */
export type PrepareResult = PreparedSample | PrepareFailure;

/** Whether preparation succeeded (the sample has an input and pairs). */
export function isPrepared(r: PrepareResult): r is PreparedSample {
  return 'input' in r;
}

/** The number of (image, class) pairs the samples hold. */
export function countPairs(samples: readonly Sample[]): number {
  let n = 0;
  for (const s of samples) n += s.classes.length;
  return n;
}

/**
 * Why a VOC box (1-based, inclusive) is not a box of a `width x height` image, or null when it is:
 * `1 <= xmin <= xmax <= width` and `1 <= ymin <= ymax <= height` (a size of 0 is unknown and not
 * checked). Fractional coordinates (a few VOC 2012 files have them) are accepted: the continuous
 * box `[xmin - 1, xmax)` is still defined.
 */
export function vocBoxProblem(box: Box, width: number, height: number): string | null {
  const { xmin, ymin, xmax, ymax } = box;
  const text = `(xmin ${xmin}, ymin ${ymin}, xmax ${xmax}, ymax ${ymax})`;
  if (![xmin, ymin, xmax, ymax].every(Number.isFinite)) return `box ${text} has a non-numeric coordinate`;
  const why: string[] = [];
  if (xmin < 1) why.push('xmin < 1');
  if (ymin < 1) why.push('ymin < 1');
  if (width > 0 && xmax > width) why.push(`xmax > width ${width}`);
  if (height > 0 && ymax > height) why.push(`ymax > height ${height}`);
  if (xmin > xmax) why.push('xmin > xmax');
  if (ymin > ymax) why.push('ymin > ymax');
  if (why.length === 0) return null;
  const size = width > 0 && height > 0 ? ` the ${width}x${height} image` : ' the image';
  return `box ${text} is not inside${size}: ${why.join(', ')}`;
}

/**
 * A box checked against its image, tolerating one pixel beyond an edge: ILSVRC's boxes are
 * 0-based (coordinate 0 occurs, width never does), read as 1-based they reach one pixel past the
 * left or top edge. Such a box is clipped to the image (`clipped`: the mask is the same, since
 * transformBox clips to the input anyway); anything further out, or inverted, is a `problem`.
 */
export function fitVocBox(box: Box, width: number, height: number): { box: Box; clipped: boolean } | { problem: string } {
  const W = width > 0 ? width : Infinity, H = height > 0 ? height : Infinity;
  const fits = box.xmin >= 0 && box.ymin >= 0 && box.xmax <= W + 1 && box.ymax <= H + 1;
  const fitted = fits
    ? { xmin: Math.max(1, box.xmin), ymin: Math.max(1, box.ymin), xmax: Math.min(W, box.xmax), ymax: Math.min(H, box.ymax) }
    : box;
  const problem = vocBoxProblem(fitted, width, height);
  if (problem !== null) return { problem: fitted === box ? problem : vocBoxProblem(box, width, height)! };
  const clipped = fitted.xmin !== box.xmin || fitted.ymin !== box.ymin || fitted.xmax !== box.xmax || fitted.ymax !== box.ymax;
  return { box: clipped ? fitted : box, clipped };
}

/** Every pair of `sample` skipped for one reason (the sample-level failure). */
export function failSample(sample: Sample, reason: string): PrepareFailure {
  return {
    sample,
    reason,
    skips: sample.classes.map((c) => ({ id: sample.id, classIndex: c.classIndex, className: c.className, reason })),
  };
}

/**
 * The class masks of `sample` at the model input (`spec.size`, row-major H x W, 1 inside), for an
 * image of `imageW x imageH`. A pair is dropped, with a Skip, when every one of its boxes falls
 * outside the centre crop, or when what is left covers no pixel centre (an empty mask has no
 * defined `mu_w`). Boxes are checked against the image first when the annotation gave no size
 * (`sample.width` 0); the dataset readers have checked them otherwise.
 */
export function samplePairs(
  sample: Sample, imageW: number, imageH: number, spec: Pick<PreprocessSpec, 'size' | 'resize' | 'shorter'>,
): { pairs: PreparedSample['pairs']; skips: Skip[] } {
  const [h, w] = spec.size;
  const checkBoxes = !(sample.width > 0 && sample.height > 0);
  const pairs: { classIndex: number; className: string; mask: Uint8Array }[] = [];
  const skips: Skip[] = [];
  for (const c of sample.classes) {
    const skip = (reason: string) => skips.push({ id: sample.id, classIndex: c.classIndex, className: c.className, reason });
    let voc = c.boxes;
    if (checkBoxes) {
      const fitted = c.boxes.map((b) => fitVocBox(b, imageW, imageH));
      const bad = fitted.find((f) => 'problem' in f);
      if (bad && 'problem' in bad) {
        skip(`${sample.annotationPath}: ${c.className}: ${bad.problem}`);
        continue;
      }
      voc = fitted.map((f) => ('box' in f ? f.box : null)!);
    }
    const boxes = voc.map((b) => transformBox(b, imageW, imageH, spec)).filter((b): b is Box => b !== null);
    if (boxes.length === 0) {
      const n = c.boxes.length;
      skip(`${sample.imagePath}: ${c.className}: ${n === 1 ? 'its box lies' : `all ${n} boxes lie`} outside the ${w}x${h} centre crop of the ${imageW}x${imageH} image`);
      continue;
    }
    const mask = boxMask(boxes, w, h);
    if (mask.indexOf(1) < 0) {
      skip(`${sample.imagePath}: ${c.className}: the boxes cover no pixel centre of the ${w}x${h} input (too thin after resizing)`);
      continue;
    }
    pairs.push({ classIndex: c.classIndex, className: c.className, mask });
  }
  return { pairs, skips };
}

/**
 * A decoded image to its model input and pair masks: the decoded size must be the annotation's
 * (boxes are in the annotation's pixel grid; a mismatch means one of the two is not what we
 * think, so the sample is dropped rather than guessed at). A sample left with no pair is a failure.
 */
export function prepareDecoded(sample: Sample, img: RgbaImage, spec: PreprocessSpec): PrepareResult {
  const known = sample.width > 0 && sample.height > 0;
  if (known && (img.width !== sample.width || img.height !== sample.height)) {
    const turned = img.orientation ? ` (after its EXIF orientation ${img.orientation})` : '';
    return failSample(sample, `${sample.imagePath}: decoded size ${img.width}x${img.height}${turned} differs from the annotation's ${sample.width}x${sample.height} (${sample.annotationPath})`);
  }
  const { pairs, skips } = samplePairs(sample, img.width, img.height, spec);
  // A sample that asks for no class is an image alone (pattern statistics need no boxes).
  if (pairs.length === 0 && sample.classes.length > 0) {
    return { sample, reason: `${sample.imagePath}: no pair left after preprocessing`, skips };
  }
  return { sample, input: preprocessImage(img, spec), pairs, skips };
}
