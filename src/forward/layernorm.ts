/**
 * The forward op of LayerNorm over the last axis (forward/layernorm.wgsl, MODE 0): one workgroup
 * per row, mean and biased variance in two passes over the row in workgroup memory.
 */
import { grid1d } from '../gpu/grid.ts';
import type { LayerNormLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { layerNorm } from '../kernels/forward.ts';
import type { ForwardOpFactory } from './op.ts';

/** Modes of forward/layernorm.wgsl. */
export const LayerNormMode = { Forward: 0, Lrp: 1, Gradient: 2 } as const;

/** gamma then beta, as the kernel reads them. */
export function layerNormCoef(layer: LayerNormLayer): Float32Array {
  const n = layer.scale.length;
  const coef = new Float32Array(2 * n);
  coef.set(layer.scale, 0);
  coef.set(layer.bias, n);
  return coef;
}

export const createLayerNorm: ForwardOpFactory<LayerNormLayer> = async (ctx, layer, [input]) => {
  const n = layer.scale.length;
  const perSample = numel(input.shape) / n;
  const pipeline = await layerNorm.pipeline(ctx, { MODE: LayerNormMode.Forward, RELU_IN: input.relu, ACCUMULATE: false });
  const coef = ctx.upload(layerNormCoef(layer), `${layer.name} gamma, beta`);
  const uniforms = layerNorm.uniformsByBatch(ctx, layer.name, (batch) => ({ rows: batch * perSample, n, eps: layer.epsilon, stab: 0 }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const rows = batch * perSample;
      return [{
        kernel: 'layernorm', layer: layer.name, pipeline,
        bindings: layerNorm.bind({ p: uniforms.get(batch), x: x.buffer, coef, rel: x.buffer, z: x.buffer, out }),
        workgroups: grid1d(rows, 1), flops: 8 * rows * n, bytes: 12 * rows * n,
      }];
    },
    destroy: () => {
      uniforms.destroy();
      coef.destroy();
    },
  };
};
