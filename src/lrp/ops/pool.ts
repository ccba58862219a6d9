/**
 * Backward ops of the pooling layers (shaders/relevance/{maxpool,avgpool}_backward.wgsl): each is
 * one gather over the input, an invocation per input element summing over the windows that
 * contain it (WGSL has no atomic float add, so no scatter from the outputs), except max pooling
 * whose windows tile the input exactly: each input has one window, so one invocation per window
 * writes all of it.
 */
import type { AvgPoolLayer, GlobalAvgPoolLayer, MaxPoolLayer } from '../../graph/ir.ts';
import { grid1d } from '../../gpu/grid.ts';
import { avgpoolBackward, maxpoolBackward } from '../../kernels/relevance.ts';
import { checkReluView, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';
import { DEFAULT_STABILIZER } from '../rule-spec.ts';

const WG = 64;

/** Max pooling: `winner` (also the gradient) or `proportional`. */
export async function createMaxPoolBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as MaxPoolLayer;
  if (layer.kind !== 'maxpool') throw new Error(`${c.layer.name}: createMaxPoolBackward needs a maxpool layer, got ${c.layer.kind}`);
  const rule = c.rule ?? { rule: 'winner' };
  if (rule.rule !== 'winner' && rule.rule !== 'gradient' && rule.rule !== 'proportional') {
    throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to max pooling (winner, proportional)`);
  }
  if (rule.rule === 'proportional' && c.output.relu) throw new Error(`${layer.name}: a max-pool output cannot be a ReLU view`);
  const proportional = rule.rule === 'proportional';
  const eps = proportional ? rule.stabilizer : 0;
  const [C, inH, inW] = c.inputs[0].shape;
  const [, outH, outW] = c.outShape;
  const { kernel, stride, pads, dilation } = layer;
  const tiled = kernel[0] === stride[0] && kernel[1] === stride[1] && pads.every((v) => v === 0)
    && dilation[0] === 1 && dilation[1] === 1 && outH * kernel[0] === inH && outW * kernel[1] === inW;
  const pipes = await maxpoolBackward.pipelinePair(ctx, { MODE: proportional ? 1 : 0, RELU_IN: c.inputs[0].relu, TILED: tiled, WG });
  // Invocations: one per input (the gather) or per output (tiled).
  const invocations = (batch: number) => batch * C * (tiled ? outH * outW : inH * inW);
  const uniforms = maxpoolBackward.uniformsByBatch(ctx, `${layer.name} backward`, (batch) => ({
    total: invocations(batch), channels: C, inH, inW, outH, outW, kH: kernel[0], kW: kernel[1],
    strideH: stride[0], strideW: stride[1], padT: pads[0], padL: pads[1], dilH: dilation[0], dilW: dilation[1], eps,
  }));
  // Windows containing one input: about (k / stride)^2 per axis pair.
  const windowsPerInput = Math.ceil(kernel[0] / stride[0]) * Math.ceil(kernel[1] / stride[1]);
  return {
    layer,
    passes: tiled
      ? `1 pass over the windows, which tile the input (${proportional ? 'x_i * R_j / stab(z_j)' : 'R_j to the window\'s argmax'})`
      : proportional
        ? '1 gather over the input (x_i * sum_j R_j / stab(z_j))'
        : '1 gather over the input (recomputes each containing window\'s argmax)',
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      const total = batch * C * inH * inW;
      const taps = kernel[0] * kernel[1];
      return [{
        kernel: proportional ? 'maxpool-proportional' : 'maxpool-winner', layer: layer.name, pipeline: pipes.pick(io.accumulate[0] ?? false),
        bindings: maxpoolBackward.bind({ p: uniforms.get(batch), x: io.inputs[0].buffer, z: io.output.buffer, relOut: io.relOut, relIn: io.relIn[0] }),
        workgroups: grid1d(invocations(batch), WG),
        flops: total * windowsPerInput * (proportional ? 3 : taps),
        bytes: 4 * (2 * total + 2 * batch * C * outH * outW),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}

/**
 * Average pooling and global average pooling (one window over the map): `norm` (zennit's Norm,
 * the default), `flat` (inputs replaced by ones) or `gradient`.
 */
export async function createAvgPoolBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as AvgPoolLayer | GlobalAvgPoolLayer;
  if (layer.kind !== 'avgpool' && layer.kind !== 'globalavgpool') {
    throw new Error(`${c.layer.name}: createAvgPoolBackward needs an average pooling layer, got ${c.layer.kind}`);
  }
  const rule = c.rule ?? { rule: 'norm', stabilizer: DEFAULT_STABILIZER };
  if (rule.rule !== 'norm' && rule.rule !== 'flat' && rule.rule !== 'gradient') {
    throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to average pooling (norm, flat, gradient)`);
  }
  if (rule.rule === 'norm' && c.output.relu) throw new Error(`${layer.name}: an average-pool output cannot be a ReLU view`);
  const mode = { norm: 0, flat: 1, gradient: 2 }[rule.rule];
  const eps = rule.rule === 'gradient' ? 0 : rule.stabilizer;
  const [C, inH, inW] = c.inputs[0].shape;
  const outH = c.outShape.length === 3 ? c.outShape[1] : 1;
  const outW = c.outShape.length === 3 ? c.outShape[2] : 1;
  const g = layer.kind === 'globalavgpool'
    ? { kernel: [inH, inW], stride: [1, 1], pads: [0, 0, 0, 0], countIncludePad: false }
    : layer;
  const pipes = await avgpoolBackward.pipelinePair(ctx, { MODE: mode, RELU_IN: c.inputs[0].relu, WG });
  const uniforms = avgpoolBackward.uniformsByBatch(ctx, `${layer.name} backward`, (batch) => ({
    total: batch * C * inH * inW, channels: C, inH, inW, outH, outW, kH: g.kernel[0], kW: g.kernel[1],
    strideH: g.stride[0], strideW: g.stride[1], padT: g.pads[0], padL: g.pads[1], padB: g.pads[2], padR: g.pads[3],
    countIncludePad: g.countIncludePad ? 1 : 0, eps,
  }));
  const windowsPerInput = Math.ceil(g.kernel[0] / g.stride[0]) * Math.ceil(g.kernel[1] / g.stride[1]);
  return {
    layer,
    passes: `1 gather over the input (${rule.rule})`,
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      const total = batch * C * inH * inW;
      // Modes that read neither x nor z get relOut bound in their place (auto layouts keep every binding).
      const x = mode === 0 ? io.inputs[0].buffer : io.relOut;
      const z = mode === 0 ? io.output.buffer : io.relOut;
      return [{
        kernel: `${layer.kind}-${rule.rule}`, layer: layer.name, pipeline: pipes.pick(io.accumulate[0] ?? false),
        bindings: avgpoolBackward.bind({ p: uniforms.get(batch), x, z, relOut: io.relOut, relIn: io.relIn[0] }),
        workgroups: grid1d(total, WG),
        flops: total * windowsPerInput * 3,
        bytes: 4 * ((mode === 0 ? 2 : 1) * total + (mode === 0 ? 2 : 1) * batch * C * outH * outW),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}
