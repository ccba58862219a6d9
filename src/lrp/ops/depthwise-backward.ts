/**
 * Relevance through a depthwise convolution (src/forward/depthwise.ts isDepthwise) by direct
 * kernels instead of conv-backward.ts's grouped GEMMs: a rule's plan (rules.ts) bound to
 * depthwise_stab (the denominators, with the same epilogues as conv_stab), stab_divide (z and
 * epsilon) and depthwise_transpose (the redistribution and the gradient). The denominators read
 * the forward op's weight copy (`depthwise taps`); the redistribution reads the same layout, or
 * PatternAttribution's A * W in it. Only modified biases and zbox bounds are this op's own.
 *
 * Decisions: each kernel computes a small block of one channel from the values it covers, loaded
 * once (memory-bound layers: see the kernels' headers); the rule's segments are a constant
 * (SEGS), so a two-term rule costs FMAs, not a second pass over the input.
 */
import type { Dispatch } from '../../gpu/context.ts';
import { grid1d } from '../../gpu/grid.ts';
import type { ConvLayer } from '../../graph/ir.ts';
import {
  acquireDepthwiseWeight, checkVec4, depthwiseBlock, depthwiseBlocker, depthwiseConstants, transposedBlock, type DepthwiseBlock,
} from '../../forward/depthwise.ts';
import { depthwiseStab, depthwiseTranspose } from '../../kernels/linear-relevance.ts';
import type { BackwardOp, BackwardOpContext } from '../backward-op.ts';
import { describePlan, In, modifyBias, type RedistributePass, type StabPass } from '../rules.ts';
import { OpResources } from './op-resources.ts';
import { boundsData, checkAccumulate, common, divideDispatches, relevanceWeight, sBuffer, stabRule, transposeRule } from './linear-plan.ts';

const WG = 64;

export interface DepthwiseBackwardOptions {
  /** Blocks instead of depthwiseBlock's and transposedBlock's (benches, tests). */
  readonly stabBlock?: DepthwiseBlock;
  readonly transposeBlock?: DepthwiseBlock;
}

