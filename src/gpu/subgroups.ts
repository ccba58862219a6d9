/**
 * Subgroups for the GEMM kernels on CPU adapters. On lavapipe an invocation is a SIMD lane and
 * every workgroup-memory read is a loop over the lanes, even when all lanes read one address: the
 * tiled GEMM's B reads (the same vec4s for a row of threads) cost as much as the A gathers. The
 * subgroups variants of conv2d, conv_stab and conv_transpose (scripts/shadergen/snippets.ts,
 * gemm-fma rows=subgroups) read each B vec4 once per subgroup and broadcast it: VGG-16's
 * convolutions ran 1.9 times as fast on this project's 2-core machine (bench/RESULTS.md).
 *
 * The variant needs what WGSL leaves to the implementation: that a subgroup is SG = 4 or 8
 * consecutive invocations, starting at a multiple of SG, so that it lies inside one row of the
 * 8-wide (CPU family) thread block. A probe kernel (shaders/probes/subgroup_rows.wgsl) checks
 * this once per context. Decisions:
 * - Only the CPU family uses the variants. A GPU broadcasts a same-address workgroup read in
 *   hardware already, and its subgroups (32 or 64 wide) span several 16-wide rows.
 * - A device whose subgroups the probe rejects (another size, another layout) runs the plain
 *   kernels: the same arithmetic in the same order, so results do not depend on the choice.
 */
import type { GpuContext } from './context.ts';
import { subgroupRows } from '../kernels/probes.ts';

/** Subgroup sizes the variants are generated for. */
const ROW_LANES = [4, 8];
/** The probe's workgroup: 8 x 4 invocations. */
const PROBE_INVOCATIONS = 32;

/**
 * Whether the probe's answer is a layout the variants accept: per invocation (size, lane, local
 * index of its subgroup's lane 0). Returns the subgroup size or null.
 */
export function rowLanesOf(words: ArrayLike<number>): number | null {
  const size = words[0];
  if (!ROW_LANES.includes(size)) return null;
  for (let tid = 0; tid < words.length / 3; tid++) {
    if (words[3 * tid] !== size || words[3 * tid + 1] !== tid % size || words[3 * tid + 2] !== tid - (tid % size)) return null;
  }
  return size;
}

/** The device's subgroup size where its subgroups are rows the variants accept; null otherwise. */
export function rowSubgroupLanes(ctx: GpuContext): Promise<number | null> {
  if (!ctx.subgroupsAllowed) return Promise.resolve(null);
  return ctx.fact('subgroup rows', async () => {
    const where = 'probing the subgroup layout (shaders/probes/subgroup_rows.wgsl)';
    const pipeline = await subgroupRows.pipeline(ctx);
    const out = ctx.pool.acquire(PROBE_INVOCATIONS * 3 * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'subgroup probe');
    const params = ctx.uniform(subgroupRows.pack({ n: PROBE_INVOCATIONS }), 'subgroup probe params');
    try {
      await ctx.run(where, [{
        kernel: 'subgroup_rows', layer: '(device probe)', pipeline,
        bindings: subgroupRows.bind({ p: params, out }), workgroups: [1, 1, 1],
      }]);
      return rowLanesOf(new Uint32Array(await ctx.read(out, 0, PROBE_INVOCATIONS * 3 * 4, where)));
    } finally {
      ctx.pool.release(out);
      params.destroy();
    }
  });
}

/**
 * What a GEMM kernel (conv2d, conv_stab, conv_transpose) should run: its subgroups variant with SG
 * lanes on a CPU adapter whose subgroups are rows, else the plain kernel.
 */
export interface GemmVariant {
  /** The kernel's variant to run (undefined: the plain kernel). */
  readonly variant?: 'subgroups';
  /** Its override constants beyond the tile (the variant's SG). */
  readonly constants: { readonly SG?: number };
}

export async function gemmVariant(ctx: GpuContext): Promise<GemmVariant> {
  if (ctx.tuning !== 'cpu') return { constants: {} };
  const lanes = await rowSubgroupLanes(ctx);
  return lanes === null ? { constants: {} } : { variant: 'subgroups', constants: { SG: lanes } };
}
