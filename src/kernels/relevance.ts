/**
 * Declarations of the pooling, LRN and element-wise kernels of shaders/relevance/ (see
 * src/gpu/kernel.ts); ops in src/lrp/ops/ bind them. The linear layers' kernels are in
 * linear-relevance.ts.
 */
import { defineKernel } from '../gpu/kernel.ts';
import { CHANNEL_SLICE, LRN, POOL_WINDOW } from './fields.ts';

export const elementwiseBackward = defineKernel({
  shader: 'relevance/elementwise_backward.wgsl',
  uniforms: CHANNEL_SLICE,
  bindings: { p: 'uniform', relOut: 'read', x: 'read', relIn: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const maxpoolBackward = defineKernel({
  shader: 'relevance/maxpool_backward.wgsl',
  uniforms: {
    ...POOL_WINDOW,
    dilH: 'u32', dilW: 'u32', eps: 'f32',
    clear: 'u32', py: 'u32', px: 'u32', Py: 'u32', Px: 'u32', phaseH: 'u32', phaseW: 'u32',
  },
  bindings: { p: 'uniform', x: 'read', z: 'read', relOut: 'read', relIn: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', TILED: 'bool', WG: 'u32' },
});

export const avgpoolBackward = defineKernel({
  shader: 'relevance/avgpool_backward.wgsl',
  uniforms: {
    ...POOL_WINDOW,
    padB: 'u32', padR: 'u32', countIncludePad: 'u32', eps: 'f32',
  },
  bindings: { p: 'uniform', x: 'read', z: 'read', relOut: 'read', relIn: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const lrnBackward = defineKernel({
  shader: 'relevance/lrn_backward.wgsl',
  uniforms: LRN,
  bindings: { p: 'uniform', x: 'read', relOut: 'read', relIn: 'read_write' },
  overrides: { RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const pointwiseBackward = defineKernel({
  shader: 'relevance/pointwise_backward.wgsl',
  uniforms: {
    total: 'u32', channels: 'u32', plane: 'u32', inH: 'u32', inW: 'u32', outH: 'u32', outW: 'u32', top: 'u32', left: 'u32',
    eps: 'f32', lo: 'f32', hi: 'f32', alpha: 'f32',
  },
  bindings: { p: 'uniform', relOut: 'read', x: 'read', z: 'read', coef: 'read', relIn: 'read_write' },
  overrides: { MODE: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const activationBackward = defineKernel({
  shader: 'relevance/activation_backward.wgsl',
  uniforms: { total: 'u32', alpha: 'f32', beta: 'f32' },
  bindings: { p: 'uniform', relOut: 'read', x: 'read', relIn: 'read_write' },
  overrides: { ACT: 'u32', RELU_IN: 'bool', ACCUMULATE: 'bool', WG: 'u32' },
});

export const gateBackward = defineKernel({
  shader: 'relevance/gate_backward.wgsl',
  uniforms: { groups: 'u32', plane: 'u32' },
  bindings: { p: 'uniform', relOut: 'read', x: 'read', g: 'read', relX: 'read_write', relG: 'read_write' },
  overrides: { RELU_X: 'bool', RELU_G: 'bool', ACC_X: 'bool', ACC_G: 'bool', WG: 'u32' },
});
