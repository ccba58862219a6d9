/**
 * Relevance through convolution and dense layers: binds a rule's plan (rules.ts) to the
 * conv_stab / conv_transpose / dense_stab / dense_transpose / stab_divide kernels.
 */
import type { Dispatch } from '../../gpu/context.ts';
import type { ConvLayer, DenseLayer } from '../../graph/ir.ts';
import { numel } from '../../graph/ir.ts';
import { denseChunkRows } from '../../forward/dense.ts';
import { grid1d, tileGrid } from '../../gpu/grid.ts';
import type { UniformsByBatch } from '../../gpu/uniforms.ts';
import { convStab, convTranspose, denseStab, denseTranspose, stabDivide } from '../../kernels/linear-relevance.ts';
import type { BackwardIO, BackwardOp, BackwardOpContext } from '../backward-op.ts';
import type { LinearRule } from '../rule-spec.ts';
import { describePlan, In, modifyBias, planLinearRule, type LinearPlan, type RedistributePass, type StabPass } from '../rules.ts';

const BK = 16;

/** Tile per GEMM width: 64 columns where there are that many, a tall narrow tile otherwise. */
function tile(columns: number): { WG_M: number; WG_N: number; BK: number } {
  return columns <= 32 ? { WG_M: 32, WG_N: 8, BK } : { WG_M: 16, WG_N: 16, BK };
}

/** Forward weight layout for the denominators: [g][Kpad][Npad], k = (ci, ky, kx). */
function stabLayout(layer: ConvLayer): { data: Float32Array; K: number; Kpad: number; Npad: number } {
  const { groups, outChannels, inChannels, kernel: [kh, kw] } = layer;
  const cinPG = inChannels / groups;
  const coutPG = outChannels / groups;
  const K = cinPG * kh * kw;
  const Kpad = Math.ceil(K / BK) * BK;
  const Npad = Math.ceil(coutPG / 4) * 4;
  const data = new Float32Array(groups * Kpad * Npad);
  for (let g = 0; g < groups; g++) {
    for (let n = 0; n < coutPG; n++) {
      const src = (g * coutPG + n) * K;
      const dst = g * Kpad * Npad + n;
      for (let k = 0; k < K; k++) data[dst + k * Npad] = layer.weight[src + k];
    }
  }
  return { data, K, Kpad, Npad };
}

/**
 * The weight the transposed (redistribution) GEMMs read: the layer's W, or for PatternAttribution
 * A * W element-wise, A the learned pattern in the same C x K layout. This is the one place where
 * a pattern meets the weights; its product is re-laid out and uploaded once per (model, composite)
 * by the op below, like every relevance weight. (Issue 10 moves re-laid-out weights into the
 * forward model, shared by every explainer; A * W then becomes one more layout there, keyed by
 * the pattern set.)
 */
export function relevanceWeight(layer: ConvLayer | DenseLayer, rule: LinearRule): Float32Array {
  if (rule.rule !== 'pattern') return layer.weight;
  const a = rule.pattern;
  if (a.length !== layer.weight.length) throw new Error(`layer '${layer.name}': its pattern has ${a.length} values, its weight ${layer.weight.length}`);
  return Float32Array.from(layer.weight, (w, i) => w * a[i]);
}

/** Transposed layout for the redistribution: [g][Ktpad][Cpad], k = (co, ky, kx), columns = input channels. */
function transposeLayout(layer: ConvLayer, weight: Float32Array): { data: Float32Array; K: number; Kpad: number; Npad: number } {
  const { groups, outChannels, inChannels, kernel: [kh, kw] } = layer;
  const cinPG = inChannels / groups;
  const coutPG = outChannels / groups;
  const KK = kh * kw;
  const K = coutPG * KK;
  const Kpad = Math.ceil(K / BK) * BK;
  const Npad = Math.ceil(cinPG / 4) * 4;
  const data = new Float32Array(groups * Kpad * Npad);
  for (let g = 0; g < groups; g++) {
    for (let co = 0; co < coutPG; co++) {
      for (let ci = 0; ci < cinPG; ci++) {
        const src = ((g * coutPG + co) * cinPG + ci) * KK;
        for (let r = 0; r < KK; r++) data[g * Kpad * Npad + (co * KK + r) * Npad + ci] = weight[src + r];
      }
    }
  }
  return { data, K, Kpad, Npad };
}

