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
