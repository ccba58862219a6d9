/**
 * Relevance steps of the transformer kinds (lrp-rules.md, "Modern CNNs and vision transformers";
 * the forward ops are in src/forward/attention.ts, whose kernels these run with other strides).
 *
 * - slice, gather, concatconst: relevance (and the gradient) shape-mapped back; a slice's input
 *   gets 0 outside the slice, the class token's share at a concatenation is dropped.
 * - addconst (a positional embedding): `norm`, the constant a bias: R_x = x R_y / stab(x + c).
 * - matmul (c = a b of two activations), CP-LRP as LXT's cp-lrp mode: the first factor is held
 *   constant, so the product is the linear map b -> a b, and its `z` (or `epsilon`) rule gives
 *   R_b = b * a^T (R / stab(c)) per matrix (per head), R_a = 0. In attention's O = A v that is
 *   R_v = v A^T (R_O / stab(O)) and nothing to the softmax; in q k^T nothing arrives. The gradient
 *   methods take both factors' true derivatives, g b^T and a^T g.
 * - softmax: the gradient y (g - sum y g); under LRP it passes (nothing reaches it in CP-LRP).
 *
 * Decisions: stab(d) = d + e sign(d), sign(0) = +1, e the rule's stabilizer (or epsilon), as for
 * every other rule. The zeros R_a are written (not skipped) because the executor hands every input
 * of a layer that runs kernels a relevance buffer; they are one memory pass.
 */
