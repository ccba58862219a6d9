/**
 * Non-finite relevance is an error naming the layer whose rule first produced it: the relevance
 * pass is run again over the batch and the relevance at every layer's inputs read back, from the
 * output towards the input (forward/finite.ts does the same for the forward pass). A batch over
 * the explainer's `maxBatch` is run again chunk by chunk, as the pass itself ran it.
 */
import type { Activations } from '../forward/model.ts';
import { firstNonFinite, NonFiniteError } from '../forward/finite.ts';
import { selectSamples } from '../forward/select.ts';
import type { GpuContext } from '../gpu/context.ts';
import { numel, valueInfo, type Graph } from '../graph/ir.ts';
import { ruleLabel, type LayerRule } from './rule-spec.ts';
import { targetsOf, type Target } from './targets.ts';

/** The options of a relevance pass that the diagnosis reads or changes. */
interface ProbeOptions {
  readonly targets: readonly Target[] | Target;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * What the diagnosis needs of an explainer, as a structural type: the explainer calls this module,
 * so importing its class here would tie the two files in a circle.
 */
export interface RelevanceProbe<Options extends ProbeOptions> {
  readonly graph: Graph;
  readonly ctx: GpuContext;
  readonly composite: { readonly name: string; readonly rules: ReadonlyMap<string, LayerRule> };
  /** The [first sample, count] chunks a batch's relevance pass runs in. */
  chunks(batch: number): [number, number][];
  relevanceOnGpu(acts: Activations, opts: Options): Promise<{ readonly perValue: ReadonlyMap<string, GPUBuffer>; release(): void }>;
}

/** `first`: the batch's first sample's number in what the caller explained, for the message. */
export async function nonFiniteRelevanceError<Options extends ProbeOptions>(
  explainer: RelevanceProbe<Options>, acts: Activations, opts: Options, context = '', first = 0,
): Promise<NonFiniteError> {
  const prefix = `${explainer.graph.name}: ${explainer.composite.name}${context ? ` (${context})` : ''}`;
  for (const [n0, n] of explainer.chunks(acts.batch)) {
    const sub = await selectSamples(explainer.ctx, acts, Array.from({ length: n }, (_, k) => n0 + k));
    try {
      const found = await locate(explainer, sub, { ...opts, targets: targetsOf(opts.targets, n0, n, acts.batch) }, prefix, first + n0);
      if (found) return found;
    } finally {
      if (sub !== acts) sub.release();
    }
  }
  return new NonFiniteError(`${prefix}: the input relevance holds non-finite values, but no layer's relevance does`, null);
}

async function locate<Options extends ProbeOptions>(
  explainer: RelevanceProbe<Options>, acts: Activations, opts: Options, prefix: string, first: number,
): Promise<NonFiniteError | null> {
  const { graph, ctx } = explainer;
  const r = await explainer.relevanceOnGpu(acts, { ...opts, onProgress: undefined });
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
          + `${data[i]} in the relevance of its input, sample ${first + Math.floor(i / per)}; the relevance reaching it is finite`, layer.name);
      }
    }
    return null;
  } finally {
    r.release();
  }
}
