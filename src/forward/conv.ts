import type { ConvLayer } from '../graph/ir.ts';
import { GpuError } from '../gpu/errors.ts';
import type { ForwardOpFactory } from './op.ts';
import { UniformsByBatch } from './op.ts';

const BK = 16;

/**
 * Tile shape per layer: 64 output channels per tile where the layer has them, a taller and
 * narrower tile for thin layers (the first convolutions of small models) so fewer lanes idle.
 */
export function convTile(coutPerGroup: number): { WG_M: number; WG_N: number; BK: number } {
  return coutPerGroup <= 32 ? { WG_M: 32, WG_N: 8, BK } : { WG_M: 16, WG_N: 16, BK };
}

/** Weight [outC][cin/g][kh][kw] → [g][Kpad][Npad]: k-major, zero-padded to whole tiles and vec4 rows. */
export function convWeightLayout(layer: ConvLayer): { data: Float32Array; K: number; Kpad: number; Npad: number } {
  const { groups, outChannels, inChannels, kernel: [kh, kw] } = layer;
  const cinPG = inChannels / groups;
  const coutPG = outChannels / groups;
  const K = cinPG * kh * kw;
  const Kpad = Math.ceil(K / BK) * BK;
  const Npad = Math.ceil(coutPG / 4) * 4;
  const data = new Float32Array(groups * Kpad * Npad);
  const w = layer.weight;
  for (let g = 0; g < groups; g++) {
    for (let n = 0; n < coutPG; n++) {
      const src = (g * coutPG + n) * K;
      const dst = g * Kpad * Npad + n;
      for (let k = 0; k < K; k++) data[dst + k * Npad] = w[src + k];
    }
  }
  return { data, K, Kpad, Npad };
}

export const createConv: ForwardOpFactory<ConvLayer> = async (ctx, layer, inputs, outShape) => {
  const [input] = inputs;
  const { groups, outChannels, inChannels, kernel, stride, pads, dilation } = layer;
  const [, inH, inW] = input.shape;
  const coutPG = outChannels / groups;
  const { data, K, Kpad, Npad } = convWeightLayout(layer);
  if (data.byteLength > ctx.maxBinding) {
    throw new GpuError(`weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', `conv2d for layer '${layer.name}'`);
  }
  const weight = ctx.upload(data, `${layer.name}.weight`);
  const bias = ctx.upload(layer.bias, `${layer.name}.bias`);
  const tile = convTile(coutPG);
  const pipeline = await ctx.pipelines.get('forward/conv2d.wgsl', {
    KH: kernel[0], KW: kernel[1], RELU_IN: input.relu, ...tile,
  });
  const [, outH, outW] = outShape;
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(
    batch, inChannels, inH, inW,
    outChannels, outH, outW, groups,
    stride[0], stride[1], pads[0], pads[1],
    dilation[0], dilation[1], inChannels / groups, coutPG,
    K, Kpad, Npad, batch * outH * outW,
  ));
  return {
    layer,
    dispatches(batch, [x], out) {
      const M = batch * outH * outW;
      return [{
        kernel: 'conv2d', layer: layer.name, pipeline,
        bindings: [uniforms.get(batch), x.buffer, weight, bias, out],
        workgroups: [Math.ceil(coutPG / (4 * tile.WG_N)), Math.ceil(M / (4 * tile.WG_M)), groups],
        flops: 2 * M * outChannels * K,
        bytes: 4 * (batch * inChannels * inH * inW + data.length + M * outChannels),
      }];
    },
    destroy() {
      weight.destroy();
      bias.destroy();
      uniforms.destroy();
    },
  };
};