/**
 * The stride phases of the transposed convolution along one axis: input rows `start`,
 * `start + stride`, ... (`count` of them), and the kernel taps that reach an output from them,
 * i.e. (start + pad - k * dil) divisible by the stride: `taps` of them, k = k0, k0 + step, ...
 * (the solutions of a linear congruence, an arithmetic progression).
 */
export interface AxisPhase { start: number; count: number; k0: number; taps: number; step: number }

export function axisPhases(size: number, kernel: number, stride: number, pad: number, dil: number): AxisPhase[] {
  const out: AxisPhase[] = [];
  for (let start = 0; start < Math.min(stride, size); start++) {
    const ks: number[] = [];
    for (let k = 0; k < kernel; k++) if ((((start + pad - k * dil) % stride) + stride) % stride === 0) ks.push(k);
    const step = ks.length > 1 ? ks[1] - ks[0] : 1;
    if (ks.some((k, i) => k !== ks[0] + i * step)) throw new Error(`internal: taps ${ks.join(',')} are not a progression`);
    out.push({ start, count: Math.ceil((size - start) / stride), k0: ks[0] ?? 0, taps: ks.length, step });
  }
  return out;
}

function segConstants(prefix: 'IN' | 'SLICE', segs: readonly { w: number; in?: number; slice?: number }[]) {
  const c: Record<string, number> = { SEGS: segs.length };
  segs.forEach((s, i) => {
    c[`W${i}`] = s.w;
    c[`${prefix}${i}`] = prefix === 'IN' ? s.in! : s.slice!;
  });
  return c;
}

/**
 * The RELU_IN constant of a pass: the input's ReLU view where the pass reads x through it, false
 * where it only reads ones or zbox bounds (flat, wsquare, the gradient's transposed pass), so such
 * passes share one pipeline whatever their input (on lavapipe every pipeline costs a compile).
 */
function readsX(pass: StabPass | RedistributePass, relu: boolean): boolean {
  const usesX = (m: In): boolean => m === In.X || m === In.Pos || m === In.Neg;
  return relu && ('kind' in pass ? pass.segs.some((sg) => usesX(sg.in)) : usesX(pass.out));
}

function coefs(segs: readonly { coef: number }[]): { coef0: number; coef1: number; coef2: number } {
  return { coef0: segs[0]?.coef ?? 0, coef1: segs[1]?.coef ?? 0, coef2: segs[2]?.coef ?? 0 };
}

/** zbox bounds per input channel (conv) or feature (dense), low then high; a dummy otherwise. */
function boundsData(rule: LinearRule, perChannel: number, channels: number): Float32Array {
  if (rule.rule !== 'zbox') return new Float32Array(4);
  const out = new Float32Array(2 * channels * perChannel);
  for (let c = 0; c < channels; c++) {
    for (let k = 0; k < perChannel; k++) {
      out[c * perChannel + k] = rule.low[c];
      out[(channels + c) * perChannel + k] = rule.high[c];
    }
  }
  return out;
}

function isLinearRule(rule: unknown): rule is LinearRule {
  return !!rule && typeof rule === 'object' && 'rule' in rule;
}

interface Common {
  plan: LinearPlan;
  sliceLen: (batch: number) => number;
  dividePipeline: GPUComputePipeline | null;
  divideUniforms: UniformsByBatch;
}

async function common(c: BackwardOpContext, outCount: number): Promise<Common & { rule: LinearRule }> {
  const rule = c.rule;
  if (!isLinearRule(rule)) throw new Error(`layer '${c.layer.name}': no rule for a linear layer`);
  const plan = planLinearRule(rule as LinearRule, c.nonneg[0]);
  const hasDivide = plan.denominators.some((d) => d.kind === 'divide');
  return {
    rule: rule as LinearRule,
    plan,
    sliceLen: (batch) => batch * outCount,
    dividePipeline: hasDivide ? await stabDivide.pipeline(c.ctx, { WG: 64 }) : null,
    divideUniforms: stabDivide.uniformsByBatch(c.ctx, `${c.layer.name} divide`, (batch) => ({ total: batch * outCount, eps: plan.eps })),
  };
}

/**
 * The s buffer: the upper relevance itself for the gradient, else `slices` slices written by
 * the denominator passes.
 */
