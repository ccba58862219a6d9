/**
 * Relevance through a dense layer: a rule's plan (rules.ts) bound to dense_stab (denominators),
 * stab_divide (z and epsilon) and dense_transpose (the redistribution). The weight is the forward
 * pass's own row chunks (one copy per model, in its WeightStore). A layer over many rows per
 * sample (forward/dense-gemm.ts usesRowGemm) runs the convolution's op as a 1x1 GEMM instead.
 */
import type { Dispatch } from '../../gpu/context.ts';
import type { DenseLayer } from '../../graph/ir.ts';
import { denseRows } from '../../graph/kinds.ts';
import { acquireDenseChunks, denseRowGroups } from '../../forward/dense.ts';
import { convShapes, denseAsConv, usesRowGemm } from '../../forward/dense-gemm.ts';
import { convTile, tileFamily } from '../../forward/conv.ts';
import { gemmVariant } from '../../gpu/subgroups.ts';
import { createConvBackward, type ConvBackwardOptions } from './conv-backward.ts';
import { denseStab, denseTranspose } from '../../kernels/linear-relevance.ts';
import type { BackwardOp, BackwardOpContext } from '../backward-op.ts';
import { describePlan, modifyBias, type StabPass } from '../rules.ts';
import {
  boundsData, checkAccumulate, common, divideDispatches, relevanceWeight, sBuffer, stabRule, transposeRule,
} from './linear-plan.ts';

const ROWS = 4;
/** Samples per workgroup of the batched pipelines (batch 1 gets its own, with one). */
const NB = 8;
const WG = 64;
const nbOf = (batch: number) => (batch === 1 ? 1 : NB);

export async function createDenseBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const layer = c.layer as DenseLayer;
  const { ctx } = c;
  const input = c.inputs[0];
  const { inFeatures: inF, outFeatures: outF } = layer;
  // Over the last axis each position of the leading axes is one row: the kernels see a batch of
  // N x rows flat samples, and every per-batch size below is in those rows.
  if (input.shape[input.shape.length - 1] !== inF) throw new Error(`layer '${layer.name}': input [${input.shape.join(', ')}] does not end in ${inF} features`);
  const perSample = denseRows(input.shape);
  if (usesRowGemm(layer, perSample, ctx.maxBinding)) return createDenseGemmBackward(c, perSample);
  return createDenseRowKernelsBackward(c, perSample);
}

/**
 * Many rows per sample: the convolution's relevance op (conv_stab, conv_transpose, the columns
 * pass for at most 4 input features) on the layer as a 1x1 convolution over N x rows samples
 * (forward/dense-gemm.ts), reading the forward pass's GEMM weight layout. The redistribution
 * takes the forward's tile (convTile), not transposedTile's wider block: that block was chosen
 * for convolutions over thousands of pixels, and over a few hundred rows it leaves most of a CPU
 * adapter's threads without a workgroup (bench/dense-rows.ts --transpose-tile forward, ViT-B
 * shapes on lavapipe: 2 to 5 times faster at 32 to 197 rows; bench/RESULTS.md). `opts` replaces
 * the tiles (benches).
 */
export async function createDenseGemmBackward(c: BackwardOpContext, perSample: number, opts?: ConvBackwardOptions): Promise<BackwardOp> {
  const layer = c.layer as DenseLayer;
  const { inShape, outShape } = convShapes(layer);
  const family = tileFamily(c.ctx, await gemmVariant(c.ctx));
  const op = await createConvBackward({
    ...c, layer: denseAsConv(layer), inputs: [{ ...c.inputs[0], shape: inShape }], output: { ...c.output, shape: outShape }, outShape,
  }, opts ?? { transposeTile: convTile(layer.outFeatures, layer.inFeatures, family) });
  return {
    layer,
    passes: op.passes,
    scratchPerSample: (op.scratchPerSample ?? 0) * perSample,
    dispatches: (samples, io) => op.dispatches(samples * perSample, io),
    destroy: () => op.destroy(),
  };
}

