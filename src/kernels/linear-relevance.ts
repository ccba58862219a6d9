/**
 * Declarations of the linear layers' relevance kernels in shaders/relevance/ (see
 * src/gpu/kernel.ts); src/lrp/ops/conv-backward.ts and dense-backward.ts bind them.
 */
import { defineKernel } from '../gpu/kernel.ts';

/** The GEMM tile both conv kernels take from convTile (src/forward/conv.ts), as conv2d does. */
const tile = { TX: 'u32', TY: 'u32', PQ: 'u32', TN: 'u32', BK: 'u32', SG: 'u32' } as const;

/**
 * A rule's denominator in the uniform (not in constants, so every rule shares a shape's pipeline):
 * read x through a ReLU, segments, epilogue mode and gate, per segment the input and weight
 * modifier codes and coefficient (src/lrp/rules.ts; up to 3 segments, the 4th lane unused).
 */
const stabRule = {
  reluIn: 'u32', segs: 'u32', mode: 'u32', gate: 'u32', inCode: 'vec4<u32>', wCode: 'vec4<u32>', coef: 'vec4<f32>',
} as const;

/** A rule's redistribution pass in the uniform: the input factor, whether it adds, its segments. */
const transposeRule = {
  reluIn: 'u32', out: 'u32', accumulate: 'u32', segs: 'u32', slice: 'vec4<u32>', wCode: 'vec4<u32>', coef: 'vec4<f32>',
} as const;

