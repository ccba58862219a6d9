/**
 * Backward op of LRN: `pass` in every LRP composite (relevance goes through unchanged, ideally by
 * aliasing), the true derivative (shaders/relevance/lrn_backward.wgsl) in the gradient methods.
 */
import { numel } from '../../graph/ir.ts';
import type { LrnLayer } from '../../graph/ir.ts';
import { grid1d } from '../../gpu/grid.ts';
import { lrnBackward } from '../../kernels/relevance.ts';
import { checkReluView, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';
import { createPassBackward } from './elementwise.ts';

const WG = 64;

export async function createLrnBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as LrnLayer;
  if (layer.kind !== 'lrn') throw new Error(`${c.layer.name}: createLrnBackward needs an lrn layer, got ${c.layer.kind}`);
  const rule = c.rule ?? { rule: 'pass' };
  if (rule.rule === 'pass') return createPassBackward(c);
  if (rule.rule !== 'gradient') throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to LRN (pass, gradient)`);
  const [C] = c.inputs[0].shape;
  const plane = numel(c.inputs[0].shape) / C;
  const pipes = await lrnBackward.pipelinePair(ctx, { RELU_IN: c.inputs[0].relu, WG });
  const uniforms = lrnBackward.uniformsByBatch(ctx, `${layer.name} backward`, (batch) => ({
    total: batch * C * plane, channels: C, plane, size: layer.size, alpha: layer.alpha, beta: layer.beta, bias: layer.bias,
  }));
  return {
    layer,
    passes: '1 gather over the input (recomputes the window sums of the outputs it feeds)',
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      const total = batch * C * plane;
      return [{
        kernel: 'lrn-gradient', layer: layer.name, pipeline: pipes.pick(io.accumulate[0] ?? false),
        bindings: lrnBackward.bind({ p: uniforms.get(batch), x: io.inputs[0].buffer, relOut: io.relOut, relIn: io.relIn[0] }),
        workgroups: grid1d(total, WG), flops: total * (layer.size + 1) * (2 * layer.size + 6), bytes: 4 * 3 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}
