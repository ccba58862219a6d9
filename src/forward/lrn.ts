import type { LrnLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { grid1d } from '../gpu/grid.ts';
import { f32bits, UniformsByBatch } from '../gpu/uniforms.ts';

const WG = 64;

export const createLrn: ForwardOpFactory<LrnLayer> = async (ctx, layer, [input]) => {
  const [c] = input.shape;
  const plane = numel(input.shape) / c;
  const pipeline = await ctx.pipelines.get('forward/lrn.wgsl', { RELU_IN: input.relu, WG });
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(
    batch * c * plane, c, plane, layer.size, f32bits(layer.alpha), f32bits(layer.beta), f32bits(layer.bias), 0,
  ));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * plane;
      return [{
        kernel: 'lrn', layer: layer.name, pipeline, bindings: [uniforms.get(batch), x.buffer, out],
        workgroups: grid1d(total, WG), flops: total * (2 * layer.size + 4), bytes: 8 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
