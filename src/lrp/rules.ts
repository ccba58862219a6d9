/**
 * How each rule for convolution and dense layers is computed: a declarative list of GPU passes,
 * in the spirit of zennit's rules (input modifiers, parameter modifiers, a gradient mapper), but
 * laid out for fusion: every term of a denominator is a segment of one GEMM, and terms that share
 * an input factor are segments of one transposed GEMM.
 *
 * Notation of shared/docs/lrp-rules.md: R_i = sum_j c_ij R_j / stab(d_j). For inputs known to be
 * >= 0 (after a ReLU or a pooling of ReLU outputs) the x- terms vanish, and alpha-beta and gamma
 * take their second denominator from the stored forward output z instead of a second GEMM.
 */
import type { LinearRule } from './rule-spec.ts';

/** Input modifier codes, as in shaders/relevance/conv_stab.wgsl. */
export enum In { X = 0, Pos = 1, Neg = 2, Ones = 3, Low = 4, High = 5 }
/** Weight modifier codes. */
export enum W { Id = 0, Pos = 1, Neg = 2, Ones = 3, Square = 4, GammaPos = 5, GammaNeg = 6 }
/** Epilogues of the denominator pass. */
export enum Mode { Divide = 0, AlphaBetaFromZ = 1, GammaFromZ = 2 }
export enum Gate { None = 0, Positive = 1, Negative = 2 }

export type BiasMod = 'none' | 'keep' | 'pos' | 'neg' | 'gamma-pos' | 'gamma-neg' | 'square';

/** A GEMM with modified inputs and weights whose epilogue divides the upper relevance by it. */
export interface StabPass {
  readonly kind: 'stab';
  readonly segs: readonly { readonly in: In; readonly w: W; readonly coef: number }[];
  readonly bias: BiasMod;
  readonly mode: Mode;
  readonly gate: Gate;
  /** Slice of the s buffer written (Mode.Divide); the z-based modes write slices 0 and 1. */
  readonly slice: number;
}

/** s = R / stab(z) element-wise, z the stored forward output: no GEMM at all. */
export interface DividePass { readonly kind: 'divide' }

/** A transposed GEMM redistributing s to the inputs, times an input factor. */
export interface RedistributePass {
  readonly segs: readonly { readonly slice: number; readonly w: W; readonly coef: number }[];
  readonly out: In;
}

export interface LinearPlan {
  /** Slices of s the denominators produce; 0 means s is the upper relevance itself (gradient). */
  readonly slices: number;
  readonly denominators: readonly (StabPass | DividePass)[];
  readonly redistributions: readonly RedistributePass[];
  readonly eps: number;
  readonly gamma: number;
}

const stab = (segs: StabPass['segs'], bias: BiasMod, extra: Partial<StabPass> = {}): StabPass => ({
  kind: 'stab', segs, bias, mode: Mode.Divide, gate: Gate.None, slice: 0, ...extra,
});

/** The passes of `rule` on a layer whose input is (`nonneg`) or may be (`!nonneg`) negative. */
export function planLinearRule(rule: LinearRule, nonneg: boolean): LinearPlan {
  switch (rule.rule) {
    case 'gradient':
    case 'pattern':
      // The pattern's weights A * W take W's place (src/lrp/ops/linear.ts relevanceWeight).
      return { slices: 0, denominators: [], redistributions: [{ segs: [{ slice: 0, w: W.Id, coef: 1 }], out: In.Ones }], eps: 0, gamma: 0 };
    case 'z':
    case 'epsilon':
      return {
        slices: 1,
        denominators: [{ kind: 'divide' }],
        redistributions: [{ segs: [{ slice: 0, w: W.Id, coef: 1 }], out: In.X }],
        eps: rule.rule === 'z' ? rule.stabilizer : rule.epsilon,
        gamma: 0,
      };
    case 'zplus':
      return alphaBeta(1, 0, rule.stabilizer, nonneg);
    case 'alpha-beta':
      return alphaBeta(rule.alpha, rule.beta, rule.stabilizer, nonneg);
    case 'gamma':
      return gamma(rule.gamma, rule.stabilizer, nonneg);
    case 'flat':
      return {
        slices: 1,
        denominators: [stab([{ in: In.Ones, w: W.Ones, coef: 1 }], 'none')],
        redistributions: [{ segs: [{ slice: 0, w: W.Ones, coef: 1 }], out: In.Ones }],
        eps: rule.stabilizer, gamma: 0,
      };
    case 'wsquare':
      return {
        slices: 1,
        denominators: [stab([{ in: In.Ones, w: W.Square, coef: 1 }], 'square')],
        redistributions: [{ segs: [{ slice: 0, w: W.Square, coef: 1 }], out: In.Ones }],
        eps: rule.stabilizer, gamma: 0,
      };
    case 'zbox':
      // d = z(x, w) - z(l, w+) - z(h, w-): the bias cancels (b - b+ - b- = 0).
      return {
        slices: 1,
        denominators: [stab([
          { in: In.X, w: W.Id, coef: 1 }, { in: In.Low, w: W.Pos, coef: -1 }, { in: In.High, w: W.Neg, coef: -1 },
        ], 'none')],
        redistributions: [
          { segs: [{ slice: 0, w: W.Id, coef: 1 }], out: In.X },
          { segs: [{ slice: 0, w: W.Pos, coef: -1 }], out: In.Low },
          { segs: [{ slice: 0, w: W.Neg, coef: -1 }], out: In.High },
        ],
        eps: rule.stabilizer, gamma: 0,
      };
  }
}

