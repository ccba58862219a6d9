import type { Layer } from '../../graph/ir.ts';
import type { BackwardOp, BackwardOpContext } from '../backward-op.ts';
import type { LayerRule } from '../rule-spec.ts';
import { createConcatBackward, createReluBackward } from './elementwise.ts';
import { createConvBackward, createDenseBackward } from './linear.ts';
import { createLrnBackward } from './lrn.ts';
import { createAddBackward, createPadBackward, createPointwiseGradient } from './pointwise.ts';
import { createAvgPoolBackward, createMaxPoolBackward } from './pool.ts';

/**
 * Layers whose relevance is their output's, unchanged: the executor shares the buffer (or adds,
 * where the value fans out) instead of running a kernel.
 */
export function isPassThrough(layer: Layer, rule: LayerRule | null): boolean {
  switch (layer.kind) {
    case 'identity':
    case 'flatten':
      return true;
    case 'relu':
    case 'lrn':
    case 'batchnorm':
    case 'clip':
    case 'leakyrelu':
      return !rule || rule.rule === 'pass';
    default:
      return false;
  }
}

export function createBackwardOp(c: BackwardOpContext): Promise<BackwardOp> {
  switch (c.layer.kind) {
    case 'conv': return createConvBackward(c);
    case 'dense': return createDenseBackward(c);
    case 'maxpool': return createMaxPoolBackward(c);
    case 'avgpool':
    case 'globalavgpool': return createAvgPoolBackward(c);
    case 'lrn': return createLrnBackward(c);
    case 'relu': return createReluBackward(c);
    case 'concat': return createConcatBackward(c);
    case 'add': return createAddBackward(c);
    case 'batchnorm':
    case 'clip':
    case 'leakyrelu': return createPointwiseGradient(c);
    case 'pad': return createPadBackward(c);
    default: throw new Error(`layer '${c.layer.name}' (${c.layer.kind}) has no relevance kernel`);
  }
}
