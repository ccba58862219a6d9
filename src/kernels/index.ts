/**
 * Every kernel the core runs, one declaration per WGSL file under shaders/ (src/gpu/kernel.ts
 * says what a declaration holds; test/kernel-declarations.test.ts checks each against its file).
 */
import type { BindingList, Kernel, OverrideList, UniformFields } from '../gpu/kernel.ts';
import * as forward from './forward.ts';
import * as metrics from './metrics.ts';
import * as relevance from './relevance.ts';

export type AnyKernel = Kernel<UniformFields, BindingList, OverrideList>;

export const KERNELS: readonly AnyKernel[] = [
  ...Object.values(forward),
  ...Object.values(metrics),
  ...Object.values(relevance),
];

// TEMPORARY (until the next commit declares them): the linear layers' relevance kernels.
export const UNDECLARED = [
  'relevance/conv_stab.wgsl',
  'relevance/conv_transpose.wgsl',
  'relevance/dense_stab.wgsl',
  'relevance/dense_transpose.wgsl',
  'relevance/stab_divide.wgsl',
];

/** Every shader the core may ask for, relative to `shaders/`; bundlers and pages use the list. */
export const SHADER_FILES: readonly string[] = [...KERNELS.map((k) => k.shader), ...UNDECLARED].sort();
