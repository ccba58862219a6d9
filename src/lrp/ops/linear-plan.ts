/**
 * What the relevance ops of convolutions (conv-backward.ts) and dense layers (dense-backward.ts)
 * share: a rule's plan (rules.ts) bound to pipeline constants, uniforms, zbox bounds and the s
 * buffer between the denominator and the redistribution passes.
 */
import type { UniformsByBatch } from '../../gpu/uniforms.ts';
import { stabDivide } from '../../kernels/linear-relevance.ts';
import type { BackwardIO, BackwardOpContext } from '../backward-op.ts';
import type { LinearRule } from '../rule-spec.ts';
import { In, planLinearRule, type LinearPlan, type RedistributePass, type StabPass } from '../rules.ts';

export function segConstants(prefix: 'IN' | 'SLICE', segs: readonly { w: number; in?: number; slice?: number }[]) {
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
export function readsX(pass: StabPass | RedistributePass, relu: boolean): boolean {
  const usesX = (m: In): boolean => m === In.X || m === In.Pos || m === In.Neg;
  return relu && ('kind' in pass ? pass.segs.some((sg) => usesX(sg.in)) : usesX(pass.out));
}

export function coefs(segs: readonly { coef: number }[]): { coef0: number; coef1: number; coef2: number } {
  return { coef0: segs[0]?.coef ?? 0, coef1: segs[1]?.coef ?? 0, coef2: segs[2]?.coef ?? 0 };
}

/** zbox bounds per input channel (conv) or feature (dense), low then high; a dummy otherwise. */
export function boundsData(rule: LinearRule, perChannel: number, channels: number): Float32Array {
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

export interface Common {
  plan: LinearPlan;
  sliceLen: (batch: number) => number;
  dividePipeline: GPUComputePipeline | null;
  divideUniforms: UniformsByBatch;
}

export async function common(c: BackwardOpContext, outCount: number): Promise<Common & { rule: LinearRule }> {
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
export function sBuffer(cm: Common, batch: number, io: BackwardIO, label: string): GPUBuffer {
  if (cm.plan.slices === 0) return io.relOut;
  return io.scratch(4 * cm.plan.slices * cm.sliceLen(batch), label);
}

