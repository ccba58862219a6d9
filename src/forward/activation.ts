/**
 * Forward ops of the element-wise activations of modern CNNs (sigmoid, tanh, hard sigmoid, SiLU,
 * hard swish; forward/activation.wgsl, the function by its code in src/graph/activation.ts) and of
 * the gate y = x * g (forward/gate.wgsl). Each is one memory-bound pass; ReLU stays a view.
 */
import { grid1d } from '../gpu/grid.ts';
import { activationOf, type ActivationLayer } from '../graph/activation.ts';
import type { GateLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { activation, gate } from '../kernels/forward.ts';
import type { ForwardOpFactory } from './op.ts';

const WG = 64;

export const createActivation: ForwardOpFactory<ActivationLayer> = async (ctx, layer, [input]) => {
  const count = numel(input.shape);
  const { code, alpha, beta } = activationOf(layer);
  const pipeline = await activation.pipeline(ctx, { ACT: code, RELU_IN: input.relu, WG });
  const uniforms = activation.uniformsByBatch(ctx, layer.name, (batch) => ({ total: batch * count, alpha, beta }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * count;
      return [{
        kernel: layer.kind, layer: layer.name, pipeline, bindings: activation.bind({ p: uniforms.get(batch), x: x.buffer, y: out }),
        workgroups: grid1d(total, WG), flops: 4 * total, bytes: 8 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};

/** x * g, g of x's shape or one value per channel (plane = H * W). */
export const createGate: ForwardOpFactory<GateLayer> = async (ctx, layer, [x, g]) => {
  const count = numel(x.shape);
  const plane = count / numel(g.shape);
  const pipeline = await gate.pipeline(ctx, { RELU_X: x.relu, RELU_G: g.relu, WG });
  const uniforms = gate.uniformsByBatch(ctx, layer.name, (batch) => ({ total: batch * count, plane }));
  return {
    layer,
    dispatches(batch, [xv, gv], out) {
      const total = batch * count;
      return [{
        kernel: 'gate', layer: layer.name, pipeline, bindings: gate.bind({ p: uniforms.get(batch), x: xv.buffer, g: gv.buffer, y: out }),
        workgroups: grid1d(total, WG), flops: total, bytes: 4 * (2 * total + total / plane),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};
