/** Declarations of shaders/metrics/ (see src/gpu/kernel.ts); src/eval/masked-sums.ts binds them. */
import { defineKernel } from '../gpu/kernel.ts';

export const maskedSums = defineKernel({
  shader: 'metrics/masked_sums.wgsl',
  uniforms: { channels: 'u32', plane: 'u32', pairs: 'u32', words: 'u32' },
  bindings: { p: 'uniform', rel: 'read', masks: 'read', table: 'read', out: 'read_write' },
  overrides: {},
});

export const channelSum = defineKernel({
  shader: 'metrics/channel_sum.wgsl',
  uniforms: { total: 'u32', channels: 'u32', plane: 'u32' },
  bindings: { p: 'uniform', rel: 'read', out: 'read_write' },
  overrides: { WG: 'u32' },
});

/** Region perturbation (src/eval/region-perturbation.ts): patch scores, their orders, the perturbed inputs. */
export const patchScores = defineKernel({
  shader: 'metrics/patch_scores.wgsl',
  uniforms: { channels: 'u32', height: 'u32', width: 'u32', side: 'u32', cols: 'u32', patches: 'u32', rows: 'u32' },
  bindings: { p: 'uniform', rel: 'read', table: 'read', scores: 'read_write' },
  overrides: {},
});

export const patchRanks = defineKernel({
  shader: 'metrics/patch_ranks.wgsl',
  uniforms: { patches: 'u32', rows: 'u32' },
  bindings: { p: 'uniform', scores: 'read', ranks: 'read_write' },
  overrides: {},
});

export const perturb = defineKernel({
  shader: 'metrics/perturb.wgsl',
  uniforms: { channels: 'u32', height: 'u32', width: 'u32', side: 'u32', cols: 'u32', total: 'u32', baseline: 'u32' },
  bindings: { p: 'uniform', x: 'read', ranks: 'read', table: 'read', out: 'read_write' },
  overrides: {},
});
