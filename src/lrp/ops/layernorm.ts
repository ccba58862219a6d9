/**
 * Relevance through LayerNorm over the last axis (forward/layernorm.wgsl, one workgroup per row):
 * - `norm` (the default; lrp-rules.md, "Modern CNNs and vision transformers"): the deviation
 *   s = sqrt(var + eps) held constant, y = gamma (x - mean(x)) / s + beta is linear in x with bias
 *   beta, and R_x = x J^T (R_y / stab(y)) = x (u - mean(u)), u = gamma (R_y / stab(y)) / s, with the
 *   composite's stabilizer; `y` is the stored forward output (beta included);
 * - `gradient`: the true derivative, the deviation's dependence on x included.
 * `pass` (R_x = R_y, LXT's identity on the normalisation) builds no op.
 */
import { grid1d } from '../../gpu/grid.ts';
import type { LayerNormLayer } from '../../graph/ir.ts';
import { numel } from '../../graph/ir.ts';
import { LayerNormMode, layerNormCoef } from '../../forward/layernorm.ts';
import { layerNorm } from '../../kernels/forward.ts';
import { checkAccumulate, checkReluView, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';

export async function createLayerNormBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const layer = c.layer as LayerNormLayer;
  if (layer.kind !== 'layernorm') throw new Error(`${c.layer.name}: createLayerNormBackward needs a layernorm layer, got ${c.layer.kind}`);
  const rule = c.rule ?? { rule: 'gradient' };
  if (rule.rule !== 'norm' && rule.rule !== 'gradient') throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to a layernorm (norm, pass, gradient)`);
  if (c.output.relu) throw new Error(`${layer.name}: a layernorm's output cannot be a ReLU view`);
  const n = layer.scale.length;
  const perSample = numel(c.inputs[0].shape) / n;
  const mode = rule.rule === 'norm' ? LayerNormMode.Lrp : LayerNormMode.Gradient;
  const pipes = await layerNorm.pipelinePair(c.ctx, { MODE: mode, RELU_IN: c.inputs[0].relu });
  const coef = c.ctx.upload(layerNormCoef(layer), `${layer.name} gamma, beta`);
  const stab = rule.rule === 'norm' ? rule.stabilizer : 0;
  const uniforms = layerNorm.uniformsByBatch(c.ctx, `${layer.name} ${rule.rule}`, (batch) => ({ rows: batch * perSample, n, eps: layer.epsilon, stab }));
  return {
    layer,
    passes: rule.rule === 'norm'
      ? '1 pass per row: x (u - mean(u)), u = gamma R / stab(y) / s (the deviation held constant)'
      : '1 pass per row: the true derivative of LayerNorm',
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      checkAccumulate(c, io);
      const rows = batch * perSample;
      const acc = io.accumulate[0] ?? false;
      return [{
        kernel: `layernorm-${rule.rule}`, layer: layer.name, pipeline: pipes.pick(acc),
        bindings: layerNorm.bind({ p: uniforms.get(batch), x: io.inputs[0].buffer, coef, rel: io.relOut, z: io.output.buffer, out: io.relIn[0] }),
        workgroups: grid1d(rows, 1), flops: 12 * rows * n, bytes: 4 * rows * n * (acc ? 5 : 4),
      }];
    },
    destroy: () => {
      uniforms.destroy();
      coef.destroy();
    },
  };
}
