/**
 * transpose-views: a Transpose that moves only axes of size 1 (the axes longer than 1 keep their
 * order, e.g. ConvNeXt's head turning a pooled C×1×1 into 1×1×C and back) moves no value in
 * row-major memory: it becomes a `reshape` to its output shape, a view, instead of a copy.
 *
 * Decisions: the layer keeps its name (a `name:` selector still finds it; both kinds take only
 * `pass`, so no explanation changes), and relevance through it is the same shape map.
 */
import type { Graph, Layer } from '../ir.ts';
import { valueInfo } from '../ir.ts';
import { rebuild } from './edit.ts';
import { NOTHING, type CanonizerPass } from './types.ts';

/** Whether permuting `shape` by `perm` keeps every value at its row-major offset. */
export function permutationIsView(shape: readonly number[], perm: readonly number[]): boolean {
  const long = perm.filter((a) => shape[a] > 1);
  return long.every((a, k) => k === 0 || long[k - 1] < a);
}

export const transposeViews: CanonizerPass = {
  name: 'transpose-views',
  description: 'a Transpose that moves only axes of size 1 becomes a reshape (a view, no copy)',
  run(graph: Graph) {
    let count = 0;
    const layers = graph.layers.map((l): Layer => {
      if (l.kind !== 'transpose' || !permutationIsView(valueInfo(graph, l.inputs[0]).shape, l.perm)) return l;
      count++;
      return { kind: 'reshape', name: l.name, inputs: l.inputs, output: l.output, shape: [...valueInfo(graph, l.output).shape] };
    });
    if (count === 0) return { graph, report: { pass: this.name, summary: NOTHING, changed: false } };
    return { graph: rebuild(graph, layers), report: { pass: this.name, summary: `${count} Transpose moving only size-1 axes became reshape views`, changed: true } };
  },
};