function sBuffer(cm: Common, batch: number, io: BackwardIO, label: string): GPUBuffer {
  if (cm.plan.slices === 0) return io.relOut;
  return io.scratch(4 * cm.plan.slices * cm.sliceLen(batch), label);
}

export async function createConvBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const layer = c.layer as ConvLayer;
  const { ctx } = c;
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const input = c.inputs[0];
  const [inC, inH, inW] = input.shape;
  const [outC, outH, outW] = c.outShape;
  const { groups, kernel, stride, pads, dilation } = layer;
  const cinPG = inC / groups;
  const coutPG = outC / groups;
  const cm = await common(c, outC * outH * outW);
  const { plan, rule } = cm;

  const fw = plan.denominators.some((d) => d.kind === 'stab') ? stabLayout(layer) : null;
  const tw = transposeLayout(layer, relevanceWeight(layer, rule));
  const fwBuf = fw ? ctx.upload(fw.data, `${layer.name}.weight (relevance, forward layout)`) : null;
  const twBuf = ctx.upload(tw.data, `${layer.name}.weight (relevance, transposed layout)`);
  const bounds = ctx.upload(boundsData(rule, 1, inC), `${layer.name} zbox bounds`);
  const stabTile = tile(coutPG);
  const tTile = tile(cinPG);
  const geometry = (batch: number, K: number, Kpad: number, Npad: number, M: number) => ({
    batch, inC, inH, inW, outC, outH, outW, groups,
    strideH: stride[0], strideW: stride[1], padT: pads[0], padL: pads[1], dilH: dilation[0], dilW: dilation[1],
    cinPerGroup: cinPG, coutPerGroup: coutPG, K, Kpad, Npad, M,
  });

  const stabs = await Promise.all(plan.denominators.filter((d): d is StabPass => d.kind === 'stab').map(async (d, i) => ({
    d,
    bias: ctx.upload(modifyBias(layer.bias, d.bias, plan.gamma), `${layer.name} bias (${d.bias})`),
    pipeline: await convStab.pipeline(ctx, {
      KH: kernel[0], KW: kernel[1], RELU_IN: readsX(d, input.relu), MODE: d.mode, GATE: d.gate, ...segConstants('IN', d.segs), ...stabTile,
    }),
    uniforms: convStab.uniformsByBatch(ctx, `${layer.name} stab ${i}`, (batch) => ({
      ...geometry(batch, fw!.K, fw!.Kpad, fw!.Npad, batch * outH * outW),
      eps: plan.eps, gamma: plan.gamma, sliceLen: batch * outC * outH * outW, outSlice: d.slice, ...coefs(d.segs),
    })),
  })));

  // One transposed-GEMM dispatch per stride phase (see conv_transpose.wgsl), each over its taps only.
  const phases = axisPhases(inH, kernel[0], stride[0], pads[0], dilation[0]).flatMap((py) =>
    axisPhases(inW, kernel[1], stride[1], pads[1], dilation[1]).map((px) => {
      const K = coutPG * py.taps * px.taps;
      return { py, px, K, Kpad: Math.ceil(K / BK) * BK, pixels: py.count * px.count };
    }));
  const phaseWork = phases.reduce((a, ph) => a + ph.pixels * ph.K, 0);
  const reds = await Promise.all(plan.redistributions.map(async (r: RedistributePass, i) => ({
    r,
    pipeline: await convTranspose.pipeline(ctx, {
      KH: kernel[0], KW: kernel[1], RELU_IN: readsX(r, input.relu), OUT: r.out, ACCUMULATE: false, ...segConstants('SLICE', r.segs), ...tTile,
    }),
    pipelineAcc: await convTranspose.pipeline(ctx, {
      KH: kernel[0], KW: kernel[1], RELU_IN: readsX(r, input.relu), OUT: r.out, ACCUMULATE: true, ...segConstants('SLICE', r.segs), ...tTile,
    }),
    uniforms: phases.map((ph, k) => convTranspose.uniformsByBatch(ctx, `${layer.name} transpose ${i} phase ${k}`, (batch) => ({
      ...geometry(batch, ph.K, ph.Kpad, tw.Npad, batch * ph.pixels),
      gamma: plan.gamma, sliceLen: batch * outC * outH * outW, wRows: tw.Kpad, ...coefs(r.segs),
      py: ph.py.start, px: ph.px.start, Hp: ph.py.count, Wp: ph.px.count,
      ky0: ph.py.k0, kx0: ph.px.k0, nty: ph.py.taps, ntx: ph.px.taps,
      stepY: ph.py.step, stepX: ph.px.step,
    }))),
  })));

  const macs = (batch: number) => batch * outH * outW * outC * cinPG * kernel[0] * kernel[1];
  return {
    layer,
    passes: describePlan(plan),
    dispatches(batch, io) {
      const out: Dispatch[] = [];
      const s = sBuffer(cm, batch, io, `${layer.name} s`);
      const x = io.inputs[0].buffer;
      const M = batch * outH * outW;
      for (const d of plan.denominators) {
        if (d.kind === 'divide') {
          out.push({
            kernel: 'stab_divide', layer: layer.name, pipeline: cm.dividePipeline!,
            bindings: stabDivide.bind({ p: cm.divideUniforms.get(batch), rel: io.relOut, z: io.output.buffer, s }), workgroups: grid1d(cm.sliceLen(batch), 64),
          });
        }
      }
      for (const st of stabs) {
        out.push({
          kernel: 'conv_stab', layer: layer.name, pipeline: st.pipeline,
          bindings: convStab.bind({ p: st.uniforms.get(batch), x, w: fwBuf!, bias: st.bias, rel: io.relOut, z: io.output.buffer, bounds, s }),
          workgroups: tileGrid(Math.ceil(coutPG / (4 * stabTile.WG_N)), Math.ceil(M / (4 * stabTile.WG_M)), groups, maxDim),
          flops: 2 * macs(batch) * st.d.segs.length,
        });
      }
      reds.forEach((rd, i) => {
        // The phases write disjoint pixels: each overwrites or accumulates as the whole pass does.
        const acc = i > 0 || io.accumulate[0];
        phases.forEach((ph, k) => out.push({
          kernel: 'conv_transpose', layer: layer.name, pipeline: acc ? rd.pipelineAcc : rd.pipeline,
          bindings: convTranspose.bind({ p: rd.uniforms[k].get(batch), s, w: twBuf, x, bounds, r: io.relIn[0] }),
          workgroups: tileGrid(Math.ceil(cinPG / (4 * tTile.WG_N)), Math.ceil((batch * ph.pixels) / (4 * tTile.WG_M)), groups, maxDim),
          flops: (2 * macs(batch) * rd.r.segs.length * ph.pixels * ph.K) / Math.max(phaseWork, 1),
        }));
      });
      return out;
    },
    destroy() {
      fwBuf?.destroy();
      twBuf.destroy();
      bounds.destroy();
      cm.divideUniforms.destroy();
      for (const st of stabs) {
        st.bias.destroy();
        st.uniforms.destroy();
      }
      for (const rd of reds) rd.uniforms.forEach((u) => u.destroy());
    },
  };
}

