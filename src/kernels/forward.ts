/** Declarations of shaders/forward/ (see src/gpu/kernel.ts); ops in src/forward/ bind them. */
import { defineKernel } from '../gpu/kernel.ts';
import { CHANNEL_SLICE, CONV_GEOMETRY, LRN, POOL_WINDOW } from './fields.ts';

export const conv2d = defineKernel({
  shader: 'forward/conv2d.wgsl',
  variants: ['subgroups'],
  uniforms: {
    ...CONV_GEOMETRY,
    reluIn: 'u32', vecOut: 'u32', splits: 'u32', kChunk: 'u32', splitStride: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', y: 'read_write' },
  overrides: { KH: 'u32', KW: 'u32', TX: 'u32', TY: 'u32', PQ: 'u32', TN: 'u32', BK: 'u32', SG: 'u32' },
});

export const conv2dSplitkSum = defineKernel({
  shader: 'forward/conv2d_splitk_sum.wgsl',
  uniforms: { total: 'u32', splits: 'u32', plane: 'u32', channels: 'u32' },
  bindings: { p: 'uniform', part: 'read', bias: 'read', y: 'read_write' },
  overrides: { WG: 'u32' },
});

export const dense = defineKernel({
  shader: 'forward/dense.wgsl',
  uniforms: { batch: 'u32', inF: 'u32', rows: 'u32', rowOffset: 'u32', outF: 'u32', inF4: 'u32', reluIn: 'u32' },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', y: 'read_write' },
  overrides: { NB: 'u32' },
});

export const maxpool = defineKernel({
  shader: 'forward/maxpool.wgsl',
  uniforms: {
    ...POOL_WINDOW,
    dilH: 'u32', dilW: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
  overrides: { RELU_IN: 'bool', WG: 'u32' },
});

export const avgpool = defineKernel({
  shader: 'forward/avgpool.wgsl',
  uniforms: {
    ...POOL_WINDOW,
    padB: 'u32', padR: 'u32', countIncludePad: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
  overrides: { RELU_IN: 'bool', WG: 'u32' },
});

export const lrn = defineKernel({
  shader: 'forward/lrn.wgsl',
  uniforms: LRN,
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
  overrides: { RELU_IN: 'bool', WG: 'u32' },
});

export const concat = defineKernel({
  shader: 'forward/concat.wgsl',
  uniforms: CHANNEL_SLICE,
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
  overrides: { RELU_IN: 'bool', WG: 'u32' },
});

export const add = defineKernel({
  shader: 'forward/add.wgsl',
  uniforms: { total: 'u32' },
  bindings: { p: 'uniform', a: 'read', b: 'read', y: 'read_write' },
  overrides: { RELU_A: 'bool', RELU_B: 'bool', WG: 'u32' },
});

export const pointwise = defineKernel({
  shader: 'forward/pointwise.wgsl',
  uniforms: { total: 'u32', channels: 'u32', plane: 'u32', lo: 'f32', hi: 'f32', alpha: 'f32' },
  bindings: { p: 'uniform', x: 'read', coef: 'read', y: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', WG: 'u32' },
});

export const pad = defineKernel({
  shader: 'forward/pad.wgsl',
  uniforms: { total: 'u32', inH: 'u32', inW: 'u32', outH: 'u32', outW: 'u32', top: 'u32', left: 'u32' },
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
  overrides: { RELU_IN: 'bool', WG: 'u32' },
});

export const activation = defineKernel({
  shader: 'forward/activation.wgsl',
  uniforms: { total: 'u32', alpha: 'f32', beta: 'f32' },
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
  overrides: { ACT: 'u32', RELU_IN: 'bool', WG: 'u32' },
});

export const gate = defineKernel({
  shader: 'forward/gate.wgsl',
  uniforms: { total: 'u32', plane: 'u32' },
  bindings: { p: 'uniform', x: 'read', g: 'read', y: 'read_write' },
  overrides: { RELU_X: 'bool', RELU_G: 'bool', WG: 'u32' },
});

/** The Winograd element-wise stage on CPU adapters with row subgroups (src/forward/conv-winograd.ts). */
export const winogradGemm = defineKernel({
  shader: 'forward/winograd_gemm.wgsl',
  uniforms: { P: 'u32', K: 'u32', N: 'u32', Kpad: 'u32', npad4: 'u32' },
  bindings: { p: 'uniform', x: 'read', xs: 'read', w: 'read', y: 'read_write' },
  overrides: { PQ: 'u32', TY: 'u32', SG: 'u32', VEC_A: 'bool' },
});

export const winogradInput = defineKernel({
  shader: 'forward/winograd_input.wgsl',
  uniforms: {
    C: 'u32', inH: 'u32', inW: 'u32', padT: 'u32',
    padL: 'u32', tilesX: 'u32', tilesPerSample: 'u32', P: 'u32',
    n0: 'u32', reluIn: 'u32', total: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', v: 'read_write' },
  overrides: { TM: 'u32', WG: 'u32' },
});

export const winogradOutput = defineKernel({
  shader: 'forward/winograd_output.wgsl',
  uniforms: {
    Cout: 'u32', outH: 'u32', outW: 'u32', tilesX: 'u32',
    tilesPerSample: 'u32', P: 'u32', n0: 'u32', total: 'u32',
  },
  bindings: { p: 'uniform', m: 'read', bias: 'read', y: 'read_write' },
  overrides: { TM: 'u32', WG: 'u32' },
});

// ---- Channels-last and token layouts (transformers, ConvNeXt) ----

/** A permutation of the per-sample axes; the relevance pass runs it with the inverse permutation. */
export const transpose = defineKernel({
  shader: 'forward/transpose.wgsl',
  uniforms: { total: 'u32', count: 'u32', dims: 'vec4<u32>', srcStride: 'vec4<u32>' },
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
  overrides: { RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

/** LayerNorm over the last axis, one workgroup per row: the forward pass (MODE 0), its LRP rule (1) and its gradient (2). */
export const layerNorm = defineKernel({
  shader: 'forward/layernorm.wgsl',
  uniforms: { rows: 'u32', n: 'u32', eps: 'f32', stab: 'f32' },
  bindings: { p: 'uniform', x: 'read', coef: 'read', rel: 'read', z: 'read', out: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool' },
});

export const depthwise = defineKernel({
  shader: 'forward/depthwise.wgsl',
  uniforms: {
    total: 'u32', outC: 'u32', inC: 'u32', mult: 'u32',
    inH: 'u32', inW: 'u32', outH: 'u32', outW: 'u32',
    padT: 'u32', padL: 'u32', blocksX: 'u32', blocksY: 'u32',
    reluIn: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', w: 'read', bias: 'read', y: 'read_write' },
  overrides: {
    KH: 'u32', KW: 'u32', SH: 'u32', SW: 'u32', DH: 'u32', DW: 'u32', PY: 'u32', PX: 'u32', WG: 'u32',
    KK4: 'u32', SY: 'u32', SX: 'u32', NV: 'u32',
  },
});
