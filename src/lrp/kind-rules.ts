/**
 * What a composite may do with each layer kind (the graph's facts are in src/graph/kinds.ts, the
 * backward ops in src/lrp/ops/index.ts): the rules an entry may give it, the rule it gets when no
 * entry selects it, its rule under each gradient method, and the kind selector that picks it.
 */
import type { LayerKind } from '../graph/ir.ts';
import type { LayerRule, Method } from './rule-spec.ts';
import { LINEAR_RULES } from './rule-spec.ts';

/** Selectors that pick layers by kind (shared/docs/composite-spec.md); they may match nothing. */
export const KIND_SELECTORS = ['conv', 'dense', 'linear', 'maxpool', 'avgpool', 'relu', 'lrn', 'add', 'layernorm', 'matmul'] as const;
export type KindSelector = (typeof KIND_SELECTORS)[number];

/** Rule names an entry may give (composite-spec.md); `gradient` and `guided` only come with methods. */
export const ENTRY_RULES = [...LINEAR_RULES, 'winner', 'proportional', 'norm', 'pass'] as const;
export type EntryRuleName = (typeof ENTRY_RULES)[number];

export interface KindRules {
  /** The kind selector that picks this kind (besides `linear`, which picks conv and dense), if any. */
  readonly selector: Exclude<KindSelector, 'linear'> | null;
  /** The rules a composite entry may give a layer of this kind. */
  readonly rules: readonly EntryRuleName[];
  /** Its rule when no entry selects it. */
  defaultRule(stabilizer: number): LayerRule;
  /** Its rule under a gradient method (its true derivative, or guided backprop's ReLU). */
  methodRule(method: Method): LayerRule;
}

const pass = (): LayerRule => ({ rule: 'pass' });
const gradient = (): LayerRule => ({ rule: 'gradient' });
const z = (stabilizer: number): LayerRule => ({ rule: 'z', stabilizer });
const norm = (stabilizer: number): LayerRule => ({ rule: 'norm', stabilizer });
const AVGPOOL_RULES: readonly EntryRuleName[] = ['norm', 'flat'];

export const KIND_RULES: { readonly [K in LayerKind]: KindRules } = {
  conv: { selector: 'conv', rules: LINEAR_RULES, defaultRule: z, methodRule: gradient },
  dense: { selector: 'dense', rules: LINEAR_RULES, defaultRule: z, methodRule: gradient },
  // The gradient of max pooling routes to the winner.
  maxpool: { selector: 'maxpool', rules: ['winner', 'proportional'], defaultRule: () => ({ rule: 'winner' }), methodRule: () => ({ rule: 'winner' }) },
  avgpool: { selector: 'avgpool', rules: AVGPOOL_RULES, defaultRule: norm, methodRule: gradient },
  globalavgpool: { selector: 'avgpool', rules: AVGPOOL_RULES, defaultRule: norm, methodRule: gradient },
  relu: {
    selector: 'relu', rules: ['pass'], defaultRule: pass,
    methodRule: (method) => (method === 'guided-backprop' ? { rule: 'guided' } : { rule: 'gradient' }),
  },
  lrn: { selector: 'lrn', rules: ['pass'], defaultRule: pass, methodRule: gradient },
  // Nothing to choose: their derivative is the identity, shape-mapped, in the methods too.
  flatten: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  identity: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  concat: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  // Residual networks (lrp-rules.md): the skip sum's norm takes the composite's stabilizer (zennit's
  // Sum + Norm); standalone BatchNorm, Clip and LeakyRelu pass relevance and have their true
  // derivative in the methods (guided backprop changes only ReLU); a Pad's derivative is the crop.
  add: { selector: 'add', rules: ['norm'], defaultRule: norm, methodRule: gradient },
  batchnorm: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  clip: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  leakyrelu: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  pad: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  // Modern CNNs (lrp-rules.md, "Modern CNNs and vision transformers"): activations, the gate (its
  // factor g held constant) and a scale by a constant pass relevance, and take their true
  // derivative in the methods (guided backprop changes only ReLU). No kind selector: `pass` is the
  // only rule the rules document gives them, so there is nothing for a composite to choose.
  sigmoid: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  tanh: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  hardsigmoid: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  silu: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  hardswish: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  gate: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  scale: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  // Transformers (lrp-rules.md; src/lrp/ops/attention.ts): slices, gathers and the class token's
  // concatenation map relevance by shape (the constant's share dropped), in the methods too; the
  // positional embedding is a bias (`norm`: x R / stab(x + c)), its gradient the identity. A
  // product of two activations holds its first factor constant (CP-LRP: A in A v, and q in q k^T,
  // which nothing reaches anyway): the z rule of the map b -> a b, or epsilon, with the `matmul`
  // selector for a user who wants the latter; `linear` and `dense` never pick it. The softmax passes
  // what reaches it, which under CP-LRP is nothing (A v holds A constant).
  slice: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  gather: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  concatconst: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  addconst: { selector: null, rules: ['norm'], defaultRule: norm, methodRule: pass },
  matmul: { selector: 'matmul', rules: ['z', 'epsilon'], defaultRule: z, methodRule: gradient },
  softmax: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  // ---- Channels-last and token layouts (transformers, ConvNeXt) ----
  // lrp-rules.md: transposes and reshapes pass relevance shape-mapped; their derivative is the
  // same map, so the methods take it too.
  transpose: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  reshape: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: pass },
  // LayerNorm (lrp-rules.md): `norm`, the deviation held constant and the composite's stabilizer
  // in stab(y), is the default; `pass` (R_x = R_y, the identity LXT and zennit-style composites
  // give normalisations) is the alternative a composite may choose with the `layernorm` selector.
  layernorm: { selector: 'layernorm', rules: ['norm', 'pass'], defaultRule: norm, methodRule: gradient },
  // GELU (lrp-rules.md, LXT's identity): an activation like the others, `pass` under LRP, its true
  // derivative in the methods.
  gelu: { selector: null, rules: ['pass'], defaultRule: pass, methodRule: gradient },
  // ---- end of the channels-last block ----
  // Import-only kinds: the canonizer removes them before any composite is bound.
  bias: { selector: null, rules: [], defaultRule: notCanonized('bias'), methodRule: notCanonized('bias') },
};

function notCanonized(kind: LayerKind): () => never {
  return () => {
    throw new Error(`internal: a ${kind} layer should have been removed by the canonizer before binding a composite`);
  };
}
