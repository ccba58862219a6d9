/**
 * Declarations of the linear layers' relevance kernels in shaders/relevance/ (see
 * src/gpu/kernel.ts); src/lrp/ops/linear.ts binds them.
 */
import { defineKernel } from '../gpu/kernel.ts';
import { CONV_GEOMETRY } from './fields.ts';

export const convStab = defineKernel({
  shader: 'relevance/conv_stab.wgsl',
  uniforms: {
    ...CONV_GEOMETRY,
    eps: 'f32', gamma: 'f32', sliceLen: 'u32', outSlice: 'u32',
    coef0: 'f32', coef1: 'f32', coef2: 'f32',
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', rel: 'read', z: 'read', bounds: 'read', s: 'read_write' },
  overrides: {
    KH: 'u32', KW: 'u32', RELU_IN: 'bool', SEGS: 'u32', IN0: 'u32', IN1: 'u32', IN2: 'u32', W0: 'u32', W1: 'u32', W2: 'u32',
    MODE: 'u32', GATE: 'u32', WG_M: 'u32', WG_N: 'u32', BK: 'u32',
  },
});

export const convTranspose = defineKernel({
  shader: 'relevance/conv_transpose.wgsl',
  uniforms: {
    ...CONV_GEOMETRY,
    gamma: 'f32', sliceLen: 'u32', wRows: 'u32',
    coef0: 'f32', coef1: 'f32', coef2: 'f32',
    py: 'u32', px: 'u32', Hp: 'u32', Wp: 'u32',
    ky0: 'u32', kx0: 'u32', nty: 'u32', ntx: 'u32',
    stepY: 'u32', stepX: 'u32',
  },
  bindings: { p: 'uniform', s: 'read', w: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: {
    KH: 'u32', KW: 'u32', RELU_IN: 'bool', SEGS: 'u32', SLICE0: 'u32', SLICE1: 'u32', SLICE2: 'u32', W0: 'u32', W1: 'u32', W2: 'u32',
    OUT: 'u32', ACCUMULATE: 'bool', WG_M: 'u32', WG_N: 'u32', BK: 'u32',
  },
});

export const denseStab = defineKernel({
  shader: 'relevance/dense_stab.wgsl',
  uniforms: {
    batch: 'u32', inF: 'u32', rows: 'u32', rowOffset: 'u32',
    outF: 'u32', sliceLen: 'u32', outSlice: 'u32',
    eps: 'f32', gamma: 'f32',
    coef0: 'f32', coef1: 'f32', coef2: 'f32',
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', rel: 'read', z: 'read', bounds: 'read', s: 'read_write' },
  overrides: {
    RELU_IN: 'bool', SEGS: 'u32', IN0: 'u32', IN1: 'u32', IN2: 'u32', W0: 'u32', W1: 'u32', W2: 'u32', MODE: 'u32', GATE: 'u32',
  },
});

export const denseTranspose = defineKernel({
  shader: 'relevance/dense_transpose.wgsl',
  uniforms: {
    batch: 'u32', inF: 'u32', rows: 'u32', rowOffset: 'u32',
    outF: 'u32', sliceLen: 'u32',
    gamma: 'f32',
    coef0: 'f32', coef1: 'f32', coef2: 'f32',
  },
  bindings: { p: 'uniform', s: 'read', w: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: {
    RELU_IN: 'bool', SEGS: 'u32', SLICE0: 'u32', SLICE1: 'u32', SLICE2: 'u32', W0: 'u32', W1: 'u32', W2: 'u32', OUT: 'u32', ACCUMULATE: 'bool',
  },
});

export const stabDivide = defineKernel({
  shader: 'relevance/stab_divide.wgsl',
  uniforms: { total: 'u32', eps: 'f32' },
  bindings: { p: 'uniform', rel: 'read', z: 'read', s: 'read_write' },
  overrides: { WG: 'u32' },
});
