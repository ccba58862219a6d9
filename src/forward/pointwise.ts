/**
 * Forward ops of the element-wise layers residual networks add: the skip sum (forward/add.wgsl),
 * standalone BatchNorm, Clip, LeakyRelu and a scale by a constant (forward/pointwise.wgsl; a scale
 * is BatchNorm's affine map with no shift), and zero padding
 * (forward/pad.wgsl). Each is one memory-bound pass; ReLU stays a view.
 */
import { grid1d } from '../gpu/grid.ts';
import type { AddLayer, BatchNormLayer, ClipLayer, LeakyReluLayer, PadLayer, ScaleLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { add, pad, pointwise } from '../kernels/forward.ts';
import type { ForwardOpFactory } from './op.ts';

const WG = 64;

/** The largest finite f32: an absent Clip bound (uniform fields stay finite). */
export const F32_MAX = 3.4028234663852886e38;

/** A Clip's bounds as the kernels take them: finite, +-F32_MAX where absent. */
export function clipBounds(layer: ClipLayer): { lo: number; hi: number } {
  return { lo: Math.max(layer.min, -F32_MAX), hi: Math.min(layer.max, F32_MAX) };
}

/** Modes of forward/pointwise.wgsl. */
export const PointwiseMode = { BatchNorm: 0, Clip: 1, LeakyRelu: 2 } as const;

export const createAdd: ForwardOpFactory<AddLayer> = async (ctx, layer, [a, b]) => {
  const count = numel(a.shape);
  const pipeline = await add.pipeline(ctx, { RELU_A: a.relu, RELU_B: b.relu, WG });
  const uniforms = add.uniformsByBatch(ctx, layer.name, (batch) => ({ total: batch * count }));
  return {
    layer,
    dispatches(batch, [x0, x1], out) {
      const total = batch * count;
      return [{
        kernel: 'add', layer: layer.name, pipeline, bindings: add.bind({ p: uniforms.get(batch), a: x0.buffer, b: x1.buffer, y: out }),
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

export const createPointwise: ForwardOpFactory<BatchNormLayer | ClipLayer | LeakyReluLayer | ScaleLayer> = async (ctx, layer, [input]) => {
  const count = numel(input.shape);
  // A scale with one factor is one channel as wide as the whole sample.
  const channels = layer.kind === 'scale' ? layer.scale.length : input.shape[0];
  // Along the last axis the channel changes with every value.
  const plane = layer.kind === 'scale' && layer.lastAxis ? 1 : count / channels;
  const mode = layer.kind === 'batchnorm' || layer.kind === 'scale' ? PointwiseMode.BatchNorm
    : layer.kind === 'clip' ? PointwiseMode.Clip : PointwiseMode.LeakyRelu;
  const pipeline = await pointwise.pipeline(ctx, { MODE: mode, RELU_IN: input.relu, WG });
  let coefData = new Float32Array(4);
  if (layer.kind === 'batchnorm') {
    const { scale, shift } = batchNormAffine(layer);
    coefData = new Float32Array(2 * channels);
    coefData.set(scale, 0);
    coefData.set(shift, channels);
  } else if (layer.kind === 'scale') {
    coefData = new Float32Array(2 * channels);
    coefData.set(layer.scale, 0);
  }
  const coef = ctx.upload(coefData, `${layer.name} coefficients`);
  const { lo, hi } = layer.kind === 'clip' ? clipBounds(layer) : { lo: 0, hi: 0 };
  const alpha = layer.kind === 'leakyrelu' ? layer.alpha : 0;
  const uniforms = pointwise.uniformsByBatch(ctx, layer.name, (batch) => ({ total: batch * count, channels, plane, lo, hi, alpha }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * count;
      return [{
        kernel: layer.kind, layer: layer.name, pipeline,
        bindings: pointwise.bind({ p: uniforms.get(batch), x: x.buffer, coef, y: out }),
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
  const pipeline = await pad.pipeline(ctx, { RELU_IN: input.relu, WG });
  const uniforms = pad.uniformsByBatch(ctx, layer.name, (batch) => ({
    total: batch * c * outH * outW, inH, inW, outH, outW, top: layer.pads[0], left: layer.pads[1],
  }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * c * outH * outW;
      return [{
        kernel: 'pad', layer: layer.name, pipeline, bindings: pad.bind({ p: uniforms.get(batch), x: x.buffer, y: out }),
        workgroups: grid1d(total, WG), bytes: 4 * (total + batch * c * inH * inW),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
