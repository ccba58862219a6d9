/**
 * How the forward pass runs each layer kind (the graph's facts are in src/graph/kinds.ts): as a
 * view of its input, which stores nothing and runs nothing (`relu` marks the view as read through
 * max(x, 0), see TensorRef), or by the op its factory builds once per model.
 */
import type { LayerKind } from '../graph/ir.ts';
import type { LayerOf } from '../graph/kinds.ts';
import { createConcat } from './concat.ts';
import { createConv } from './conv.ts';
import { createDense } from './dense.ts';
import { createLrn } from './lrn.ts';
import type { ForwardOpFactory } from './op.ts';
import { createAvgPool, createMaxPool } from './pool.ts';

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
};

export function forwardKind(layer: { readonly kind: LayerKind }): ForwardKind<LayerOf<LayerKind>> {
  return FORWARD_KINDS[layer.kind] as ForwardKind<LayerOf<LayerKind>>;
}
