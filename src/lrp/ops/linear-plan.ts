/**
 * What the relevance ops of convolutions (conv-backward.ts) and dense layers (dense-backward.ts)
 * share: a rule's plan (rules.ts) bound to pipeline constants, uniforms, zbox bounds and the s
 * buffer between the denominator and the redistribution passes.
 */
import type { Dispatch } from '../../gpu/context.ts';
import { grid1d } from '../../gpu/grid.ts';
import type { UniformsByBatch } from '../../gpu/uniforms.ts';
import { stabDivide } from '../../kernels/linear-relevance.ts';
import type { BackwardIO, BackwardOpContext } from '../backward-op.ts';
import type { ConvLayer, DenseLayer } from '../../graph/ir.ts';
import type { LinearRule } from '../rule-spec.ts';
import { In, planLinearRule, type LinearPlan, type RedistributePass, type StabPass } from '../rules.ts';

/** A denominator pass's rule fields of the uniform (see stabRule in src/kernels/linear-relevance.ts). */
export function stabRule(pass: StabPass, relu: boolean) {
  return {
    reluIn: readsX(pass, relu) ? 1 : 0, segs: pass.segs.length, mode: pass.mode, gate: pass.gate,
    inCode: lanes(pass.segs.map((s) => s.in)), wCode: lanes(pass.segs.map((s) => s.w)), coef: lanes(pass.segs.map((s) => s.coef)),
  };
}

/** A redistribution pass's rule fields of the uniform; `accumulate`: it adds into R. */
export function transposeRule(pass: RedistributePass, relu: boolean, accumulate: boolean) {
  return {
    reluIn: readsX(pass, relu) ? 1 : 0, out: pass.out, accumulate: accumulate ? 1 : 0, segs: pass.segs.length,
    slice: lanes(pass.segs.map((s) => s.slice)), wCode: lanes(pass.segs.map((s) => s.w)), coef: lanes(pass.segs.map((s) => s.coef)),
  };
}

/** Per-segment values as a vec4 (at most 3 segments; the rest 0). */
function lanes(v: readonly number[]): number[] {
  if (v.length > 3) throw new Error(`internal: ${v.length} segments, the kernels take at most 3`);
  return [0, 1, 2, 3].map((i) => v[i] ?? 0);
}

/**
 * Whether a pass reads x through the input's ReLU view: false where it only reads ones or zbox
 * bounds (flat, wsquare, the gradient's transposed pass).
 */
function readsX(pass: StabPass | RedistributePass, relu: boolean): boolean {
  const usesX = (m: In): boolean => m === In.X || m === In.Pos || m === In.Neg;
  return relu && ('kind' in pass ? pass.segs.some((sg) => usesX(sg.in)) : usesX(pass.out));
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
  /** Bytes per sample of the s buffer (BackwardOp.scratchPerSample). */
  scratchPerSample: number;
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
    scratchPerSample: 4 * plan.slices * outCount,
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

/** The plan's division passes (z, epsilon: s = R / stab(z) from the stored forward output) into `s`. */
export function divideDispatches(cm: Common, layer: string, batch: number, io: BackwardIO, s: GPUBuffer): Dispatch[] {
  return cm.plan.denominators.filter((d) => d.kind === 'divide').map(() => ({
    kernel: 'stab_divide', layer, pipeline: cm.dividePipeline!,
    bindings: stabDivide.bind({ p: cm.divideUniforms.get(batch), rel: io.relOut, z: io.output.buffer, s }), workgroups: grid1d(cm.sliceLen(batch), 64),
  }));
}

export { checkAccumulate } from '../backward-op.ts';


/**
 * The weight the redistribution reads: the layer's W, or for PatternAttribution A * W
 * element-wise, A the learned pattern in the IR's weight layout. This is the one place where a
 * pattern meets the weights. `key` names it in the model's WeightStore: the product is one more
 * shared layout, keyed by the pattern set's digest, so analyzers with the same patterns share it.
 * `weight()` builds the product only when called (inside a WeightStore build, so only when no
 * holder has the layout yet): VGG-16's products are as large as its weights.
 */
export function relevanceWeight(layer: ConvLayer | DenseLayer, rule: LinearRule): { weight: () => Float32Array; key: string } {
  if (rule.rule !== 'pattern') return { weight: () => layer.weight, key: '' };
  const a = rule.pattern;
  const w = layer.weight;
  if (a.length !== w.length) throw new Error(`layer '${layer.name}': its pattern has ${a.length} values, its weight ${w.length}`);
  return {
    key: ` pattern ${rule.digest}`,
    weight: () => {
      const out = new Float32Array(w.length);
      for (let i = 0; i < w.length; i++) out[i] = w[i] * a[i];
      return out;
    },
  };
}
