/**
 * How the forward pass runs each layer kind (the graph's facts are in src/graph/kinds.ts): as a
 * view of its input, which stores nothing and runs nothing (`relu` marks the view as read through
 * max(x, 0), see TensorRef), or by the op its factory builds once per model.
 */
import type { LayerKind } from '../graph/ir.ts';
import type { LayerOf } from '../graph/kinds.ts';
import { createActivation, createGate } from './activation.ts';
import { createAddConst, createConcatConst, createMatMul, createSlice, createSoftmax } from './attention.ts';
import { createConcat } from './concat.ts';
import { createConv } from './conv-op.ts';
import { createDense } from './dense.ts';
import { createLayerNorm } from './layernorm.ts';
import { createLrn } from './lrn.ts';
import type { ForwardOpFactory } from './op.ts';
import { createAdd, createPad, createPointwise } from './pointwise.ts';
import { createAvgPool, createMaxPool } from './pool.ts';
import { createTranspose } from './transpose.ts';

export type ForwardKind<L extends LayerOf<LayerKind>> =
  | { readonly view: 'same' | 'relu' }
  | { readonly view: false; readonly create: ForwardOpFactory<L> };

export const FORWARD_KINDS: { readonly [K in LayerKind]: ForwardKind<LayerOf<K>> } = {
  conv: { view: false, create: createConv },
  dense: { view: false, create: createDense },
  relu: { view: 'relu' },
  maxpool: { view: false, create: createMaxPool },
  avgpool: { view: false, create: createAvgPool },
  globalavgpool: { view: false, create: createAvgPool },
  lrn: { view: false, create: createLrn },
  flatten: { view: 'same' },
  identity: { view: 'same' },
  concat: { view: false, create: createConcat },
  add: { view: false, create: createAdd },
  batchnorm: { view: false, create: createPointwise },
  clip: { view: false, create: createPointwise },
  leakyrelu: { view: false, create: createPointwise },
  pad: { view: false, create: createPad },
  sigmoid: { view: false, create: createActivation },
  tanh: { view: false, create: createActivation },
  hardsigmoid: { view: false, create: createActivation },
  silu: { view: false, create: createActivation },
  hardswish: { view: false, create: createActivation },
  gate: { view: false, create: createGate },
  scale: { view: false, create: createPointwise },
  slice: { view: false, create: createSlice },
  gather: { view: false, create: createSlice },
  concatconst: { view: false, create: createConcatConst },
  addconst: { view: false, create: createAddConst },
  matmul: { view: false, create: createMatMul },
  softmax: { view: false, create: createSoftmax },
  // ---- Channels-last and token layouts (transformers, ConvNeXt) ----
  transpose: { view: false, create: createTranspose },
  // Row-major per sample: any reshape keeps every value where it is.
  reshape: { view: 'same' },
  layernorm: { view: false, create: createLayerNorm },
  gelu: { view: false, create: createActivation },
  // ---- end of the channels-last block ----
  bias: { view: false, create: notCanonized },
};

/** The factory of the import-only kinds: they never reach the forward pass of a canonized graph. */
async function notCanonized(_ctx: unknown, layer: { name: string; kind: string }): Promise<never> {
  throw new Error(`layer '${layer.name}': ${layer.kind} has no forward kernel (the canonizer removes it: run canonize() on an imported graph)`);
}

export function forwardKind(layer: { readonly kind: LayerKind }): ForwardKind<LayerOf<LayerKind>> {
  return FORWARD_KINDS[layer.kind] as ForwardKind<LayerOf<LayerKind>>;
}
