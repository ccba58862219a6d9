/**
 * Non-finite relevance is an error naming the layer whose rule first produced it: the relevance
 * pass is run again over the batch and the relevance at every layer's inputs read back, from the
 * output towards the input (forward/finite.ts does the same for the forward pass).
 */
import type { Activations } from '../forward/model.ts';
import { firstNonFinite, NonFiniteError } from '../forward/finite.ts';
import { numel, valueInfo } from '../graph/ir.ts';
import { ruleLabel, type Explainer, type ExplainOptions } from './explainer.ts';

export async function nonFiniteRelevanceError(explainer: Explainer, acts: Activations, opts: ExplainOptions, context = ''): Promise<NonFiniteError> {
  const { graph, ctx } = explainer;
  const r = await explainer.relevanceOnGpu(acts, opts);
  const prefix = `${graph.name}: ${explainer.composite.name}${context ? ` (${context})` : ''}`;
  try {
    for (let li = graph.layers.length - 1; li >= 0; li--) {
      const layer = graph.layers[li];
      for (const input of layer.inputs) {
        const buf = r.perValue.get(input);
        if (!buf) continue;
        const per = input === graph.input.name ? numel(graph.input.shape) : numel(valueInfo(graph, input).shape);
        const data = await ctx.readF32(buf, 0, acts.batch * per, `reading the relevance at '${input}'`);
        const i = firstNonFinite(data);
        if (i < 0) continue;
        const rule = explainer.composite.rules.get(layer.name);
        return new NonFiniteError(`${prefix}: the relevance becomes non-finite at layer '${layer.name}' (${layer.kind}${rule ? `, rule ${ruleLabel(rule)}` : ''}): `
          + `${data[i]} in the relevance of its input, sample ${Math.floor(i / per)}; the relevance reaching it is finite`, layer.name);
      }
    }
    return new NonFiniteError(`${prefix}: the input relevance holds non-finite values, but no layer's relevance does`, null);
  } finally {
    r.release();
  }
}
