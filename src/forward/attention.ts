/**
 * Forward ops of the transformer kinds (lrp-rules.md, "Modern CNNs and vision transformers"):
 * slice and gather (one copy of a window of one axis), the concatenation of a constant token, the
 * Add of a constant tensor, the softmax over the last axis and the batched product of two
 * activations (shaders/attention/). The helpers here are shared with their backward ops
 * (src/lrp/ops/attention.ts), which run the same kernels with other strides.
 *
 * Decisions:
 * - Slices and gathers copy rather than alias: a TensorRef has no offset, and a slice of a Split is
 *   read by a reshape and a transpose that want it contiguous anyway. Copies of a window are one
 *   memory-bound pass; the products are the bulk of an attention block's time.
 * - The product runs as one tiled kernel over every (sample, head) pair: batch x heads matrices.
 */
import type { Dispatch } from '../gpu/context.ts';
import { grid1d } from '../gpu/grid.ts';
import type { AddConstLayer, ConcatConstLayer, GatherLayer, MatMulLayer, Shape, SliceLayer, SoftmaxLayer } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { addConst, axisWindow, bmm, softmax } from '../kernels/attention.ts';
import type { ForwardOpFactory } from './op.ts';

export const WG = 64;

/** `shape` seen as [outer, shape[axis], inner] per sample. */
export function axisSplit(shape: Shape, axis: number): { outer: number; len: number; inner: number } {
  return { outer: numel(shape.slice(0, axis)), len: shape[axis], inner: numel(shape.slice(axis + 1)) };
}

/** The axis_window uniforms for a batch: dst has `m` entries on the axis, src `n`. */
export function windowUniforms(batch: number, g: { outer: number; inner: number }, m: number, n: number, shift: number) {
  return { total: batch * g.outer * m * g.inner, m, n, inner: g.inner, shift, constOuter: g.outer };
}

/** The product c = A B of `batch` matrices (M x K by K x N), operands through strides (bmm.wgsl). */
export interface BmmShape {
  readonly M: number; readonly N: number; readonly K: number;
  readonly aB: number; readonly aR: number; readonly aC: number;
  readonly bB: number; readonly bR: number; readonly bC: number;
}

export function bmmWorkgroups(matrices: number, s: BmmShape): [number, number, number] {
  if (matrices > 65535) throw new Error(`a batched product of ${matrices} matrices exceeds 65535 workgroups in z; use a smaller batch`);
  return [Math.ceil(s.N / 16), Math.ceil(s.M / 16), matrices];
}

/** Per sample: the product's matrices count and their sizes, from the layer's input shapes. */
export function matmulGeometry(a: Shape, b: Shape): { heads: number; M: number; K: number; N: number } {
  const r = a.length;
  return { heads: numel(a.slice(0, r - 2)), M: a[r - 2], K: a[r - 1], N: b[r - 1] };
}

export const createSlice: ForwardOpFactory<SliceLayer | GatherLayer> = async (ctx, layer, [input]) => {
  const g = axisSplit(input.shape, layer.axis);
  const start = layer.kind === 'slice' ? layer.start : layer.index;
  const m = layer.kind === 'slice' ? layer.length : 1;
  const pipeline = await axisWindow.pipeline(ctx, { RELU_IN: input.relu, WG });
  const uniforms = axisWindow.uniformsByBatch(ctx, layer.name, (batch) => windowUniforms(batch, g, m, g.len, -start));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * g.outer * m * g.inner;
      return [{
        kernel: layer.kind, layer: layer.name, pipeline, bindings: axisWindow.bind({ p: uniforms.get(batch), src: x.buffer, cst: x.buffer, dst: out }),
        workgroups: grid1d(total, WG), bytes: 8 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};

export const createConcatConst: ForwardOpFactory<ConcatConstLayer> = async (ctx, layer, [input], outShape) => {
  const g = axisSplit(input.shape, layer.axis);
  const m = outShape[layer.axis];
  const mc = layer.constShape[layer.axis];
  const pipeline = await axisWindow.pipeline(ctx, { RELU_IN: input.relu, HAS_CONST: true, WG });
  const cst = ctx.upload(layer.constant, `${layer.name} constant`);
  const uniforms = axisWindow.uniformsByBatch(ctx, layer.name, (batch) => windowUniforms(batch, g, m, g.len, layer.before ? mc : 0));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * g.outer * m * g.inner;
      return [{
        kernel: 'concatconst', layer: layer.name, pipeline, bindings: axisWindow.bind({ p: uniforms.get(batch), src: x.buffer, cst, dst: out }),
        workgroups: grid1d(total, WG), bytes: 8 * total,
      }];
    },
    destroy: () => {
      uniforms.destroy();
      cst.destroy();
    },
  };
};

