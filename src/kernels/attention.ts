/**
 * Declarations of shaders/attention/ (see src/gpu/kernel.ts): the transformer kinds' forward and
 * backward kernels, bound by src/forward/attention.ts and src/lrp/ops/attention.ts.
 */
import { defineKernel } from '../gpu/kernel.ts';

export const axisWindow = defineKernel({
  shader: 'attention/axis_window.wgsl',
  uniforms: { total: 'u32', m: 'u32', n: 'u32', inner: 'u32', shift: 'i32', constOuter: 'u32' },
  bindings: { p: 'uniform', src: 'read', cst: 'read', dst: 'read_write' },
  overrides: { RELU_IN: 'bool', HAS_CONST: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const addConst = defineKernel({
  shader: 'attention/add_const.wgsl',
  uniforms: { total: 'u32', per: 'u32', eps: 'f32' },
  bindings: { p: 'uniform', x: 'read', c: 'read', relOut: 'read', y: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const softmax = defineKernel({
  shader: 'attention/softmax.wgsl',
  uniforms: { rows: 'u32', len: 'u32' },
  bindings: { p: 'uniform', x: 'read', g: 'read', y: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const bmm = defineKernel({
  shader: 'attention/bmm.wgsl',
  uniforms: { batch: 'u32', M: 'u32', N: 'u32', K: 'u32', aB: 'u32', aR: 'u32', aC: 'u32', bB: 'u32', bR: 'u32', bC: 'u32' },
  bindings: { p: 'uniform', a: 'read', bm: 'read', e: 'read', c: 'read_write' },
  overrides: { RELU_A: 'bool', RELU_B: 'bool', RELU_E: 'bool', MUL_E: 'bool', ACCUMULATE: 'bool' },
});