function alphaBeta(alpha: number, beta: number, eps: number, nonneg: boolean): LinearPlan {
  if (nonneg) {
    // p = x W+ + b+ by one GEMM; n = z - p from the stored output (x W- + b- = z - p).
    return {
      slices: beta === 0 ? 1 : 2,
      denominators: [stab([{ in: In.X, w: W.Pos, coef: 1 }], 'pos', beta === 0 ? {} : { mode: Mode.AlphaBetaFromZ })],
      redistributions: [{
        segs: beta === 0
          ? [{ slice: 0, w: W.Pos, coef: alpha }]
          : [{ slice: 0, w: W.Pos, coef: alpha }, { slice: 1, w: W.Neg, coef: -beta }],
        out: In.X,
      }],
      eps, gamma: 0,
    };
  }
  // Signed inputs, zennit's four terms: p = x+ W+ + x- W- + b+, n = x+ W- + x- W+ + b-.
  const denominators: StabPass[] = [stab([{ in: In.Pos, w: W.Pos, coef: 1 }, { in: In.Neg, w: W.Neg, coef: 1 }], 'pos')];
  if (beta !== 0) denominators.push(stab([{ in: In.Pos, w: W.Neg, coef: 1 }, { in: In.Neg, w: W.Pos, coef: 1 }], 'neg', { slice: 1 }));
  const pos = [{ slice: 0, w: W.Pos, coef: alpha }];
  const neg = [{ slice: 0, w: W.Neg, coef: alpha }];
  if (beta !== 0) {
    pos.push({ slice: 1, w: W.Neg, coef: -beta });
    neg.push({ slice: 1, w: W.Pos, coef: -beta });
  }
  return {
    slices: denominators.length, denominators,
    redistributions: [{ segs: pos, out: In.Pos }, { segs: neg, out: In.Neg }],
    eps, gamma: 0,
  };
}

function gamma(g: number, eps: number, nonneg: boolean): LinearPlan {
  if (nonneg) {
    // For z > 0: d = z + g p; for z < 0: d = z + g (z - p); p = x W+ + b+ by one GEMM.
    return {
      slices: 2,
      denominators: [stab([{ in: In.X, w: W.Pos, coef: 1 }], 'pos', { mode: Mode.GammaFromZ })],
      redistributions: [{ segs: [{ slice: 0, w: W.GammaPos, coef: 1 }, { slice: 1, w: W.GammaNeg, coef: 1 }], out: In.X }],
      eps, gamma: g,
    };
  }
  return {
    slices: 2,
    denominators: [
      stab([{ in: In.Pos, w: W.GammaPos, coef: 1 }, { in: In.Neg, w: W.GammaNeg, coef: 1 }], 'gamma-pos', { gate: Gate.Positive }),
      stab([{ in: In.Pos, w: W.GammaNeg, coef: 1 }, { in: In.Neg, w: W.GammaPos, coef: 1 }], 'gamma-neg', { gate: Gate.Negative, slice: 1 }),
    ],
    redistributions: [
      { segs: [{ slice: 0, w: W.GammaPos, coef: 1 }, { slice: 1, w: W.GammaNeg, coef: 1 }], out: In.Pos },
      { segs: [{ slice: 0, w: W.GammaNeg, coef: 1 }, { slice: 1, w: W.GammaPos, coef: 1 }], out: In.Neg },
    ],
    eps, gamma: g,
  };
}

/** The rule's bias term as the denominator GEMM adds it. */
export function modifyBias(b: Float32Array, mod: BiasMod, g: number): Float32Array {
  const f: Record<BiasMod, (v: number) => number> = {
    none: () => 0,
    keep: (v) => v,
    pos: (v) => Math.max(v, 0),
    neg: (v) => Math.min(v, 0),
    'gamma-pos': (v) => v + g * Math.max(v, 0),
    'gamma-neg': (v) => v + g * Math.min(v, 0),
    square: (v) => v * v,
  };
  return Float32Array.from(b, f[mod]);
}

/** Forward-pass equivalents of multiply-adds the plan costs (a GEMM segment counts one). */
export function planCost(plan: LinearPlan): { stab: number; transpose: number } {
  const stabCost = plan.denominators.reduce((c, d) => c + (d.kind === 'stab' ? d.segs.length : 0), 0);
  const transpose = plan.redistributions.reduce((c, r) => c + r.segs.length, 0);
  return { stab: stabCost, transpose };
}

export function describePlan(plan: LinearPlan): string {
  const { stab: s, transpose: t } = planCost(plan);
  const divides = plan.denominators.filter((d) => d.kind === 'divide').length;
  const parts: string[] = [];
  if (s) parts.push(`${s} forward-equivalent${s > 1 ? 's' : ''} for denominators`);
  if (divides) parts.push('an element-wise divide by the stored output');
  parts.push(`${t} transposed-equivalent${t > 1 ? 's' : ''} in ${plan.redistributions.length} pass${plan.redistributions.length > 1 ? 'es' : ''}`);
  return parts.join(' + ');
}
