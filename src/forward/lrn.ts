import type { LrnLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { grid1d } from '../gpu/grid.ts';
import { lrn } from '../kernels/forward.ts';

const WG = 64;

export const createLrn: ForwardOpFactory<LrnLayer> = async (ctx, layer, [input]) => {
  const [c] = input.shape;
  const plane = numel(input.shape) / c;
  const pipeline = await lrn.pipeline(ctx, { RELU_IN: input.relu, WG });
  const uniforms = lrn.uniformsByBatch(ctx, layer.name, (batch) => ({
    total: batch * c * plane, channels: c, plane, size: layer.size, alpha: layer.alpha, beta: layer.beta, bias: layer.bias,
  }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * plane;
      return [{
        kernel: 'lrn', layer: layer.name, pipeline, bindings: lrn.bind({ p: uniforms.get(batch), x: x.buffer, y: out }),
        workgroups: grid1d(total, WG), flops: total * (2 * layer.size + 4), bytes: 8 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