export async function createDepthwiseBackward(c: BackwardOpContext, opts: DepthwiseBackwardOptions = {}): Promise<BackwardOp> {
  const layer = c.layer as ConvLayer;
  const why = depthwiseBlocker(layer);
  if (why) throw new Error(`layer '${layer.name}': the depthwise relevance kernels cannot run it (${why})`);
  const { ctx } = c;
  const input = c.inputs[0];
  const [inC, inH, inW] = input.shape;
  const [outC, outH, outW] = c.outShape;
  const outPlane = outH * outW;
  const mult = outC / inC;
  const cm = await common(c, outC * outPlane);
  const { plan, rule } = cm;

  // Everything this op holds, given back by destroy() (or at once if building fails).
  const res = new OpResources();
  const { own, held, destroy } = res;
  held(cm.divideUniforms);

  try {
    const bounds = own(ctx.upload(boundsData(rule, 1, inC), `${layer.name} zbox bounds`));
    const geometry = { outC, inC, mult, inH, inW, outH, outW, padT: layer.pads[0], padL: layer.pads[1] };

    const sb = opts.stabBlock ?? depthwiseBlock(layer);
    const sBlocks = { blocksX: Math.ceil(outW / sb.PX), blocksY: Math.ceil(outH / sb.PY) };
    const sThreads = (batch: number) => batch * outC * sBlocks.blocksX * sBlocks.blocksY;
    const stabDefs = plan.denominators.filter((d): d is StabPass => d.kind === 'stab');
    const sWeight = stabDefs.length ? acquireDepthwiseWeight(ctx, c.weights, layer, 'depthwise_stab') : null;
    if (sWeight) res.share(sWeight);
    const usesX = (m: In) => m === In.X || m === In.Pos || m === In.Neg;
    const stabs = await Promise.all(stabDefs.map(async (d, i) => {
      const { segs: _segs, ...ruleFields } = stabRule(d, input.relu);
      return {
        bias: own(ctx.upload(modifyBias(layer.bias, d.bias, plan.gamma), `${layer.name} bias (${d.bias})`)),
        pipeline: await depthwiseStab.pipeline(ctx, { ...depthwiseConstants(layer, sb), SEGS: d.segs.length, WG }),
        uniforms: held(depthwiseStab.uniformsByBatch(ctx, `${layer.name} depthwise stab ${i}`, (batch) => ({
          total: sThreads(batch), ...geometry, ...sBlocks,
          eps: plan.eps, gamma: plan.gamma, sliceLen: batch * outC * outPlane, outSlice: d.slice,
          ...ruleFields, readsX: d.segs.some((sg) => usesX(sg.in)) ? 1 : 0,
        }))),
      };
    }));

    const tb = opts.transposeBlock ?? transposedBlock(layer);
    if (tb.PY % layer.stride[0] !== 0 || tb.PX % layer.stride[1] !== 0) {
      throw new Error(`layer '${layer.name}': transposed block ${JSON.stringify(tb)} is not a multiple of the stride ${layer.stride.join('x')}`);
    }
    const tBlocks = { blocksX: Math.ceil(inW / tb.PX), blocksY: Math.ceil(inH / tb.PY) };
    const tThreads = (batch: number) => batch * inC * tBlocks.blocksX * tBlocks.blocksY;
    const rw = relevanceWeight(layer, rule);
    const tWeight = acquireDepthwiseWeight(ctx, c.weights, layer, 'depthwise_transpose', rw.key, rw.weight);
    res.share(tWeight);
    const reds = await Promise.all(plan.redistributions.map(async (r: RedistributePass, i) => {
      const acc = i > 0 || c.accumulate[0];
      const { segs: _segs, ...ruleFields } = transposeRule(r, input.relu, acc);
      return {
        r,
        pipeline: await depthwiseTranspose.pipeline(ctx, {
          ...depthwiseConstants(layer, tb), SEGS: r.segs.length, WG, PHY: layer.pads[0] % layer.stride[0], PHX: layer.pads[1] % layer.stride[1],
        }),
        uniforms: held(depthwiseTranspose.uniformsByBatch(ctx, `${layer.name} depthwise transpose ${i}`, (batch) => ({
          total: tThreads(batch), ...geometry, ...tBlocks, sliceLen: batch * outC * outPlane, gamma: plan.gamma, ...ruleFields,
        }))),
      };
    }));

    const macs = (batch: number) => batch * outC * outPlane * layer.kernel[0] * layer.kernel[1];
    const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
    return {
      layer,
      passes: describePlan(plan),
      scratchPerSample: cm.scratchPerSample,
      dispatches(batch, io) {
        const out: Dispatch[] = [];
        const s = sBuffer(cm, batch, io, `${layer.name} s`);
        const x = io.inputs[0].buffer;
        const z = io.output.buffer;
        // The kernels read x (denominators) and s (redistribution) as vec4s.
        checkVec4(x, layer.name);
        checkVec4(s, layer.name);
        out.push(...divideDispatches(cm, layer.name, batch, io, s));
        stabDefs.forEach((d, i) => {
          const st = stabs[i];
          out.push({
            kernel: 'depthwise_stab', layer: layer.name, pipeline: st.pipeline,
            bindings: depthwiseStab.bind({ p: st.uniforms.get(batch), x, w: sWeight!.buffer, bias: st.bias, rel: io.relOut, z, bounds, s }),
            workgroups: grid1d(sThreads(batch), WG, maxDim), flops: 2 * macs(batch) * d.segs.length,
          });
        });
        checkAccumulate(c, io);
        for (const rd of reds) {
          out.push({
            kernel: 'depthwise_transpose', layer: layer.name, pipeline: rd.pipeline,
            bindings: depthwiseTranspose.bind({ p: rd.uniforms.get(batch), s, w: tWeight.buffer, x, bounds, r: io.relIn[0] }),
            workgroups: grid1d(tThreads(batch), WG, maxDim), flops: 2 * macs(batch) * rd.r.segs.length,
          });
        }
        return out;
      },
      destroy,
    };
  } catch (e) {
    destroy();
    throw e;
  }
}