export const convStab = defineKernel({
  shader: 'relevance/conv_stab.wgsl',
  variants: ['subgroups'],
  uniforms: {
    batch: 'u32', inC: 'u32', inH: 'u32', inW: 'u32',
    outC: 'u32', outH: 'u32', outW: 'u32', groups: 'u32',
    strideH: 'u32', strideW: 'u32', padT: 'u32', padL: 'u32',
    dilH: 'u32', dilW: 'u32', cinPerGroup: 'u32', coutPerGroup: 'u32',
    K: 'u32', Kpad: 'u32', Npad: 'u32', M: 'u32',
    eps: 'f32', gamma: 'f32', sliceLen: 'u32', outSlice: 'u32',
    splits: 'u32', kChunk: 'u32', splitStride: 'u32',
    ...stabRule,
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', rel: 'read', z: 'read', bounds: 'read', s: 'read_write' },
  overrides: { KH: 'u32', KW: 'u32', ...tile, SPLIT: 'bool' },
});

export const convStabSum = defineKernel({
  shader: 'relevance/conv_stab_sum.wgsl',
  uniforms: {
    total: 'u32', splits: 'u32', plane: 'u32', channels: 'u32',
    eps: 'f32', gamma: 'f32', sliceLen: 'u32', outSlice: 'u32',
    mode: 'u32', gate: 'u32',
  },
  bindings: { p: 'uniform', part: 'read', bias: 'read', rel: 'read', z: 'read', s: 'read_write' },
  overrides: { WG: 'u32' },
});

export const convTranspose = defineKernel({
  shader: 'relevance/conv_transpose.wgsl',
  variants: ['subgroups'],
  uniforms: {
    batch: 'u32', sC: 'u32', sH: 'u32', sW: 'u32',
    inC: 'u32', Hp: 'u32', Wp: 'u32', groups: 'u32',
    padY: 'i32', padX: 'i32', dY: 'u32', dX: 'u32',
    cinPerGroup: 'u32', coutPerGroup: 'u32', K: 'u32', Kpad: 'u32',
    Npad: 'u32', M: 'u32', wOffset: 'u32', sliceLen: 'u32',
    py: 'u32', px: 'u32', strideH: 'u32', strideW: 'u32',
    inH: 'u32', inW: 'u32', gamma: 'f32', splits: 'u32',
    kChunk: 'u32', splitStride: 'u32',
    ...transposeRule,
  },
  bindings: { p: 'uniform', s: 'read', w: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: { NTY: 'u32', NTX: 'u32', ...tile, SPLIT: 'bool' },
});

export const convTransposeSum = defineKernel({
  shader: 'relevance/conv_transpose_sum.wgsl',
  uniforms: { total: 'u32', splits: 'u32', plane: 'u32', inC: 'u32', reluIn: 'u32', out: 'u32', accumulate: 'u32' },
  bindings: { p: 'uniform', part: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: { WG: 'u32' },
});

export const convCol2im = defineKernel({
  shader: 'relevance/conv_col2im.wgsl',
  uniforms: {
    total: 'u32', inC: 'u32', inH: 'u32', inW: 'u32',
    outH: 'u32', outW: 'u32', KH: 'u32', KW: 'u32',
    strideH: 'u32', strideW: 'u32', padT: 'u32', padL: 'u32',
    dilH: 'u32', dilW: 'u32', reluIn: 'u32', out: 'u32',
    accumulate: 'u32', c0: 'u32', cN: 'u32',
  },
  bindings: { p: 'uniform', cols: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: { WG: 'u32' },
});

export const denseStab = defineKernel({
  shader: 'relevance/dense_stab.wgsl',
  uniforms: {
    batch: 'u32', inF: 'u32', rows: 'u32', rowOffset: 'u32',
    outF: 'u32', sliceLen: 'u32', outSlice: 'u32', inF4: 'u32',
    eps: 'f32', gamma: 'f32',
    ...stabRule,
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', rel: 'read', z: 'read', bounds: 'read', s: 'read_write' },
  overrides: { NB: 'u32' },
});

export const denseTranspose = defineKernel({
  shader: 'relevance/dense_transpose.wgsl',
  uniforms: {
    batch: 'u32', inF: 'u32', rows: 'u32', rowOffset: 'u32',
    outF: 'u32', sliceLen: 'u32', inF4: 'u32', gamma: 'f32',
    ...transposeRule,
  },
  bindings: { p: 'uniform', s: 'read', w: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: { NB: 'u32' },
});

export const stabDivide = defineKernel({
  shader: 'relevance/stab_divide.wgsl',
  uniforms: { total: 'u32', eps: 'f32' },
  bindings: { p: 'uniform', rel: 'read', z: 'read', s: 'read_write' },
  overrides: { WG: 'u32' },
});

/**
 * Winograd relevance kernels (src/lrp/ops/winograd-relevance.ts) around the forward Winograd
 * GEMM: the input transform with a rule's input selection per segment, and the two output
 * transforms fused with conv_stab's and conv_transpose's epilogues.
 */
export const winogradRelInput = defineKernel({
  shader: 'relevance/winograd_rel_input.wgsl',
  uniforms: {
    C: 'u32', inH: 'u32', inW: 'u32', padT: 'u32',
    padL: 'u32', tilesX: 'u32', tilesPerSample: 'u32', P: 'u32',
    n0: 'u32', reluIn: 'u32', segs: 'u32', total: 'u32',
    inCode: 'vec4<u32>', offset: 'vec4<u32>', coef: 'vec4<f32>',
  },
  bindings: { p: 'uniform', x: 'read', bounds: 'read', v: 'read_write' },
  overrides: { TM: 'u32', WG: 'u32' },
});

export const winogradStabOutput = defineKernel({
  shader: 'relevance/winograd_stab_output.wgsl',
  uniforms: {
    Cout: 'u32', outH: 'u32', outW: 'u32', tilesX: 'u32',
    tilesPerSample: 'u32', P: 'u32', n0: 'u32', total: 'u32',
    eps: 'f32', gamma: 'f32', sliceLen: 'u32', outSlice: 'u32',
    mode: 'u32', gate: 'u32',
  },
  bindings: { p: 'uniform', m: 'read', bias: 'read', rel: 'read', z: 'read', s: 'read_write' },
  overrides: { TM: 'u32', WG: 'u32' },
});

export const winogradTransposeOutput = defineKernel({
  shader: 'relevance/winograd_transpose_output.wgsl',
  uniforms: {
    C: 'u32', outH: 'u32', outW: 'u32', tilesX: 'u32',
    tilesPerSample: 'u32', P: 'u32', n0: 'u32', total: 'u32',
    reluIn: 'u32', out: 'u32', accumulate: 'u32',
  },
  bindings: { p: 'uniform', m: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: { TM: 'u32', WG: 'u32' },
});

export const depthwiseStab = defineKernel({
  shader: 'relevance/depthwise_stab.wgsl',
  uniforms: {
    total: 'u32', outC: 'u32', inC: 'u32', mult: 'u32',
    inH: 'u32', inW: 'u32', outH: 'u32', outW: 'u32',
    padT: 'u32', padL: 'u32', blocksX: 'u32', blocksY: 'u32',
    eps: 'f32', gamma: 'f32', sliceLen: 'u32', outSlice: 'u32',
    reluIn: 'u32', readsX: 'u32', mode: 'u32', gate: 'u32', inCode: 'vec4<u32>', wCode: 'vec4<u32>', coef: 'vec4<f32>',
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', rel: 'read', z: 'read', bounds: 'read', s: 'read_write' },
  overrides: {
    KH: 'u32', KW: 'u32', SH: 'u32', SW: 'u32', DH: 'u32', DW: 'u32', PY: 'u32', PX: 'u32', SEGS: 'u32', WG: 'u32',
    KK4: 'u32', SY: 'u32', SX: 'u32', NV: 'u32',
  },
});

export const depthwiseTranspose = defineKernel({
  shader: 'relevance/depthwise_transpose.wgsl',
  uniforms: {
    total: 'u32', outC: 'u32', inC: 'u32', mult: 'u32',
    inH: 'u32', inW: 'u32', outH: 'u32', outW: 'u32',
    padT: 'u32', padL: 'u32', blocksX: 'u32', blocksY: 'u32',
    sliceLen: 'u32', gamma: 'f32',
    reluIn: 'u32', out: 'u32', accumulate: 'u32', slice: 'vec4<u32>', wCode: 'vec4<u32>', coef: 'vec4<f32>',
  },
  bindings: { p: 'uniform', s: 'read', w: 'read', x: 'read', bounds: 'read', r: 'read_write' },
  overrides: {
    KH: 'u32', KW: 'u32', SH: 'u32', SW: 'u32', DH: 'u32', DW: 'u32', PY: 'u32', PX: 'u32', PHY: 'u32', PHX: 'u32', SEGS: 'u32', WG: 'u32',
    KK4: 'u32', E0Y: 'u32', E0X: 'u32', NY: 'u32', NX: 'u32', NV: 'u32',
  },
});