/** Modes of attention/add_const.wgsl. */
export const AddConstMode = { Forward: 0, Lrp: 1 } as const;

export const createAddConst: ForwardOpFactory<AddConstLayer> = async (ctx, layer, [input]) => {
  const per = numel(input.shape);
  const pipeline = await addConst.pipeline(ctx, { MODE: AddConstMode.Forward, RELU_IN: input.relu, WG });
  const c = ctx.upload(layer.constant, `${layer.name} constant`);
  const uniforms = addConst.uniformsByBatch(ctx, layer.name, (batch) => ({ total: batch * per, per, eps: 0 }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * per;
      return [{
        kernel: 'addconst', layer: layer.name, pipeline, bindings: addConst.bind({ p: uniforms.get(batch), x: x.buffer, c, relOut: x.buffer, y: out }),
        workgroups: grid1d(total, WG), flops: total, bytes: 12 * total,
      }];
    },
    destroy: () => {
      uniforms.destroy();
      c.destroy();
    },
  };
};

/** Modes of attention/softmax.wgsl. */
export const SoftmaxMode = { Forward: 0, Gradient: 1 } as const;

export const createSoftmax: ForwardOpFactory<SoftmaxLayer> = async (ctx, layer, [input]) => {
  if (layer.lastAxis === false) {
    throw new Error(`layer '${layer.name}': a Softmax inside the network must normalise over the last axis alone`);
  }
  const len = input.shape[input.shape.length - 1];
  const rows = numel(input.shape) / len;
  const pipeline = await softmax.pipeline(ctx, { MODE: SoftmaxMode.Forward, RELU_IN: input.relu, WG });
  const uniforms = softmax.uniformsByBatch(ctx, layer.name, (batch) => ({ rows: batch * rows, len }));
  return {
    layer,
    dispatches(batch, [x], out) {
      const total = batch * rows * len;
      return [{
        kernel: 'softmax', layer: layer.name, pipeline, bindings: softmax.bind({ p: uniforms.get(batch), x: x.buffer, g: x.buffer, y: out }),
        workgroups: grid1d(batch * rows, WG), flops: 4 * total, bytes: 8 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};

export const createMatMul: ForwardOpFactory<MatMulLayer> = async (ctx, layer, [a, b]) => {
  const { heads, M, K, N } = matmulGeometry(a.shape, b.shape);
  const s: BmmShape = { M, N, K, aB: M * K, aR: K, aC: 1, bB: K * N, bR: N, bC: 1 };
  const pipeline = await bmm.pipeline(ctx, { RELU_A: a.relu, RELU_B: b.relu });
  const uniforms = bmm.uniformsByBatch(ctx, layer.name, (batch) => ({ batch: batch * heads, ...s }));
  return {
    layer,
    dispatches(batch, [x0, x1], out): Dispatch[] {
      return [{
        kernel: 'matmul', layer: layer.name, pipeline, bindings: bmm.bind({ p: uniforms.get(batch), a: x0.buffer, bm: x1.buffer, e: x0.buffer, c: out }),
        workgroups: bmmWorkgroups(batch * heads, s), flops: 2 * batch * heads * M * N * K, bytes: 4 * batch * heads * (M * K + K * N + M * N),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
};


