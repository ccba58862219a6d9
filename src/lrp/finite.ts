/**
 * Non-finite relevance is an error naming the layer whose rule first produced it: the relevance
 * pass is run again over the batch and the relevance at every layer's inputs read back, from the
 * output towards the input (forward/finite.ts does the same for the forward pass).
 */
import type { Activations } from '../forward/model.ts';
import { firstNonFinite, NonFiniteError } from '../forward/finite.ts';
import type { GpuContext } from '../gpu/context.ts';
import { numel, valueInfo, type Graph } from '../graph/ir.ts';
import { ruleLabel, type LayerRule } from './rule-spec.ts';

/**
 * What the diagnosis needs of an explainer, as a structural type: the explainer calls this module,
 * so importing its class here would tie the two files in a circle.
 */
export interface RelevanceProbe<Options> {
  readonly graph: Graph;
  readonly ctx: GpuContext;
  readonly composite: { readonly name: string; readonly rules: ReadonlyMap<string, LayerRule> };
  relevanceOnGpu(acts: Activations, opts: Options): Promise<{ readonly perValue: ReadonlyMap<string, GPUBuffer>; release(): void }>;
}

export async function nonFiniteRelevanceError<Options>(explainer: RelevanceProbe<Options>, acts: Activations, opts: Options, context = ''): Promise<NonFiniteError> {
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
