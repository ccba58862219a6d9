/**
 * One composite on the GPU against the float64 oracle of test/reference/relevance.ts, for the
 * kind tests that check a small graph under many composites: the composite is resolved on the
 * graph, the oracle computes the relevance of `x` for `targets` (init `logit`), and the GPU
 * explains the same forward pass (`acts`), its explainer destroyed afterwards.
 */
import type { Activations, ForwardModel } from '../../src/forward/model.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { parseComposite, resolveComposite } from '../../src/lrp/composite.ts';
import { Explainer } from '../../src/lrp/explainer.ts';
import { relL2 } from './gpu.ts';
import { referenceExplain } from '../reference/relevance.ts';

export interface OracleComparison {
  /** Relative L2 of the GPU's input relevance against the oracle's. */
  readonly err: number;
  readonly relevance: Float32Array;
  readonly want: Float64Array;
}

export async function againstOracle(
  fm: ForwardModel, acts: Activations, graph: Graph, name: string, spec: unknown,
  x: Float64Array, batch: number, targets: readonly number[],
): Promise<OracleComparison> {
  const resolved = resolveComposite(parseComposite(spec, name), graph);
  const want = referenceExplain(graph, resolved.rules, resolved.method, x, batch, targets, 'logit');
  const explainer = await Explainer.create(fm, resolved);
  try {
    const { relevance } = await explainer.explainActivations(acts, { targets: [...targets], init: 'logit' });
    return { err: relL2(relevance, want), relevance, want };
  } finally {
    explainer.destroy();
  }
}