import type { Dispatch } from '../../gpu/context.ts';
import { grid1d } from '../../gpu/grid.ts';
import { numel } from '../../graph/ir.ts';
import {
  AddConstMode, axisSplit, bmmWorkgroups, matmulGeometry, SoftmaxMode, WG, windowUniforms, type BmmShape,
} from '../../forward/attention.ts';
import { addConst, axisWindow, bmm, softmax } from '../../kernels/attention.ts';
import { stabDivide } from '../../kernels/linear-relevance.ts';
import { checkAccumulate, checkReluView, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';

/** Slice, gather and the class token's concatenation: the input's window of the upper relevance. */
export async function createWindowBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx, layer } = c;
  if (layer.kind !== 'slice' && layer.kind !== 'gather' && layer.kind !== 'concatconst') {
    throw new Error(`${layer.name}: createWindowBackward needs a slice, gather or concatconst layer, got ${layer.kind}`);
  }
  const g = axisSplit(c.inputs[0].shape, layer.axis);
  // dst = the input's relevance (g.len entries on the axis), src = the upper relevance (n entries).
  const n = layer.kind === 'slice' ? layer.length : layer.kind === 'gather' ? 1 : c.outShape[layer.axis];
  const shift = layer.kind === 'slice' ? layer.start : layer.kind === 'gather' ? layer.index : layer.before ? -layer.constShape[layer.axis] : 0;
  const acc = c.accumulate[0] ?? false;
  const pipeline = await axisWindow.pipeline(ctx, { ACCUMULATE: acc, WG });
  const uniforms = axisWindow.uniformsByBatch(ctx, `${layer.name} relevance`, (batch) => windowUniforms(batch, g, g.len, n, shift));
  return {
    layer,
    passes: layer.kind === 'concatconst' ? '1 copy (the constant\'s share dropped)' : `1 copy into the input's shape (0 outside the ${layer.kind === 'slice' ? 'slice' : 'gathered entry'})`,
    dispatches(batch, io): Dispatch[] {
      checkAccumulate(c, io);
      const total = batch * numel(c.inputs[0].shape);
      return [{
        kernel: `${layer.kind}-relevance`, layer: layer.name, pipeline,
        bindings: axisWindow.bind({ p: uniforms.get(batch), src: io.relOut, cst: io.relOut, dst: io.relIn[0] }),
        workgroups: grid1d(total, WG), bytes: 4 * total * (acc ? 3 : 2),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}

/** The positional embedding's `norm`: R_x = x R_y / stab(x + c). */
export async function createAddConstBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx, layer } = c;
  if (layer.kind !== 'addconst') throw new Error(`${layer.name}: createAddConstBackward needs an addconst layer, got ${layer.kind}`);
  const rule = c.rule;
  if (!rule || rule.rule !== 'norm') throw new Error(`${layer.name}: rule '${rule?.rule ?? 'none'}' does not apply to the Add of a constant (norm; its gradient passes)`);
  const per = numel(c.inputs[0].shape);
  const pipeline = await addConst.pipeline(ctx, { MODE: AddConstMode.Lrp, RELU_IN: c.inputs[0].relu, ACCUMULATE: c.accumulate[0] ?? false, WG });
  const cst = ctx.upload(layer.constant, `${layer.name} constant`);
  const uniforms = addConst.uniformsByBatch(ctx, `${layer.name} norm`, (batch) => ({ total: batch * per, per, eps: rule.stabilizer }));
  return {
    layer,
    passes: '1 element-wise pass x R / stab(x + c)',
    dispatches(batch, io): Dispatch[] {
      checkReluView(layer, c.inputs, io);
      checkAccumulate(c, io);
      const total = batch * per;
      return [{
        kernel: 'addconst-norm', layer: layer.name, pipeline,
        bindings: addConst.bind({ p: uniforms.get(batch), x: io.inputs[0].buffer, c: cst, relOut: io.relOut, y: io.relIn[0] }),
        workgroups: grid1d(total, WG), flops: 4 * total, bytes: 16 * total,
      }];
    },
    destroy: () => {
      uniforms.destroy();
      cst.destroy();
    },
  };
}

/** The softmax's gradient y (g - sum y g) per row of the last axis. */
export async function createSoftmaxGradient(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx, layer } = c;
  if (layer.kind !== 'softmax') throw new Error(`${layer.name}: createSoftmaxGradient needs a softmax layer, got ${layer.kind}`);
  if (c.rule && c.rule.rule !== 'gradient') throw new Error(`${layer.name}: rule '${c.rule.rule}' needs no kernel on a softmax`);
  const shape = c.inputs[0].shape;
  const len = shape[shape.length - 1];
  const rows = numel(shape) / len;
  const pipeline = await softmax.pipeline(ctx, { MODE: SoftmaxMode.Gradient, ACCUMULATE: c.accumulate[0] ?? false, WG });
  const uniforms = softmax.uniformsByBatch(ctx, `${layer.name} gradient`, (batch) => ({ rows: batch * rows, len }));
  return {
    layer,
    passes: '1 pass per row: y (g - sum y g)',
    dispatches(batch, io): Dispatch[] {
      checkAccumulate(c, io);
      const total = batch * rows * len;
      return [{
        kernel: 'softmax-gradient', layer: layer.name, pipeline,
        bindings: softmax.bind({ p: uniforms.get(batch), x: io.output.buffer, g: io.relOut, y: io.relIn[0] }),
        workgroups: grid1d(batch * rows, WG), flops: 4 * total, bytes: 12 * total,
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}

/** CP-LRP (`z`, `epsilon`) or the gradient of c = a b. */
export async function createMatMulBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx, layer } = c;
  if (layer.kind !== 'matmul') throw new Error(`${layer.name}: createMatMulBackward needs a matmul layer, got ${layer.kind}`);
  const rule = c.rule ?? { rule: 'gradient' as const };
  const [ia, ib] = c.inputs;
  const { heads, M, K, N } = matmulGeometry(ia.shape, ib.shape);
  const [accA, accB] = [c.accumulate[0] ?? false, c.accumulate[1] ?? false];
  // dB-shaped products: A^T (K x M) times an M x N matrix (g, or s = R / stab(c)).
  const intoB: BmmShape = { M: K, N, K: M, aB: M * K, aR: 1, aC: K, bB: M * N, bR: N, bC: 1 };
  const label = `${layer.name} ${rule.rule}`;
  if (rule.rule === 'gradient') {
    // dA = g B^T: g (M x N) times B^T (N x K).
    const intoA: BmmShape = { M, N: K, K: N, aB: M * N, aR: N, aC: 1, bB: K * N, bR: 1, bC: N };
    const [pa, pb] = await Promise.all([
      bmm.pipeline(ctx, { RELU_B: ib.relu, ACCUMULATE: accA }),
      bmm.pipeline(ctx, { RELU_A: ia.relu, ACCUMULATE: accB }),
    ]);
    const ua = bmm.uniformsByBatch(ctx, `${label} a`, (batch) => ({ batch: batch * heads, ...intoA }));
    const ub = bmm.uniformsByBatch(ctx, `${label} b`, (batch) => ({ batch: batch * heads, ...intoB }));
    return {
      layer,
      passes: '2 batched products: g b^T, a^T g',
      dispatches(batch, io): Dispatch[] {
        checkReluView(layer, c.inputs, io);
        checkAccumulate(c, io);
        const mats = batch * heads;
        const flops = 2 * mats * M * N * K;
        return [
          {
            kernel: 'matmul-gradient', layer: layer.name, pipeline: pa, workgroups: bmmWorkgroups(mats, intoA), flops,
            bindings: bmm.bind({ p: ua.get(batch), a: io.relOut, bm: io.inputs[1].buffer, e: io.relOut, c: io.relIn[0] }),
          },
          {
            kernel: 'matmul-gradient', layer: layer.name, pipeline: pb, workgroups: bmmWorkgroups(mats, intoB), flops,
            bindings: bmm.bind({ p: ub.get(batch), a: io.inputs[0].buffer, bm: io.relOut, e: io.relOut, c: io.relIn[1] }),
          },
        ];
      },
      destroy: () => {
        ua.destroy();
        ub.destroy();
      },
    };
  }
  if (rule.rule !== 'z' && rule.rule !== 'epsilon') throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to a product of two activations (z, epsilon)`);
  const eps = rule.rule === 'z' ? rule.stabilizer : rule.epsilon;
  const outCount = heads * M * N;
  const aCount = numel(ia.shape);
  const [divide, pb, zero] = await Promise.all([
    stabDivide.pipeline(ctx, { WG }),
    bmm.pipeline(ctx, { RELU_A: ia.relu, RELU_E: ib.relu, MUL_E: true, ACCUMULATE: accB }),
    accA ? Promise.resolve(null) : axisWindow.pipeline(ctx, { WG }),
  ]);
  const ud = stabDivide.uniformsByBatch(ctx, `${label} divide`, (batch) => ({ total: batch * outCount, eps }));
  const ub = bmm.uniformsByBatch(ctx, `${label} redistribute`, (batch) => ({ batch: batch * heads, ...intoB }));
  // Zeros for a: a window of an empty source.
  const uz = axisWindow.uniformsByBatch(ctx, `${label} zero`, (batch) => windowUniforms(batch, { outer: 1, inner: 1 }, aCount, 0, 0));
  return {
    layer,
    passes: `s = R / stab(a b); b * a^T s (1 batched product); 0 to the first factor${accA ? ' (nothing to add)' : ''}`,
    scratchPerSample: 4 * outCount,
    dispatches(batch, io): Dispatch[] {
      checkReluView(layer, c.inputs, io);
      checkAccumulate(c, io);
      const mats = batch * heads;
      const total = batch * outCount;
      const s = io.scratch(4 * total, `${layer.name} s`);
      // The zeros first: where both factors are one value (a b of a with itself), its relevance
      // buffer is shared and the redistribution adds into it.
      const out: Dispatch[] = zero ? [{
        kernel: 'matmul-zero', layer: layer.name, pipeline: zero, workgroups: grid1d(batch * aCount, WG), bytes: 4 * batch * aCount,
        bindings: axisWindow.bind({ p: uz.get(batch), src: io.relOut, cst: io.relOut, dst: io.relIn[0] }),
      }] : [];
      out.push(
        {
          kernel: 'matmul-stab', layer: layer.name, pipeline: divide, workgroups: grid1d(total, WG), flops: 2 * total, bytes: 12 * total,
          bindings: stabDivide.bind({ p: ud.get(batch), rel: io.relOut, z: io.output.buffer, s }),
        },
        {
          kernel: 'matmul-redistribute', layer: layer.name, pipeline: pb, workgroups: bmmWorkgroups(mats, intoB), flops: 2 * mats * M * N * K,
          bindings: bmm.bind({ p: ub.get(batch), a: io.inputs[0].buffer, bm: s, e: io.inputs[1].buffer, c: io.relIn[1] }),
        },
      );
      return out;
    },
    destroy: () => {
      ud.destroy();
      ub.destroy();
      uz.destroy();
    },
  };
}
