/**
 * Where WGSL comes from. The core never reads files: Node passes a loader over `shaders/`, a page
 * one that fetches the same files, so both run the very same shader text.
 */
export type ShaderLoader = (path: string) => Promise<string> | string;

/** Every shader the core may ask for, relative to `shaders/`; bundlers and tests use the list. */
export const SHADER_FILES = [
  'forward/avgpool.wgsl',
  'forward/concat.wgsl',
  'forward/conv2d.wgsl',
  'forward/conv2d_splitk_sum.wgsl',
  'forward/dense.wgsl',
  'forward/lrn.wgsl',
  'forward/maxpool.wgsl',
  'metrics/channel_sum.wgsl',
  'metrics/masked_sums.wgsl',
  'patterns/stats_channels.wgsl',
  'patterns/stats_fold.wgsl',
  'patterns/stats_gemm.wgsl',
  'relevance/avgpool_backward.wgsl',
  'relevance/conv_stab.wgsl',
  'relevance/conv_transpose.wgsl',
  'relevance/dense_stab.wgsl',
  'relevance/dense_transpose.wgsl',
  'relevance/elementwise_backward.wgsl',
  'relevance/lrn_backward.wgsl',
  'relevance/maxpool_backward.wgsl',
  'relevance/stab_divide.wgsl',
] as const;

export type ShaderPath = (typeof SHADER_FILES)[number];
