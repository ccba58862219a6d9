/**
 * One sample from files to model input and masks, on whatever thread calls it. Never throws: a
 * failure (unreadable or corrupt image, size mismatch, no pair left) is a PrepareFailure.
 */
import { failSample, prepareDecoded, type PrepareResult } from '../../eval/pairs.ts';
import type { Sample } from '../../eval/types.ts';
import type { RgbaImage } from '../../preprocess/image.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import { readImage } from '../image-decode.ts';

/** Reads and decodes a sample's image and makes its model input and class masks (see `prepareImage`); never throws. */
export async function prepareSample(sample: Sample, spec: PreprocessSpec): Promise<PrepareResult> {
  let img: RgbaImage;
  try {
    img = await readImage(sample.imagePath); // its errors name the file
  } catch (e) {
    return failSample(sample, e instanceof Error ? e.message : String(e));
  }
  try {
    return prepareDecoded(sample, img, spec);
  } catch (e) {
    return failSample(sample, `${sample.imagePath}: preprocessing failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
