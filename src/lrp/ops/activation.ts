/**
 * The gradient methods' steps through the kinds of modern CNNs (lrp-rules.md, "Modern CNNs and
 * vision transformers"): an element-wise activation's true derivative
 * (relevance/activation_backward.wgsl) and the gate's through both factors
 * (relevance/gate_backward.wgsl). Under LRP both pass relevance and build no op: an activation's
 * relevance is its output's, and the gate's all goes to x (src/lrp/ops/index.ts), so the gate's
 * branch receives none and the executor runs nothing there (src/lrp/explainer.ts).
 *
 * Decisions:
 * - The ops compile only the ACCUMULATE variant the plan needs (BackwardOpContext.accumulate) and
 *   refuse a batch bound otherwise, rather than compiling both: each pipeline is seconds on lavapipe.
 * - Guided backprop changes only ReLU (zennit's GuidedBackprop, lrp-rules.md): these take their
 *   true derivative in every method.
 */
import { grid1d } from '../../gpu/grid.ts';
import { activationOf, type ActivationLayer } from '../../graph/activation.ts';
import type { GateLayer } from '../../graph/ir.ts';
import { numel } from '../../graph/ir.ts';
import { activationBackward, gateBackward } from '../../kernels/relevance.ts';
import { checkAccumulate, checkReluView, type BackwardIO, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';

const WG = 64;

/** relIn = relOut * f'(x) for sigmoid, tanh, hard sigmoid, SiLU, hard swish. */
export async function createActivationGradient(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as ActivationLayer;
  if (!['sigmoid', 'tanh', 'hardsigmoid', 'silu', 'hardswish', 'gelu'].includes(layer.kind)) {
    throw new Error(`${c.layer.name}: createActivationGradient needs an activation layer, got ${c.layer.kind}`);
  }
  if (c.rule && c.rule.rule !== 'gradient') throw new Error(`${layer.name}: rule '${c.rule.rule}' needs no kernel on a ${layer.kind}`);
  const count = numel(c.outShape);
  const { code, alpha, beta } = activationOf(layer);
  const acc = c.accumulate[0] ?? false;
  const pipeline = await activationBackward.pipeline(ctx, { ACT: code, RELU_IN: c.inputs[0].relu, ACCUMULATE: acc, WG });
  const uniforms = activationBackward.uniformsByBatch(ctx, `${layer.name} gradient`, (batch) => ({ total: batch * count, alpha, beta }));
  return {
    layer,
    passes: `1 element-wise pass: the upper gradient times ${layer.kind}'(x)`,
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      checkAccumulate(c, io);
      const total = batch * count;
      return [{
        kernel: `${layer.kind}-gradient`, layer: layer.name, pipeline,
        bindings: activationBackward.bind({ p: uniforms.get(batch), relOut: io.relOut, x: io.inputs[0].buffer, relIn: io.relIn[0] }),
        workgroups: grid1d(total, WG), flops: 5 * total, bytes: 4 * total * (acc ? 4 : 3),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}

/** y = x * g: relX = relOut * g, relG = the sum over each value of g's plane of relOut * x, in one pass. */
export async function createGateGradient(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx } = c;
  const layer = c.layer as GateLayer;
  if (layer.kind !== 'gate') throw new Error(`${c.layer.name}: createGateGradient needs a gate layer, got ${c.layer.kind}`);
  if (c.rule && c.rule.rule !== 'gradient') throw new Error(`${layer.name}: rule '${c.rule.rule}' needs no kernel on a gate (all relevance goes to its input)`);
  const count = numel(c.outShape);
  const groups = numel(c.inputs[1].shape);
  const plane = count / groups;
  const [accX, accG] = [c.accumulate[0] ?? false, c.accumulate[1] ?? false];
  const pipeline = await gateBackward.pipeline(ctx, { RELU_X: c.inputs[0].relu, RELU_G: c.inputs[1].relu, ACC_X: accX, ACC_G: accG, WG });
  const uniforms = gateBackward.uniformsByBatch(ctx, `${layer.name} gradient`, (batch) => ({ groups: batch * groups, plane }));
  return {
    layer,
    passes: '1 pass: the upper gradient times g to x, its product with x summed over each gate value\'s positions to g',
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      checkAccumulate(c, io);
      if (io.relIn[0] === io.relIn[1]) throw new Error(`${layer.name}: a gate of a value by itself has no gradient kernel`);
      const total = batch * count;
      return [{
        kernel: 'gate-gradient', layer: layer.name, pipeline,
        bindings: gateBackward.bind({
          p: uniforms.get(batch), relOut: io.relOut, x: io.inputs[0].buffer, g: io.inputs[1].buffer, relX: io.relIn[0], relG: io.relIn[1],
        }),
        workgroups: grid1d(batch * groups, 1), flops: 3 * total, bytes: 4 * (total * (accX ? 4 : 3) + batch * groups * (accG ? 3 : 2)),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}
