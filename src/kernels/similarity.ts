/** Declarations of shaders/similarity/ (see src/gpu/kernel.ts); src/eval/map-similarity.ts binds them. */
import { defineKernel } from '../gpu/kernel.ts';

export const scaleMap = defineKernel({
  shader: 'similarity/scale_map.wgsl',
  uniforms: { channels: 'u32', plane: 'u32', maps: 'u32' },
  bindings: { p: 'uniform', rel: 'read', maps: 'read_write', stats: 'read_write' },
  overrides: {},
});

export const sortInit = defineKernel({
  shader: 'similarity/sort_init.wgsl',
  uniforms: { plane: 'u32', pad: 'u32', total: 'u32' },
  bindings: { p: 'uniform', maps: 'read', keys: 'read_write', idx: 'read_write' },
  overrides: { WG: 'u32' },
});

export const bitonicStep = defineKernel({
  shader: 'similarity/bitonic_step.wgsl',
  uniforms: { pad: 'u32', total: 'u32', k: 'u32', j: 'u32' },
  bindings: { p: 'uniform', keys: 'read_write', idx: 'read_write' },
  overrides: { WG: 'u32' },
});

export const rankSorted = defineKernel({
  shader: 'similarity/rank_sorted.wgsl',
  uniforms: { plane: 'u32', pad: 'u32', total: 'u32' },
  bindings: { p: 'uniform', keys: 'read', idx: 'read', ranks: 'read_write' },
  overrides: { WG: 'u32' },
});

export const pairSimilarity = defineKernel({
  shader: 'similarity/pair_similarity.wgsl',
  uniforms: { height: 'u32', width: 'u32', pairs: 'u32' },
  bindings: { p: 'uniform', a: 'read', b: 'read', ra: 'read', rb: 'read', g: 'read', out: 'read_write' },
  overrides: {},
});
