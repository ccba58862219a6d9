/**
 * Declarations of the linear layers' relevance kernels in shaders/relevance/ (see
 * src/gpu/kernel.ts); src/lrp/ops/conv-backward.ts and dense-backward.ts bind them.
 */
import { defineKernel } from '../gpu/kernel.ts';

/** The GEMM tile both conv kernels take from convTile (src/forward/conv.ts), as conv2d does. */
const tile = { TX: 'u32', TY: 'u32', PQ: 'u32', TN: 'u32', BK: 'u32' } as const;

export const convStab = defineKernel({
  shader: 'relevance/conv_stab.wgsl',
  uniforms: {
    batch: 'u32', inC: 'u32', inH: 'u32', inW: 'u32',
    outC: 'u32', outH: 'u32', outW: 'u32', groups: 'u32',
    strideH: 'u32', strideW: 'u32', padT: 'u32', padL: 'u32',
    dilH: 'u32', dilW: 'u32', cinPerGroup: 'u32', coutPerGroup: 'u32',
    K: 'u32', Kpad: 'u32', Npad: 'u32', M: 'u32',
    eps: 'f32', gamma: 'f32', sliceLen: 'u32', outSlice: 'u32',
    coef0: 'f32', coef1: 'f32', coef2: 'f32', splits: 'u32',
    kChunk: 'u32', splitStride: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', rel: 'read', z: 'read', bounds: 'read', s: 'read_write' },
  overrides: {
    KH: 'u32', KW: 'u32', ...tile, RELU_IN: 'bool', SEGS: 'u32', IN0: 'u32', IN1: 'u32', IN2: 'u32',
    W0: 'u32', W1: 'u32', W2: 'u32', MODE: 'u32', GATE: 'u32', SPLIT: 'bool',
  },
});

export const convStabSum = defineKernel({
  shader: 'relevance/conv_stab_sum.wgsl',
  uniforms: {
    total: 'u32', splits: 'u32', plane: 'u32', channels: 'u32',
    eps: 'f32', gamma: 'f32', sliceLen: 'u32', outSlice: 'u32',
  },
  bindings: { p: 'uniform', part: 'read', bias: 'read', rel: 'read', z: 'read', s: 'read_write' },
  overrides: { MODE: 'u32', GATE: 'u32', WG: 'u32' },
});

export const convTranspose = defineKernel({
  shader: 'relevance/conv_transpose.wgsl',
  uniforms: {
    batch: 'u32', sC: 'u32', sH: 'u32', sW: 'u32',
    inC: 'u32', Hp: 'u32', Wp: 'u32', groups: 'u32',
    padY: 'i32', padX: 'i32', dY: 'u32', dX: 'u32',
    cinPerGroup: 'u32', coutPerGroup: 'u32', K: 'u32', Kpad: 'u32',
    Npad: 'u32', M: 'u32', wOffset: 'u32', sliceLen: 'u32',
    py: 'u32', px: 'u32', strideH: 'u32', strideW: 'u32',
    inH: 'u32', inW: 'u32', gamma: 'f32', splits: 'u32',
    coef0: 'f32', coef1: 'f32', coef2: 'f32', kChunk: 'u32',
    splitStride: 'u32',
  },
  bindings: { p: 'uniform', s: 'read', w: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: {
    NTY: 'u32', NTX: 'u32', ...tile, RELU_IN: 'bool', SEGS: 'u32', SLICE0: 'u32', SLICE1: 'u32', SLICE2: 'u32',
    W0: 'u32', W1: 'u32', W2: 'u32', OUT: 'u32', ACCUMULATE: 'bool', SPLIT: 'bool',
  },
});

export const convTransposeSum = defineKernel({
  shader: 'relevance/conv_transpose_sum.wgsl',
  uniforms: { total: 'u32', splits: 'u32', plane: 'u32', inC: 'u32' },
  bindings: { p: 'uniform', part: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: { OUT: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const denseStab = defineKernel({
  shader: 'relevance/dense_stab.wgsl',
  uniforms: {
    batch: 'u32', inF: 'u32', rows: 'u32', rowOffset: 'u32',
    outF: 'u32', sliceLen: 'u32', outSlice: 'u32', inF4: 'u32',
    eps: 'f32', gamma: 'f32', coef0: 'f32', coef1: 'f32',
    coef2: 'f32',
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', rel: 'read', z: 'read', bounds: 'read', s: 'read_write' },
  overrides: {
    NB: 'u32', RELU_IN: 'bool', SEGS: 'u32', IN0: 'u32', IN1: 'u32', IN2: 'u32', W0: 'u32', W1: 'u32', W2: 'u32', MODE: 'u32', GATE: 'u32',
  },
});

export const denseTranspose = defineKernel({
  shader: 'relevance/dense_transpose.wgsl',
  uniforms: {
    batch: 'u32', inF: 'u32', rows: 'u32', rowOffset: 'u32',
    outF: 'u32', sliceLen: 'u32', inF4: 'u32', gamma: 'f32',
    coef0: 'f32', coef1: 'f32', coef2: 'f32',
  },
  bindings: { p: 'uniform', s: 'read', w: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: {
    NB: 'u32', RELU_IN: 'bool', SEGS: 'u32', SLICE0: 'u32', SLICE1: 'u32', SLICE2: 'u32', W0: 'u32', W1: 'u32', W2: 'u32', OUT: 'u32', ACCUMULATE: 'bool',
  },
});

export const stabDivide = defineKernel({
  shader: 'relevance/stab_divide.wgsl',
  uniforms: { total: 'u32', eps: 'f32' },
  bindings: { p: 'uniform', rel: 'read', z: 'read', s: 'read_write' },
  overrides: { WG: 'u32' },
});
