/**
 * Relevance (and the gradient) through a Transpose: shape-mapped, the output's relevance moved
 * back by the inverse permutation (lrp-rules.md: transposes pass relevance). The forward op's
 * kernel (forward/transpose.wgsl), adding into relIn where the value fans out.
 */
import { grid1d } from '../../gpu/grid.ts';
import type { TransposeLayer } from '../../graph/ir.ts';
import { inversePermutation, permutationGeometry } from '../../forward/transpose.ts';
import { transpose } from '../../kernels/forward.ts';
import type { BackwardOp, BackwardOpContext } from '../backward-op.ts';
import { checkAccumulate } from '../backward-op.ts';

const WG = 64;

export async function createTransposeBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const layer = c.layer as TransposeLayer;
  if (layer.kind !== 'transpose') throw new Error(`${c.layer.name}: createTransposeBackward needs a transpose layer, got ${c.layer.kind}`);
  // The relevance at the output has the output's shape; permuting it by the inverse gives the input's.
  const g = permutationGeometry(c.outShape, inversePermutation(layer.perm));
  const pipes = await transpose.pipelinePair(c.ctx, { RELU_IN: false, WG });
  const uniforms = transpose.uniformsByBatch(c.ctx, `${layer.name} relevance`, (batch) => ({
    total: batch * g.count, count: g.count, dims: g.dims, srcStride: g.srcStride,
  }));
  return {
    layer,
    passes: '1 copy by the inverse permutation',
    dispatches(batch, io) {
      checkAccumulate(c, io);
      const total = batch * g.count;
      const acc = io.accumulate[0] ?? false;
      return [{
        kernel: 'transpose-relevance', layer: layer.name, pipeline: pipes.pick(acc),
        bindings: transpose.bind({ p: uniforms.get(batch), x: io.relOut, y: io.relIn[0] }),
        workgroups: grid1d(total, WG), bytes: 4 * total * (acc ? 3 : 2),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}
