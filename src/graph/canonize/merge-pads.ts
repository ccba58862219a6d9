/**
 * merge-pads: a zero Pad whose output only a convolution reads becomes part of that
 * convolution's padding (exact: both pad with zeros); likewise before an average pooling that
 * counts padding in its divisor (count_include_pad, so the explicit zeros and the pooling's own
 * padding weigh alike). A Pad of nothing disappears. Any other Pad stays a layer (before a
 * max-pooling, whose padding is -inf, or an average pooling that excludes padding).
 *
 * LRP note: merged padding is padding to the rules, so `flat` and `wsquare` count only the real
 * inputs of a window, as for any padded convolution; a standalone Pad's zeros would count.
 */
import type { Layer, Pads4 } from '../ir.ts';
import { isGraphOutput, readers, rebuild, soleReader } from './edit.ts';
import { NOTHING, type CanonizerPass } from './types.ts';

const plus = (a: Pads4, b: Pads4): Pads4 => [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];

export const mergePads: CanonizerPass = {
  name: 'merge-pads',
  description: 'a zero Pad merges into the padding of the Conv (or count_include_pad AveragePool) that alone reads it',
  run(graph) {
    const byValue = readers(graph);
    const replaced = new Map<Layer, Layer>();
    const dropped = new Set<Layer>();
    const renamed = new Map<string, string>();
    let merged = 0;
    let empty = 0;
    let kept = 0;
    for (const l of graph.layers) {
      if (l.kind !== 'pad') continue;
      if (l.pads.every((p) => p === 0) && !isGraphOutput(graph, l.output)) {
        renamed.set(l.output, l.inputs[0]);
        dropped.add(l);
        empty++;
        continue;
      }
      const next = soleReader(graph, byValue, l.output);
      const n = next && (replaced.get(next) ?? next);
      if (n && (n.kind === 'conv' || (n.kind === 'avgpool' && n.countIncludePad))) {
        replaced.set(next!, { ...n, inputs: [l.inputs[0]], pads: plus(n.pads, l.pads) });
        dropped.add(l);
        merged++;
      } else {
        kept++;
      }
    }
    if (dropped.size === 0 && kept === 0) return { graph, report: { pass: this.name, summary: NOTHING, changed: false } };
    const parts: string[] = [];
    if (merged) parts.push(`merged ${merged} Pad into the next layer's padding`);
    if (empty) parts.push(`removed ${empty} Pad of zero width`);
    if (kept) parts.push(`kept ${kept} Pad standalone`);
    const layers = graph.layers.filter((l) => !dropped.has(l)).map((l) => replaced.get(l) ?? l);
    return {
      graph: dropped.size ? rebuild(graph, layers, renamed) : graph,
      report: { pass: this.name, summary: parts.join('; '), changed: dropped.size > 0 },
    };
  },
};
