/**
 * The relevance step of each layer kind (what a composite may choose is in src/lrp/kind-rules.ts):
 * the backward op its rule runs, or none where relevance passes through unchanged (the executor
 * then shares the buffer, or adds where the value fans out).
 */
import type { ConvLayer, Layer, LayerKind } from '../../graph/ir.ts';
import type { BackwardOp, BackwardOpContext } from '../backward-op.ts';
import type { LayerRule } from '../rule-spec.ts';
import { createActivationGradient, createGateGradient } from './activation.ts';
import { createAddConstBackward, createMatMulBackward, createSoftmaxGradient, createWindowBackward } from './attention.ts';
import { createConcatBackward, createReluBackward } from './elementwise.ts';
import { createDepthwiseBackward } from './depthwise-backward.ts';
import { depthwiseBlocker } from '../../forward/depthwise.ts';
import { createDenseBackward } from './dense-backward.ts';
import { createLayerNormBackward } from './layernorm.ts';
import { createLrnBackward } from './lrn.ts';
import { createAddBackward, createPadBackward, createPointwiseGradient } from './pointwise.ts';
import { createAvgPoolBackward, createMaxPoolBackward } from './pool.ts';
import { createTransposeBackward } from './transpose.ts';
import { createConvRelevance } from './winograd-relevance.ts';

export interface BackwardKind {
  /** Whether relevance passes through a layer of this kind unchanged under `rule` (no op is built). */
  passThrough(rule: LayerRule | null): boolean;
  /** The op for the other rules; null where the kind always passes relevance through. */
  readonly create: ((c: BackwardOpContext) => Promise<BackwardOp>) | null;
}

const always: BackwardKind['passThrough'] = () => true;
const never: BackwardKind['passThrough'] = () => false;
/**
 * ReLU, LRN, BatchNorm, Clip, LeakyRelu, the activations, the gate and a scale pass relevance through
 * under LRP's `pass` (the default), not under the gradient.
 */
const unlessRule: BackwardKind['passThrough'] = (rule) => !rule || rule.rule === 'pass';

export const BACKWARD_KINDS: { readonly [K in LayerKind]: BackwardKind } = {
  // Depthwise layers by their direct kernels where they fit them (src/forward/depthwise.ts).
  conv: { passThrough: never, create: (c) => (depthwiseBlocker(c.layer as ConvLayer) === null ? createDepthwiseBackward(c) : createConvRelevance(c)) },
  dense: { passThrough: never, create: createDenseBackward },
  maxpool: { passThrough: never, create: createMaxPoolBackward },
  avgpool: { passThrough: never, create: createAvgPoolBackward },
  globalavgpool: { passThrough: never, create: createAvgPoolBackward },
  lrn: { passThrough: unlessRule, create: createLrnBackward },
  relu: { passThrough: unlessRule, create: createReluBackward },
  concat: { passThrough: never, create: createConcatBackward },
  flatten: { passThrough: always, create: null },
  identity: { passThrough: always, create: null },
  add: { passThrough: never, create: createAddBackward },
  batchnorm: { passThrough: unlessRule, create: createPointwiseGradient },
  clip: { passThrough: unlessRule, create: createPointwiseGradient },
  leakyrelu: { passThrough: unlessRule, create: createPointwiseGradient },
  // The crop under every rule: relevance at the padding is dropped.
  pad: { passThrough: never, create: createPadBackward },
  // Modern CNNs (lrp-rules.md): activations and a scale pass relevance (their derivative in the
  // methods); the gate passes it to x alone, its first input, as the executor's pass-through does,
  // so nothing reaches the gate's branch.
  sigmoid: { passThrough: unlessRule, create: createActivationGradient },
  tanh: { passThrough: unlessRule, create: createActivationGradient },
  hardsigmoid: { passThrough: unlessRule, create: createActivationGradient },
  silu: { passThrough: unlessRule, create: createActivationGradient },
  hardswish: { passThrough: unlessRule, create: createActivationGradient },
  gate: { passThrough: unlessRule, create: createGateGradient },
  scale: { passThrough: unlessRule, create: createPointwiseGradient },
  // Transformers (src/lrp/ops/attention.ts): shape-mapped copies under every rule; the positional
  // embedding's gradient is the identity; the softmax passes under LRP.
  slice: { passThrough: never, create: createWindowBackward },
  gather: { passThrough: never, create: createWindowBackward },
  concatconst: { passThrough: never, create: createWindowBackward },
  addconst: { passThrough: (rule) => rule?.rule === 'pass', create: createAddConstBackward },
  matmul: { passThrough: never, create: createMatMulBackward },
  softmax: { passThrough: unlessRule, create: createSoftmaxGradient },
  // ---- Channels-last and token layouts (transformers, ConvNeXt) ----
  // A transpose moves relevance back by the inverse permutation under every rule; a reshape is a
  // view (same data), so relevance passes through its buffer unchanged.
  transpose: { passThrough: never, create: createTransposeBackward },
  reshape: { passThrough: always, create: null },
  // LayerNorm: `norm` (the deviation held constant) and the gradient run a kernel; `pass` none.
  layernorm: { passThrough: unlessRule, create: createLayerNormBackward },
  gelu: { passThrough: unlessRule, create: createActivationGradient },
  // ---- end of the channels-last block ----
  bias: { passThrough: never, create: null },
};

/** Layers whose relevance is their output's, unchanged: the executor builds no op for them. */
export function isPassThrough(layer: Layer, rule: LayerRule | null): boolean {
  return BACKWARD_KINDS[layer.kind].passThrough(rule);
}

export function createBackwardOp(c: BackwardOpContext): Promise<BackwardOp> {
  const { create } = BACKWARD_KINDS[c.layer.kind];
  if (!create) throw new Error(`layer '${c.layer.name}' (${c.layer.kind}) has no relevance kernel`);
  return create(c);
}
