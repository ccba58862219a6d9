/** Declarations of shaders/patterns/ (see src/gpu/kernel.ts); src/patterns/statistics.ts binds them. */
import { defineKernel } from '../gpu/kernel.ts';

export const statsGemm = defineKernel({
  shader: 'patterns/stats_gemm.wgsl',
  uniforms: {
    inC: 'u32', inH: 'u32', inW: 'u32', outC: 'u32',
    outH: 'u32', outW: 'u32', strideH: 'u32', strideW: 'u32',
    padT: 'u32', padL: 'u32', dilH: 'u32', dilW: 'u32',
    cinPerGroup: 'u32', coutPerGroup: 'u32', K: 'u32', plane: 'u32',
    M: 'u32', chBase: 'u32', nCh: 'u32', groups: 'u32',
    splits: 'u32', rChunk: 'u32', stateLen: 'u32', reluIn: 'u32',
    kh: 'u32', kw: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', z: 'read', bias: 'read', state: 'read_write', part: 'read_write' },
  overrides: { TX: 'u32', TY: 'u32', PQ: 'u32', TN: 'u32', BR: 'u32' },
});

export const statsFold = defineKernel({
  shader: 'patterns/stats_fold.wgsl',
  uniforms: { total: 'u32', splits: 'u32' },
  bindings: { p: 'uniform', part: 'read', state: 'read_write' },
  overrides: { WG: 'u32' },
});

export const statsChannels = defineKernel({
  shader: 'patterns/stats_channels.wgsl',
  uniforms: { batch: 'u32', channels: 'u32', plane: 'u32' },
  bindings: { p: 'uniform', z: 'read', bias: 'read', state: 'read_write' },
  overrides: {},
});
