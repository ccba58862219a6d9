import type { GpuContext } from './context.ts';
import type { Constants } from './pipeline-cache.ts';

/**
 * Both variants of a kernel that writes or adds into its output (override ACCUMULATE): whether
 * the output already holds another producer's values is known per batch, while the pipelines must
 * exist before.
 */
export interface PipelinePair {
  readonly overwrite: GPUComputePipeline;
  readonly accumulate: GPUComputePipeline;
  pick(accumulate: boolean): GPUComputePipeline;
}

export async function pipelinePair(ctx: GpuContext, shader: string, constants: Constants): Promise<PipelinePair> {
  const [overwrite, accumulate] = await Promise.all([
    ctx.pipelines.get(shader, { ...constants, ACCUMULATE: false }),
    ctx.pipelines.get(shader, { ...constants, ACCUMULATE: true }),
  ]);
  return { overwrite, accumulate, pick: (acc) => (acc ? accumulate : overwrite) };
}
