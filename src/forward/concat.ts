import type { ConcatLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { grid1d } from '../gpu/grid.ts';
import { UniformsByBatch } from '../gpu/uniforms.ts';

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
      pipeline: await ctx.pipelines.get('forward/concat.wgsl', { RELU_IN: input.relu, WG }),
      uniforms: new UniformsByBatch(ctx, `${layer.name}#${i}`, (batch) => Uint32Array.of(batch * c * plane, c, plane, outC, offsets[i], 0, 0, 0)),
    };
  }));
  return {
    layer,
    dispatches(batch, xs, out) {
      return parts.map((p, i) => ({
        kernel: 'concat', layer: layer.name, pipeline: p.pipeline, bindings: [p.uniforms.get(batch), xs[i].buffer, out],
        workgroups: grid1d(batch * p.c * plane, WG), bytes: 8 * batch * p.c * plane,
      }));
    },
    destroy: () => parts.forEach((p) => p.uniforms.destroy()),
  };
};
