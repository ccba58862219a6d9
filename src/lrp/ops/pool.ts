/**
 * Backward ops of the pooling layers (shaders/relevance/{maxpool,avgpool}_backward.wgsl). Average
 * pooling is one gather over the input, an invocation per input element summing over the windows
 * that contain it. Max pooling runs from the windows: each finds its argmax (or share) once and
 * adds into its inputs. WGSL has no atomic float add, so overlapping windows run in phases whose
 * windows are disjoint, one dispatch each, after a dispatch that clears relIn (unless the op
 * accumulates); windows that tile the input exactly run in one pass that writes all of them.
 */
import type { AvgPoolLayer, GlobalAvgPoolLayer, MaxPoolLayer } from '../../graph/ir.ts';
import type { Dispatch } from '../../gpu/context.ts';
import { grid1d } from '../../gpu/grid.ts';
import { avgpoolBackward, maxpoolBackward } from '../../kernels/relevance.ts';
import { checkReluView, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';
import { DEFAULT_STABILIZER } from '../rule-spec.ts';

const WG = 64;

/**
 * The phases of max-pool windows along one axis: windows j, j + P, ... are disjoint when P
 * strides cover a window's extent, P = ceil(((k - 1) * dil + 1) / stride). Per phase, its first
 * window and how many there are.
 */
export function poolPhases(out: number, kernel: number, stride: number, dil: number): { period: number; phases: { start: number; count: number }[] } {
  const period = Math.ceil(((kernel - 1) * dil + 1) / stride);
  const phases = [];
  for (let start = 0; start < Math.min(period, out); start++) phases.push({ start, count: Math.ceil((out - start) / period) });
  return { period, phases };
}

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
  const window = {
    channels: C, inH, inW, outH, outW, kH: kernel[0], kW: kernel[1],
    strideH: stride[0], strideW: stride[1], padT: pads[0], padL: pads[1], dilH: dilation[0], dilW: dilation[1], eps,
  };
  const none = { clear: 0, py: 0, px: 0, Py: 1, Px: 1, phaseH: outH, phaseW: outW };
  const ys = poolPhases(outH, kernel[0], stride[0], dilation[0]);
  const xs = poolPhases(outW, kernel[1], stride[1], dilation[1]);
  // Tiled: one pass over the windows. Otherwise the clearing pass, then each phase.
  const passes = tiled ? [] : ys.phases.flatMap((y) => xs.phases.map((x) => ({ y, x })));
  const tiledUniforms = !tiled ? null : maxpoolBackward.uniformsByBatch(ctx, `${layer.name} backward`, (batch) => ({
    total: batch * C * outH * outW, ...window, ...none,
  }));
  const clearUniforms = tiled ? null : maxpoolBackward.uniformsByBatch(ctx, `${layer.name} backward clear`, (batch) => ({
    total: batch * C * inH * inW, ...window, ...none, clear: 1,
  }));
  const phaseUniforms = passes.map(({ y, x }) => maxpoolBackward.uniformsByBatch(ctx, `${layer.name} backward phase ${y.start},${x.start}`, (batch) => ({
    total: batch * C * y.count * x.count, ...window,
    clear: 0, py: y.start, px: x.start, Py: ys.period, Px: xs.period, phaseH: y.count, phaseW: x.count,
  })));
  const kernelName = proportional ? 'maxpool-proportional' : 'maxpool-winner';
  return {
    layer,
    passes: tiled
      ? `1 pass over the windows, which tile the input (${proportional ? 'x_i * R_j / stab(z_j)' : 'R_j to the window\'s argmax'})`
      : `${passes.length} phase${passes.length === 1 ? '' : 's'} of disjoint windows, each adding into its inputs (${proportional ? 'x_i * R_j / stab(z_j)' : 'R_j to the window\'s argmax'})`,
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      const accumulate = io.accumulate[0] ?? false;
      const total = batch * C * inH * inW;
      const windows = batch * C * outH * outW;
      const bindings = (p: GPUBuffer) => maxpoolBackward.bind({ p, x: io.inputs[0].buffer, z: io.output.buffer, relOut: io.relOut, relIn: io.relIn[0] });
      const taps = kernel[0] * kernel[1];
      if (tiledUniforms) {
        return [{
          kernel: kernelName, layer: layer.name, pipeline: pipes.pick(accumulate), bindings: bindings(tiledUniforms.get(batch)),
          workgroups: grid1d(windows, WG), flops: windows * (proportional ? 3 + taps : taps), bytes: 4 * (2 * total + 2 * windows),
        }];
      }
      // The phases always add (ACCUMULATE does not change them): one pipeline.
      const out: Dispatch[] = [];
      if (!accumulate) {
        out.push({ kernel: kernelName, layer: layer.name, pipeline: pipes.overwrite, bindings: bindings(clearUniforms!.get(batch)), workgroups: grid1d(total, WG), bytes: 4 * total });
      }
      passes.forEach(({ y, x }, k) => {
        const n = batch * C * y.count * x.count;
        out.push({
          kernel: kernelName, layer: layer.name, pipeline: pipes.overwrite, bindings: bindings(phaseUniforms[k].get(batch)),
          workgroups: grid1d(n, WG), flops: n * (proportional ? 3 + taps : taps), bytes: 4 * n * (taps + 2),
        });
      });
      return out;
    },
    destroy: () => {
      tiledUniforms?.destroy();
      clearUniforms?.destroy();
      phaseUniforms.forEach((u) => u.destroy());
    },
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
