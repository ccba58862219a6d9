/** The synthetic boxes dataset (browser-safe): shapes, the image generator and VOC text. */
export { fmix32, imageSeed, Rng } from './rng.ts';
export { DISTRACTOR_KINDS, insideLocal, insidePixel, rasterize, SYNTH_CLASSES } from './shapes.ts';
export type { DistractorKind, Shape, ShapeKind, SynthClass } from './shapes.ts';
export { DEFAULT_SYNTH_SIZE, MIN_SYNTH_SIZE, MIN_VISIBLE, synthesize, synthName } from './generate.ts';
export type { SynthObject, SynthOptions, SynthSample, Texture, VocBox } from './generate.ts';
export { classesText, labelVector, vocXml } from './voc.ts';
