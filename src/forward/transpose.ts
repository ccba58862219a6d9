/**
 * The forward op of a Transpose of the per-sample axes (forward/transpose.wgsl): one copy pass.
 * `permutationGeometry` is shared with the relevance pass, which runs the same kernel with the
 * inverse permutation.
 *
 * Decision: a transpose is a copy, not a view. Its readers (dense, LayerNorm, convolutions) take
 * row-major contiguous inputs, and a copy of an activation costs one memory pass, far less than
 * teaching every kernel strided reads.
 */
import { grid1d } from '../gpu/grid.ts';
import type { Shape, TransposeLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { MAX_RANK } from '../graph/kinds.ts';
import { transpose } from '../kernels/forward.ts';
import type { ForwardOpFactory } from './op.ts';

const WG = 64;

/**
 * The kernel's geometry for y = x permuted by `perm` (output axis k is input axis perm[k]), x of
 * per-sample shape `inShape`: the output's dims and, per output axis, the input's stride, both
 * padded to 4 axes with leading 1s (stride 0).
 */
export function permutationGeometry(inShape: Shape, perm: readonly number[]): { count: number; dims: number[]; srcStride: number[] } {
  const rank = inShape.length;
  if (rank > MAX_RANK || perm.length !== rank) throw new Error(`internal: a permutation [${perm.join(', ')}] of [${inShape.join(', ')}]`);
  const strides = new Array<number>(rank).fill(1);
  for (let a = rank - 2; a >= 0; a--) strides[a] = strides[a + 1] * inShape[a + 1];
  const pad = MAX_RANK - rank;
  return {
    count: numel(inShape),
    dims: [...new Array<number>(pad).fill(1), ...perm.map((a) => inShape[a])],
    srcStride: [...new Array<number>(pad).fill(0), ...perm.map((a) => strides[a])],
  };
}

/** The inverse of a permutation: inv[perm[k]] = k. */
export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((a, k) => (inv[a] = k));
  return inv;
}

export const createTranspose: ForwardOpFactory<TransposeLayer> = async (ctx, layer, [input]) => {
  const g = permutationGeometry(input.shape, layer.perm);
  const pipeline = await transpose.pipeline(ctx, { RELU_IN: input.relu, ACCUMULATE: false, WG });
  const uniforms = transpose.uniformsByBatch(ctx, layer.name, (batch) => ({ total: batch * g.count, count: g.count, dims: g.dims, srcStride: g.srcStride }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * g.count;
      return [{
        kernel: 'transpose', layer: layer.name, pipeline, bindings: transpose.bind({ p: uniforms.get(batch), x: x.buffer, y: out }),
        workgroups: grid1d(total, WG), bytes: 8 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
