/**
 * Every kernel the core runs, one declaration per WGSL file under shaders/ (src/gpu/kernel.ts
 * says what a declaration holds; test/kernel-declarations.test.ts checks each against its file).
 */
import { Kernel, type BindingList, type OverrideList, type UniformFields } from '../gpu/kernel.ts';
import * as attention from './attention.ts';
import * as forward from './forward.ts';
import * as linearRelevance from './linear-relevance.ts';
import * as metrics from './metrics.ts';
import * as patterns from './patterns.ts';
import * as probes from './probes.ts';
import * as relevance from './relevance.ts';
import * as similarity from './similarity.ts';

export type AnyKernel = Kernel<UniformFields, BindingList, OverrideList>;

export const KERNELS: readonly AnyKernel[] = [forward, attention, metrics, relevance, linearRelevance, patterns, probes, similarity]
  .flatMap((m) => Object.values(m) as unknown[])
  .filter((k): k is AnyKernel => k instanceof Kernel);

/** Every shader the core may ask for, relative to `shaders/`; bundlers and pages use the list. */
export const SHADER_FILES: readonly string[] = KERNELS.flatMap((k) => k.files).sort();
