/**
 * strip-softmax: a Softmax at the end of the network (its output read by no layer) is removed,
 * so the output explained and predicted is the logits LRP starts from; a graph output that named
 * the probabilities now names the logits (`--output prob` still works). A Softmax that other
 * layers read stays (attention's, over the last axis: lrp-rules.md gives it CP-LRP), unless it
 * normalises over anything else, which no kernel runs: that one is refused.
 */
import type { Layer } from '../ir.ts';
import { readers, rebuild } from './edit.ts';
import { NOTHING, type CanonizerPass } from './types.ts';

export const stripSoftmax: CanonizerPass = {
  name: 'strip-softmax',
  description: 'a trailing Softmax is removed: the output is the logits',
  run(graph) {
    const byValue = readers(graph);
    const dropped = new Set<Layer>();
    const renamed = new Map<string, string>();
    for (const l of graph.layers) {
      if (l.kind !== 'softmax') continue;
      if (byValue.has(l.output)) {
        if (l.lastAxis === false) {
          throw new Error(`layer '${l.name}': a Softmax inside the network is supported only over the last axis (a trailing one, over any axis, is stripped)`);
        }
        continue;
      }
      dropped.add(l);
      renamed.set(l.output, l.inputs[0]);
    }
    if (dropped.size === 0) return { graph, report: { pass: this.name, summary: NOTHING, changed: false } };
    const layers = graph.layers.filter((l) => !dropped.has(l));
    return {
      graph: rebuild(graph, layers, renamed),
      report: { pass: this.name, summary: `stripped ${dropped.size} trailing Softmax (the output is the logits)`, changed: true },
    };
  },
};