/** The few-row kernels (dense_stab, dense_transpose), for any row count (bench/dense-rows.ts compares them with the GEMM). */
export async function createDenseRowKernelsBackward(c: BackwardOpContext, perSample: number): Promise<BackwardOp> {
  const layer = c.layer as DenseLayer;
  const { ctx } = c;
  const input = c.inputs[0];
  const { inFeatures: inF, outFeatures: outF } = layer;
  const cm0 = await common(c, outF);
  const cm = { ...cm0, scratchPerSample: cm0.scratchPerSample * perSample };
  const { plan, rule } = cm;
  // zbox bounds are per input feature (composite/bind.ts spreads per-channel bounds of an image
  // input over a flattened first layer's features), the same for every row.
  const bounds = ctx.upload(boundsData(rule, 1, inF), `${layer.name} zbox bounds`);

  // The forward pass's row chunks, rows padded to whole vec4s: inF4 vec4s apart.
  const chunks = acquireDenseChunks(ctx, c.weights, layer);
  const rw = relevanceWeight(layer, rule);
  const tChunks = rw.key ? acquireDenseChunks(ctx, c.weights, layer, rw.weight, rw.key) : chunks;
  if (tChunks.length !== chunks.length) throw new Error(`internal: layer '${layer.name}': its A * W chunks differ from W's`);
  const inF4 = Math.ceil(inF / 4);

  const stabs = await Promise.all(plan.denominators.filter((d): d is StabPass => d.kind === 'stab').map(async (d, i) => {
    const bias = modifyBias(layer.bias, d.bias, plan.gamma);
    return {
      d,
      biases: chunks.map((ch) => ctx.upload(bias.subarray(ch.r0, ch.r0 + ch.rows), `${layer.name} bias (${d.bias})`)),
      pipelines: await Promise.all([1, NB].map((nb) => denseStab.pipeline(ctx, { NB: nb }))),
      uniforms: chunks.map((ch, k) => denseStab.uniformsByBatch(ctx, `${layer.name} stab ${i}.${k}`, (batch) => ({
        batch, inF, rows: ch.rows, rowOffset: ch.r0, outF, sliceLen: batch * outF, outSlice: d.slice, inF4,
        eps: plan.eps, gamma: plan.gamma, ...stabRule(d, input.relu),
      }))),
    };
  }));

  // Only the first chunk of the first pass may overwrite; every later dispatch adds.
  const pipelines = await Promise.all([1, NB].map((nb) => denseTranspose.pipeline(ctx, { NB: nb })));
  const reds = plan.redistributions.map((r, i) => ({
    r,
    uniforms: chunks.map((ch, k) => denseTranspose.uniformsByBatch(ctx, `${layer.name} transpose ${i}.${k}`, (batch) => ({
      batch, inF, rows: ch.rows, rowOffset: ch.r0, outF, sliceLen: batch * outF, inF4, gamma: plan.gamma,
      ...transposeRule(r, input.relu, i > 0 || k > 0 || c.accumulate[0]),
    }))),
  }));

  return {
    layer,
    passes: describePlan(plan),
    scratchPerSample: cm.scratchPerSample,
    dispatches(samples, io) {
      const batch = samples * perSample;
      const out: Dispatch[] = [];
      const s = sBuffer(cm, batch, io, `${layer.name} s`);
      const x = io.inputs[0].buffer;
      out.push(...divideDispatches(cm, layer.name, batch, io, s));
      for (const st of stabs) {
        chunks.forEach((ch, k) => out.push({
          kernel: 'dense_stab', layer: layer.name, pipeline: st.pipelines[batch === 1 ? 0 : 1],
          bindings: denseStab.bind({ p: st.uniforms[k].get(batch), x, w: ch.weight.buffer, bias: st.biases[k], rel: io.relOut, z: io.output.buffer, bounds, s }),
          workgroups: [Math.ceil(ch.rows / ROWS), denseRowGroups(layer.name, batch, nbOf(batch)), 1],
          flops: 2 * batch * inF * ch.rows * st.d.segs.length,
        }));
      }
      checkAccumulate(c, io);
      for (const rd of reds) {
        tChunks.forEach((ch, k) => {
          out.push({
            kernel: 'dense_transpose', layer: layer.name, pipeline: pipelines[batch === 1 ? 0 : 1],
            bindings: denseTranspose.bind({ p: rd.uniforms[k].get(batch), s, w: ch.weight.buffer, x, bounds, r: io.relIn[0] }),
            workgroups: [Math.ceil(inF4 / WG), denseRowGroups(layer.name, batch, nbOf(batch)), 1],
            flops: 2 * batch * inF * ch.rows * rd.r.segs.length,
          });
        });
      }
      return out;
    },
    destroy() {
      bounds.destroy();
      cm.divideUniforms.destroy();
      for (const ch of chunks) ch.weight.release();
      if (tChunks !== chunks) for (const ch of tChunks) ch.weight.release();
      for (const st of stabs) {
        st.biases.forEach((b) => b.destroy());
        st.uniforms.forEach((u) => u.destroy());
      }
      for (const rd of reds) rd.uniforms.forEach((u) => u.destroy());
    },
  };
}
