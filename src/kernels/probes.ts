/** Declarations of shaders/probes/: kernels that ask a device how it behaves (src/gpu/subgroups.ts). */
import { defineKernel } from '../gpu/kernel.ts';

export const subgroupRows = defineKernel({
  shader: 'probes/subgroup_rows.wgsl',
  uniforms: { n: 'u32' },
  bindings: { p: 'uniform', out: 'read_write' },
  overrides: {},
});
