import type { AvgPoolLayer, GlobalAvgPoolLayer, MaxPoolLayer } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { grid1d } from '../gpu/grid.ts';
import { avgpool, maxpool } from '../kernels/forward.ts';

const WG = 64;

export const createMaxPool: ForwardOpFactory<MaxPoolLayer> = async (ctx, layer, [input], outShape) => {
  const [c, inH, inW] = input.shape;
  const [, outH, outW] = outShape;
  const { kernel, stride, pads, dilation } = layer;
  const pipeline = await maxpool.pipeline(ctx, { RELU_IN: input.relu, WG });
  const uniforms = maxpool.uniformsByBatch(ctx, layer.name, (batch) => ({
    total: batch * c * outH * outW, channels: c, inH, inW, outH, outW, kH: kernel[0], kW: kernel[1],
    strideH: stride[0], strideW: stride[1], padT: pads[0], padL: pads[1], dilH: dilation[0], dilW: dilation[1],
  }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * outH * outW;
      return [{
        kernel: 'maxpool', layer: layer.name, pipeline, bindings: maxpool.bind({ p: uniforms.get(batch), x: x.buffer, y: out }),
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
  const pipeline = await avgpool.pipeline(ctx, { RELU_IN: input.relu, WG });
  const uniforms = avgpool.uniformsByBatch(ctx, layer.name, (batch) => ({
    total: batch * c * outH * outW, channels: c, inH, inW, outH, outW, kH: g.kernel[0], kW: g.kernel[1],
    strideH: g.stride[0], strideW: g.stride[1], padT: g.pads[0], padL: g.pads[1], padB: g.pads[2], padR: g.pads[3],
    countIncludePad: g.countIncludePad ? 1 : 0,
  }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * outH * outW;
      return [{
        kernel: layer.kind, layer: layer.name, pipeline, bindings: avgpool.bind({ p: uniforms.get(batch), x: x.buffer, y: out }),
        workgroups: grid1d(total, WG), flops: total * g.kernel[0] * g.kernel[1], bytes: 4 * (batch * c * inH * inW + total),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