const ROWS = 4;
const NB = 8;
const COLS = 4;
const WG = 64;

export async function createDenseBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const layer = c.layer as DenseLayer;
  const { ctx } = c;
  const input = c.inputs[0];
  const { inFeatures: inF, outFeatures: outF } = layer;
  const cm = await common(c, outF);
  const { plan, rule } = cm;
  if (numel(input.shape) !== inF) throw new Error(`layer '${layer.name}': input has ${numel(input.shape)} features, expected ${inF}`);
  // zbox bounds are per channel: spread them over each channel's features (a dense first layer
  // on a C×H×W input sees C blocks of H×W features).
  const perChannel = input.shape.length === 3 ? input.shape[1] * input.shape[2] : 1;
  const channels = input.shape.length === 3 ? input.shape[0] : inF;
  const bounds = ctx.upload(boundsData(rule, perChannel, channels), `${layer.name} zbox bounds`);

  const chunkRows = denseChunkRows(inF, outF, ctx.maxBinding);
  const chunks: { r0: number; rows: number; w: GPUBuffer }[] = [];
  const weight = relevanceWeight(layer, rule);
  for (let r0 = 0; r0 < outF; r0 += chunkRows) {
    const rows = Math.min(chunkRows, outF - r0);
    chunks.push({ r0, rows, w: ctx.upload(weight.subarray(r0 * inF, (r0 + rows) * inF), `${layer.name}.weight[${r0}:${r0 + rows}] (relevance)`) });
  }

  const stabs = await Promise.all(plan.denominators.filter((d): d is StabPass => d.kind === 'stab').map(async (d, i) => {
    const bias = modifyBias(layer.bias, d.bias, plan.gamma);
    return {
      d,
      biases: chunks.map((ch) => ctx.upload(bias.subarray(ch.r0, ch.r0 + ch.rows), `${layer.name} bias (${d.bias})`)),
      pipeline: await denseStab.pipeline(ctx, {
        RELU_IN: readsX(d, input.relu), MODE: d.mode, GATE: d.gate, ...segConstants('IN', d.segs),
      }),
      uniforms: chunks.map((ch, k) => denseStab.uniformsByBatch(ctx, `${layer.name} stab ${i}.${k}`, (batch) => ({
        batch, inF, rows: ch.rows, rowOffset: ch.r0, outF, sliceLen: batch * outF, outSlice: d.slice,
        eps: plan.eps, gamma: plan.gamma, ...coefs(d.segs),
      }))),
    };
  }));

  const reds = await Promise.all(plan.redistributions.map(async (r, i) => ({
    r,
    pipeline: await denseTranspose.pipeline(ctx, {
      RELU_IN: readsX(r, input.relu), OUT: r.out, ACCUMULATE: false, ...segConstants('SLICE', r.segs),
    }),
    pipelineAcc: await denseTranspose.pipeline(ctx, {
      RELU_IN: readsX(r, input.relu), OUT: r.out, ACCUMULATE: true, ...segConstants('SLICE', r.segs),
    }),
    uniforms: chunks.map((ch, k) => denseTranspose.uniformsByBatch(ctx, `${layer.name} transpose ${i}.${k}`, (batch) => ({
      batch, inF, rows: ch.rows, rowOffset: ch.r0, outF, sliceLen: batch * outF, gamma: plan.gamma, ...coefs(r.segs),
    }))),
  })));

  return {
    layer,
    passes: describePlan(plan),
    dispatches(batch, io) {
      const out: Dispatch[] = [];
      const s = sBuffer(cm, batch, io, `${layer.name} s`);
      const x = io.inputs[0].buffer;
      for (const d of plan.denominators) {
        if (d.kind === 'divide') {
          out.push({
            kernel: 'stab_divide', layer: layer.name, pipeline: cm.dividePipeline!,
            bindings: stabDivide.bind({ p: cm.divideUniforms.get(batch), rel: io.relOut, z: io.output.buffer, s }), workgroups: grid1d(cm.sliceLen(batch), 64),
          });
        }
      }
      for (const st of stabs) {
        chunks.forEach((ch, k) => out.push({
          kernel: 'dense_stab', layer: layer.name, pipeline: st.pipeline,
          bindings: denseStab.bind({ p: st.uniforms[k].get(batch), x, w: ch.w, bias: st.biases[k], rel: io.relOut, z: io.output.buffer, bounds, s }),
          workgroups: [Math.ceil(ch.rows / ROWS), Math.ceil(batch / NB), 1],
          flops: 2 * batch * inF * ch.rows * st.d.segs.length,
        }));
      }
      let first = !io.accumulate[0];
      for (const rd of reds) {
        chunks.forEach((ch, k) => {
          out.push({
            kernel: 'dense_transpose', layer: layer.name, pipeline: first ? rd.pipeline : rd.pipelineAcc,
            bindings: denseTranspose.bind({ p: rd.uniforms[k].get(batch), s, w: ch.w, x, bounds, r: io.relIn[0] }),
            workgroups: [Math.ceil(inF / (WG * COLS)), Math.ceil(batch / NB), 1],
            flops: 2 * batch * inF * ch.rows * rd.r.segs.length,
          });
          first = false;
        });
      }
      return out;
    },
    destroy() {
      bounds.destroy();
      cm.divideUniforms.destroy();
      for (const ch of chunks) ch.w.destroy();
      for (const st of stabs) {
        st.biases.forEach((b) => b.destroy());
        st.uniforms.forEach((u) => u.destroy());
      }
      for (const rd of reds) rd.uniforms.forEach((u) => u.destroy());
    },
  };
}

export { In };
