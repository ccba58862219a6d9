/**
 * Relevance through the layers residual networks add (shaders/relevance/pointwise_backward.wgsl):
 * the skip sum's `norm` (zennit's Sum + Norm) and its gradient, the true derivatives of standalone
 * BatchNorm, Clip, LeakyRelu and a scale by a constant for the gradient methods (their LRP rule, `pass`, costs no kernel),
 * and the crop that undoes a zero Pad under any rule.
 */
import type { Dispatch } from '../../gpu/context.ts';
import { grid1d } from '../../gpu/grid.ts';
import type { AddLayer, BatchNormLayer, ClipLayer, LeakyReluLayer, PadLayer, ScaleLayer } from '../../graph/ir.ts';
import { numel } from '../../graph/ir.ts';
import { batchNormAffine, clipBounds } from '../../forward/pointwise.ts';
import { elementwiseBackward, pointwiseBackward as kernel } from '../../kernels/relevance.ts';
import { checkReluView, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';
import { ElementwiseMode } from './elementwise.ts';

const WG = 64;

/** Modes of pointwise_backward.wgsl. */
export const PointwiseBackwardMode = { AddNorm: 0, ChannelScale: 1, ClipGradient: 2, LeakyGradient: 3, Crop: 4 } as const;

type Fields = Parameters<typeof kernel.pack>[0];
/** Every field of the kernel's uniforms, 0 where a mode does not read it. */
const fields = (f: Partial<Fields> & { total: number }): Fields => ({
  channels: 0, plane: 0, inH: 0, inW: 0, outH: 0, outW: 0, top: 0, left: 0, eps: 0, lo: 0, hi: 0, alpha: 0, ...f,
});

/** `add`: `norm` gives each input x_k R / stab(z); `gradient` gives each the upper gradient itself. */
export async function createAddBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as AddLayer;
  if (layer.kind !== 'add') throw new Error(`${c.layer.name}: createAddBackward needs an add layer, got ${c.layer.kind}`);
  const rule = c.rule ?? { rule: 'gradient' };
  const count = numel(c.outShape);
  if (rule.rule === 'gradient') {
    const pipes = await elementwiseBackward.pipelinePair(ctx, { MODE: ElementwiseMode.Copy, WG });
    const uniforms = elementwiseBackward.uniformsByBatch(ctx, `${layer.name} gradient`, (batch) => ({
      total: batch * count, channels: 0, plane: 0, outChannels: 0, offset: 0,
    }));
    return {
      layer,
      passes: `${layer.inputs.length} element-wise copies (each input gets the upper gradient)`,
      dispatches(batch, io) {
        const total = batch * count;
        return io.relIn.map((relIn, k): Dispatch => ({
          kernel: io.accumulate[k] ? 'relevance-add' : 'relevance-copy', layer: layer.name, pipeline: pipes.pick(io.accumulate[k]),
          bindings: elementwiseBackward.bind({ p: uniforms.get(batch), relOut: io.relOut, x: io.relOut, relIn }),
          workgroups: grid1d(total, WG), flops: io.accumulate[k] ? total : 0, bytes: 4 * total * (io.accumulate[k] ? 3 : 2),
        }));
      },
      destroy: () => uniforms.destroy(),
    };
  }
  if (rule.rule !== 'norm') throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to an add (norm)`);
  if (c.output.relu) throw new Error(`${layer.name}: an add's output cannot be a ReLU view`);
  const pipes = await Promise.all(c.inputs.map((input) => kernel.pipelinePair(ctx, { MODE: PointwiseBackwardMode.AddNorm, RELU_IN: input.relu, WG })));
  const uniforms = kernel.uniformsByBatch(ctx, `${layer.name} norm`, (batch) => fields({ total: batch * count, eps: rule.stabilizer }));
  return {
    layer,
    passes: `${layer.inputs.length} element-wise passes x_k * R / stab(a + b) (zennit's Sum + Norm)`,
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      const total = batch * count;
      return io.relIn.map((relIn, k): Dispatch => ({
        kernel: 'add-norm', layer: layer.name, pipeline: pipes[k].pick(io.accumulate[k]),
        bindings: kernel.bind({ p: uniforms.get(batch), relOut: io.relOut, x: io.inputs[k].buffer, z: io.output.buffer, coef: io.relOut, relIn }),
        workgroups: grid1d(total, WG), flops: 3 * total, bytes: 4 * total * (io.accumulate[k] ? 5 : 4),
      }));
    },
    destroy: () => uniforms.destroy(),
  };
}

