/**
 * Non-finite values (NaN, ±Infinity) are an error, never a printed `logit Infinity p NaN`: the
 * error names the layer where they first appear, found by reading the batch's stored values back
 * in layer order. Only on the error path: a healthy batch costs one scan of what is read anyway.
 */
import { numel, type Graph, type Layer } from '../graph/ir.ts';
import type { Activations } from './model.ts';

/** The index of the first NaN or infinity in `a`, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

export class NonFiniteError extends Error {
  constructor(
    message: string,
    /** The layer where the values first stop being finite; null: already in the input. */
    readonly layer: string | null,
  ) {
    super(message);
  }
}

export interface NonFiniteAt {
  /** null: the input itself. */
  readonly layer: Layer | null;
  readonly value: string;
  readonly sample: number;
  /** Index within the sample's values. */
  readonly index: number;
  readonly v: number;
}

/** Where in the forward pass of `acts` the first non-finite value appears, or null; `sampleOffset` numbers samples from the batch's first. */
export async function locateNonFiniteForward(acts: Activations, sampleOffset = 0): Promise<NonFiniteAt | null> {
  const { graph } = acts;
  const check = async (name: string, layer: Layer | null): Promise<NonFiniteAt | null> => {
    const data = await acts.read(name);
    const i = firstNonFinite(data);
    if (i < 0) return null;
    const per = data.length / acts.batch;
    return { layer, value: name, sample: sampleOffset + Math.floor(i / per), index: i % per, v: data[i] };
  };
  const atInput = await check(graph.input.name, null);
  if (atInput) return atInput;
  for (const layer of graph.layers) {
    const at = await check(layer.output, layer);
    if (at) return at;
  }
  return null;
}

export function describeNonFinite(graph: Graph, at: NonFiniteAt, what = 'the forward pass'): string {
  const where = at.layer
    ? `they first appear in the output of layer '${at.layer.name}' (${at.layer.kind}): ${at.v} at sample ${at.sample}, value ${at.index} of ${numel(graph.values.get(at.value)?.shape ?? [])}; `
      + 'its parameters, or the values reaching it, overflow float32 (a corrupt weight file?)'
    : `the input itself holds ${at.v} (sample ${at.sample}, value ${at.index})`;
  return `${graph.name}: ${what} gives non-finite values: ${where}`;
}

/** The error for a batch whose outputs are not finite, naming the layer where that starts. */
export async function nonFiniteForwardError(acts: Activations, sampleOffset = 0): Promise<NonFiniteError> {
  const at = await locateNonFiniteForward(acts, sampleOffset);
  if (!at) return new NonFiniteError(`${acts.graph.name}: the output holds non-finite values, but no stored value does (a value read through a view?)`, null);
  return new NonFiniteError(describeNonFinite(acts.graph, at), at.layer?.name ?? null);
}
