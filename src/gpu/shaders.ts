/**
 * Where WGSL comes from. The core never reads files: Node passes a loader over `shaders/`, a page
 * one that fetches the same files, so both run the very same shader text.
 */
export type ShaderLoader = (path: string) => Promise<string> | string;

/** Every shader the core may ask for, relative to `shaders/`; bundlers and tests use the list. */
export const SHADER_FILES = [
  'forward/conv2d.wgsl',
  'forward/dense.wgsl',
  'forward/maxpool.wgsl',
  'forward/avgpool.wgsl',
  'forward/lrn.wgsl',
  'forward/concat.wgsl',
] as const;

export type ShaderPath = (typeof SHADER_FILES)[number];
