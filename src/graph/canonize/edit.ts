/**
 * Helpers the canonizer passes share: who reads a value, and rebuilding a graph from an edited
 * layer list (through GraphBuilder, so every pass's output is shape-checked like an import).
 */
import { GraphBuilder } from '../builder.ts';
import type { Graph, Layer } from '../ir.ts';

/** The layers reading each value, in forward order. */
export function readers(graph: Graph): Map<string, Layer[]> {
  const r = new Map<string, Layer[]>();
  for (const l of graph.layers) for (const i of l.inputs) (r.get(i) ?? r.set(i, []).get(i)!).push(l);
  return r;
}

/** Whether the graph hands `value` out (the explained output, or another declared one). */
export function isGraphOutput(graph: Graph, value: string): boolean {
  return graph.output === value || graph.outputs.includes(value);
}

/** The layer that alone reads `value`, when nothing else (no other layer, no graph output) does. */
export function soleReader(graph: Graph, byValue: ReadonlyMap<string, Layer[]>, value: string): Layer | null {
  const rs = byValue.get(value) ?? [];
  return rs.length === 1 && !isGraphOutput(graph, value) ? rs[0] : null;
}

/**
 * The graph with `layers` in place of its own, every use of a key of `renamed` (layer inputs and
 * graph outputs) reading its value instead. Shapes are inferred again, so a pass that changed a
 * function's shape fails here, naming the layer.
 */
export function rebuild(graph: Graph, layers: readonly Layer[], renamed: ReadonlyMap<string, string> = new Map()): Graph {
  const to = (v: string): string => {
    let cur = v;
    for (let seen = 0; renamed.has(cur); seen++) {
      if (seen > renamed.size) throw new Error(`internal: renaming '${v}' loops`);
      cur = renamed.get(cur)!;
    }
    return cur;
  };
  const b = new GraphBuilder(graph.name, graph.input.name, graph.input.shape);
  for (const l of layers) b.add(renamed.size ? { ...l, inputs: l.inputs.map(to) } : l);
  return b.build(to(graph.output), [...new Set(graph.outputs.map(to))]);
}
