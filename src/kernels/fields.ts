/**
 * Uniform fields several kernels start their Params with, in the same order (the WGSL structs
 * repeat them; test/kernel-declarations.test.ts checks each struct against its declaration).
 */

/** A convolution's geometry, as the implicit-GEMM kernels read it (conv2d, conv_stab, conv_transpose). */
export const CONV_GEOMETRY = {
  batch: 'u32', inC: 'u32', inH: 'u32', inW: 'u32',
  outC: 'u32', outH: 'u32', outW: 'u32', groups: 'u32',
  strideH: 'u32', strideW: 'u32', padT: 'u32', padL: 'u32',
  dilH: 'u32', dilW: 'u32', cinPerGroup: 'u32', coutPerGroup: 'u32',
  K: 'u32', Kpad: 'u32', Npad: 'u32', M: 'u32',
} as const;

/** A pooling window over an N x C x H x W map: `total` invocations, one per element. */
export const POOL_WINDOW = {
  total: 'u32', channels: 'u32', inH: 'u32', inW: 'u32',
  outH: 'u32', outW: 'u32', kH: 'u32', kW: 'u32',
  strideH: 'u32', strideW: 'u32', padT: 'u32', padL: 'u32',
} as const;

/** Cross-channel LRN (forward and its gradient). */
export const LRN = { total: 'u32', channels: 'u32', plane: 'u32', size: 'u32', alpha: 'f32', beta: 'f32', bias: 'f32' } as const;

/** One input's slice of a channel concatenation (concat forward, and the modes of elementwise_backward). */
export const CHANNEL_SLICE = { total: 'u32', channels: 'u32', plane: 'u32', outChannels: 'u32', offset: 'u32' } as const;
