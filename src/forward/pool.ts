import type { AvgPoolLayer, GlobalAvgPoolLayer, MaxPoolLayer } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { grid1d } from '../gpu/grid.ts';
import { UniformsByBatch } from '../gpu/uniforms.ts';

const WG = 64;

export const createMaxPool: ForwardOpFactory<MaxPoolLayer> = async (ctx, layer, [input], outShape) => {
  const [c, inH, inW] = input.shape;
  const [, outH, outW] = outShape;
  const { kernel, stride, pads, dilation } = layer;
  const pipeline = await ctx.pipelines.get('forward/maxpool.wgsl', { RELU_IN: input.relu, WG });
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(
    batch * c * outH * outW, c, inH, inW, outH, outW, kernel[0], kernel[1],
    stride[0], stride[1], pads[0], pads[1], dilation[0], dilation[1], 0, 0,
  ));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * outH * outW;
      return [{
        kernel: 'maxpool', layer: layer.name, pipeline, bindings: [uniforms.get(batch), x.buffer, out],
        workgroups: grid1d(total, WG), flops: total * kernel[0] * kernel[1], bytes: 4 * (batch * c * inH * inW + total),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};

/** Average pooling; global average pooling is the same kernel with one window over the map. */
export const createAvgPool: ForwardOpFactory<AvgPoolLayer | GlobalAvgPoolLayer> = async (ctx, layer, [input], outShape) => {
  const [c, inH, inW] = input.shape;
  const [, outH, outW] = outShape;
  const g = layer.kind === 'globalavgpool'
    ? { kernel: [inH, inW], stride: [1, 1], pads: [0, 0, 0, 0], countIncludePad: false }
    : layer;
  const pipeline = await ctx.pipelines.get('forward/avgpool.wgsl', { RELU_IN: input.relu, WG });
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(
    batch * c * outH * outW, c, inH, inW, outH, outW, g.kernel[0], g.kernel[1],
    g.stride[0], g.stride[1], g.pads[0], g.pads[1], g.pads[2], g.pads[3], g.countIncludePad ? 1 : 0, 0,
  ));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * outH * outW;
      return [{
        kernel: layer.kind, layer: layer.name, pipeline, bindings: [uniforms.get(batch), x.buffer, out],
        workgroups: grid1d(total, WG), flops: total * g.kernel[0] * g.kernel[1], bytes: 4 * (batch * c * inH * inW + total),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