/** The true derivative of a standalone BatchNorm (g / sqrt(v + e) per channel), a scale, a Clip or a LeakyRelu. */
export async function createPointwiseGradient(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as BatchNormLayer | ClipLayer | LeakyReluLayer | ScaleLayer;
  if (layer.kind !== 'batchnorm' && layer.kind !== 'clip' && layer.kind !== 'leakyrelu' && layer.kind !== 'scale') {
    throw new Error(`${c.layer.name}: createPointwiseGradient needs a batchnorm, scale, clip or leakyrelu layer, got ${c.layer.kind}`);
  }
  if (c.rule && c.rule.rule !== 'gradient') throw new Error(`${layer.name}: rule '${c.rule.rule}' needs no kernel on a ${layer.kind}`);
  const count = numel(c.outShape);
  // A scale with one factor is one channel as wide as the whole sample (as in its forward op).
  const channels = layer.kind === 'scale' ? layer.scale.length : c.outShape[0];
  const perChannel = layer.kind === 'batchnorm' || layer.kind === 'scale';
  const mode = perChannel ? PointwiseBackwardMode.ChannelScale
    : layer.kind === 'clip' ? PointwiseBackwardMode.ClipGradient : PointwiseBackwardMode.LeakyGradient;
  // The per-channel derivatives read no input: one pipeline whatever the input's view.
  const pipes = await kernel.pipelinePair(ctx, { MODE: mode, RELU_IN: !perChannel && c.inputs[0].relu, WG });
  const coefData = layer.kind === 'batchnorm' ? batchNormAffine(layer).scale : layer.kind === 'scale' ? layer.scale : new Float32Array(4);
  const coef = ctx.upload(coefData, `${layer.name} derivative`);
  const uniforms = kernel.uniformsByBatch(ctx, `${layer.name} gradient`, (batch) => fields({
    total: batch * count, channels, plane: layer.kind === 'scale' && layer.lastAxis ? 1 : count / channels,
    ...(layer.kind === 'clip' ? clipBounds(layer) : {}),
    alpha: layer.kind === 'leakyrelu' ? layer.alpha : 0,
  }));
  const what = layer.kind === 'batchnorm' ? 'g / sqrt(v + e) per channel' : layer.kind === 'scale' ? 'the scale'
    : layer.kind === 'clip' ? '[lo < x < hi]' : '(x > 0 ? 1 : alpha)';
  return {
    layer,
    passes: `1 element-wise pass: the upper gradient times ${what}`,
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      const total = batch * count;
      const acc = io.accumulate[0] ?? false;
      return [{
        kernel: `${layer.kind}-gradient`, layer: layer.name, pipeline: pipes.pick(acc),
        bindings: kernel.bind({
          p: uniforms.get(batch), relOut: io.relOut, x: perChannel ? io.relOut : io.inputs[0].buffer, z: io.relOut, coef, relIn: io.relIn[0],
        }),
        workgroups: grid1d(total, WG), flops: total, bytes: 4 * total * (acc ? 4 : 3),
      }];
    },
    destroy: () => {
      uniforms.destroy();
      coef.destroy();
    },
  };
}

/** A zero Pad under any rule: the input's relevance is the crop of the output's. */
export async function createPadBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as PadLayer;
  if (layer.kind !== 'pad') throw new Error(`${c.layer.name}: createPadBackward needs a pad layer, got ${c.layer.kind}`);
  const [ch, inH, inW] = c.inputs[0].shape;
  const [, outH, outW] = c.outShape;
  const pipes = await kernel.pipelinePair(ctx, { MODE: PointwiseBackwardMode.Crop, WG });
  const unused = ctx.upload(new Float32Array(4), `${layer.name} (unused coefficients)`);
  const uniforms = kernel.uniformsByBatch(ctx, `${layer.name} crop`, (batch) => fields({
    total: batch * ch * inH * inW, inH, inW, outH, outW, top: layer.pads[0], left: layer.pads[1],
  }));
  return {
    layer,
    passes: '1 crop (relevance at the padding is dropped)',
    dispatches(batch, io) {
      const total = batch * ch * inH * inW;
      const acc = io.accumulate[0] ?? false;
      return [{
        kernel: 'pad-crop', layer: layer.name, pipeline: pipes.pick(acc),
        bindings: kernel.bind({ p: uniforms.get(batch), relOut: io.relOut, x: io.relOut, z: io.relOut, coef: unused, relIn: io.relIn[0] }),
        workgroups: grid1d(total, WG), bytes: 4 * total * (acc ? 3 : 2),
      }];
    },
    destroy: () => {
      uniforms.destroy();
      unused.destroy();
    },
  };
}
