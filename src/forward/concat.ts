import type { ConcatLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { grid1d } from '../gpu/grid.ts';
import { concat } from '../kernels/forward.ts';

const WG = 64;

/** Channel concatenation as one copy per input into its slice of the output. */
export const createConcat: ForwardOpFactory<ConcatLayer> = async (ctx, layer, inputs, outShape) => {
  const outC = outShape[0];
  const plane = numel(outShape) / outC;
  const offsets = inputs.map((_, i) => inputs.slice(0, i).reduce((s, x) => s + x.shape[0], 0));
  const parts = await Promise.all(inputs.map(async (input, i) => {
    const c = input.shape[0];
    return {
      c,
      pipeline: await concat.pipeline(ctx, { RELU_IN: input.relu, WG }),
      uniforms: concat.uniformsByBatch(ctx, `${layer.name}#${i}`, (batch) => ({
        total: batch * c * plane, channels: c, plane, outChannels: outC, offset: offsets[i],
      })),
    };
  }));
  return {
    layer,
    dispatches(batch, xs, out) {
      return parts.map((p, i) => ({
        kernel: 'concat', layer: layer.name, pipeline: p.pipeline, bindings: concat.bind({ p: p.uniforms.get(batch), x: xs[i].buffer, y: out }),
        workgroups: grid1d(batch * p.c * plane, WG), bytes: 8 * batch * p.c * plane,
      }));
    },
    destroy: () => parts.forEach((p) => p.uniforms.destroy()),
  };
};
