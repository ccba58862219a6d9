/**
 * Forward ops of the element-wise layers residual networks add: the skip sum (forward/add.wgsl),
 * standalone BatchNorm, Clip and LeakyRelu (forward/pointwise.wgsl), and zero padding
 * (forward/pad.wgsl). Each is one memory-bound pass; ReLU stays a view.
 */
import type { AddLayer, BatchNormLayer, ClipLayer, LeakyReluLayer, PadLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { f32bits, UniformsByBatch } from './op.ts';
import { grid1d } from './tensor.ts';

const WG = 64;

/** The largest finite f32: an absent Clip bound (uniform fields stay finite). */
export const F32_MAX = 3.4028234663852886e38;

/** Modes of forward/pointwise.wgsl. */
export const PointwiseMode = { BatchNorm: 0, Clip: 1, LeakyRelu: 2 } as const;

export const createAdd: ForwardOpFactory<AddLayer> = async (ctx, layer, [a, b]) => {
  const count = numel(a.shape);
  const pipeline = await ctx.pipelines.get('forward/add.wgsl', { RELU_A: a.relu, RELU_B: b.relu, WG });
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(batch * count, 0, 0, 0));
  return {
    layer,
    dispatches(batch, [x0, x1], out) {
      const total = batch * count;
      return [{
        kernel: 'add', layer: layer.name, pipeline, bindings: [uniforms.get(batch), x0.buffer, x1.buffer, out],
        workgroups: grid1d(total, WG), flops: total, bytes: 12 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};

/** A BatchNorm's per-channel scale g / sqrt(v + e) and shift beta - m * scale, in float64, rounded once. */
export function batchNormAffine(layer: BatchNormLayer): { scale: Float32Array; shift: Float32Array } {
  const scale = new Float32Array(layer.channels);
  const shift = new Float32Array(layer.channels);
  for (let c = 0; c < layer.channels; c++) {
    const s = layer.scale[c] / Math.sqrt(layer.variance[c] + layer.epsilon);
    scale[c] = s;
    shift[c] = layer.bias[c] - layer.mean[c] * s;
  }
  return { scale, shift };
}

export const createPointwise: ForwardOpFactory<BatchNormLayer | ClipLayer | LeakyReluLayer> = async (ctx, layer, [input]) => {
  const count = numel(input.shape);
  const channels = input.shape[0];
  const plane = count / channels;
  const mode = layer.kind === 'batchnorm' ? PointwiseMode.BatchNorm : layer.kind === 'clip' ? PointwiseMode.Clip : PointwiseMode.LeakyRelu;
  const pipeline = await ctx.pipelines.get('forward/pointwise.wgsl', { MODE: mode, RELU_IN: input.relu, WG });
  let coefData = new Float32Array(4);
  if (layer.kind === 'batchnorm') {
    const { scale, shift } = batchNormAffine(layer);
    coefData = new Float32Array(2 * channels);
    coefData.set(scale, 0);
    coefData.set(shift, channels);
  }
  const coef = ctx.upload(coefData, `${layer.name} coefficients`);
  const lo = layer.kind === 'clip' ? Math.max(layer.min, -F32_MAX) : 0;
  const hi = layer.kind === 'clip' ? Math.min(layer.max, F32_MAX) : 0;
  const alpha = layer.kind === 'leakyrelu' ? layer.alpha : 0;
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(
    batch * count, channels, plane, 0, f32bits(lo), f32bits(hi), f32bits(alpha), 0,
  ));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * count;
      return [{
        kernel: layer.kind, layer: layer.name, pipeline, bindings: [uniforms.get(batch), x.buffer, coef, out],
        workgroups: grid1d(total, WG), flops: 2 * total, bytes: 8 * total,
      }];
    },
    destroy: () => {
      uniforms.destroy();
      coef.destroy();
    },
  };
};

export const createPad: ForwardOpFactory<PadLayer> = async (ctx, layer, [input], outShape) => {
  const [c, inH, inW] = input.shape;
  const [, outH, outW] = outShape;
  const pipeline = await ctx.pipelines.get('forward/pad.wgsl', { RELU_IN: input.relu, WG });
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(
    batch * c * outH * outW, inH, inW, outH, outW, layer.pads[0], layer.pads[1], 0,
  ));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * outH * outW;
      return [{
        kernel: 'pad', layer: layer.name, pipeline, bindings: [uniforms.get(batch), x.buffer, out],
        workgroups: grid1d(total, WG), bytes: 4 * (total + batch * c * inH * inW),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
