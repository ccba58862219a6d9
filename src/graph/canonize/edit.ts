/**
 * Helpers the canonizer passes share: who reads a value, and rebuilding a graph from an edited
 * layer list (through GraphBuilder, so every pass's output is shape-checked like an import).
 */
import { GraphBuilder } from '../builder.ts';
import type { Graph, Layer, LayerKind } from '../ir.ts';
import type { LayerOf } from '../kinds.ts';

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

/** What foldIntoProducers did: folds by the producer's kind, and why the other layers stayed. */
export interface FoldResult {
  readonly graph: Graph;
  readonly folded: ReadonlyMap<string, number>;
  readonly kept: ReadonlyMap<string, number>;
  readonly count: number;
}

/**
 * Folds every layer of kind `kind` into the layer that produces its input: `merge` gets that
 * producer (as merged so far, so a chain folds whole; undefined at the graph input) and whether the
 * layer is its output's only reader, and returns the merged producer, whose output becomes the
 * folded layer's, or a reason to keep the layer. Pure: the graph is rebuilt, not edited.
 */
export function foldIntoProducers<K extends LayerKind>(
  graph: Graph, kind: K, merge: (producer: Layer | undefined, layer: LayerOf<K>, sole: boolean) => Layer | string,
): FoldResult {
  const byValue = readers(graph);
  const producer = new Map<string, Layer>(graph.layers.map((l) => [l.output, l]));
  const replaced = new Map<Layer, Layer>();
  const dropped = new Set<Layer>();
  const folded = new Map<string, number>();
  const kept = new Map<string, number>();
  const tally = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
  for (const l of graph.layers) {
    if (l.kind !== kind) continue;
    const p0 = producer.get(l.inputs[0]);
    const p = p0 && (replaced.get(p0) ?? p0);
    const merged = merge(p, l as LayerOf<K>, soleReader(graph, byValue, l.inputs[0]) === l);
    if (typeof merged === 'string') {
      tally(kept, merged);
      continue;
    }
    replaced.set(p0!, merged);
    // A layer reading this one's output now finds the merged layer as its producer.
    producer.set(l.output, p0!);
    dropped.add(l);
    tally(folded, p!.kind);
  }
  if (dropped.size === 0) return { graph, folded, kept, count: 0 };
  const layers = graph.layers.filter((l) => !dropped.has(l)).map((l) => replaced.get(l) ?? l);
  return { graph: rebuild(graph, layers), folded, kept, count: dropped.size };
}
