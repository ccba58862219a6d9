import type { PreprocessSpec } from './spec.ts';

/** torchvision's ImageNet habit: RGB / 255, ImageNet mean and std, shorter side 256, centre crop. */
export function torchvisionImagenet(size = 224): PreprocessSpec {
  return {
    size: [size, size], channels: 'RGB', scale: 1 / 255,
    mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'shorter-side-crop', shorter: 256,
  };
}

/** Caffe's: BGR 0..255 minus the per-channel ImageNet mean. */
export function caffeImagenet(size = 227): PreprocessSpec {
  return {
    size: [size, size], channels: 'BGR', scale: 1, mean: [104, 117, 123], std: [1, 1, 1],
    resize: 'shorter-side-crop', shorter: 256,
  };
}

/** The preprocessing the built-in architectures were defined with (their weights are random). */
export function builtinPreprocess(name: string): PreprocessSpec {
  return name.startsWith('caffenet') ? caffeImagenet(227) : torchvisionImagenet(224);
}
