/**
 * The decomposed forms exporters write for ops ONNX only defined later, recognised at import so
 * they become the one layer the op would: LayerNormalization (opset 17) as torch exports it before,
 * `ReduceMean → Sub → Pow 2 → ReduceMean → Add eps → Sqrt → Div (→ Mul gamma) (→ Add beta)` over
 * the last axis. A match is a `Decomposition`: the op it stands for, its inputs and attributes, the
 * value it produces, and the nodes it replaces (the converter skips them).
 *
 * Decisions:
 * - A pattern matches only whole: every intermediate value is read by the pattern alone and is
 *   not a graph output (otherwise the intermediate would be needed by itself and the nodes are
 *   converted one by one, which refuses the ReduceMean as unsupported).
 * - Operand order of the commutative Add and Mul is free; the Pow exponent and epsilon must be
 *   constants (initializers or Constant nodes, read ahead of their place in the node list).
 * - gamma and beta are optional (LayerNorm without elementwise affine), and must be constants
 *   of n values (or one, broadcast).
 */
import type { OnnxNode, OnnxTensor } from './model.ts';

/** What the matchers need to know of the graph. */
export interface PatternGraph {
  /** The nodes reading a value. */
  readers(value: string): readonly OnnxNode[];
  /** A constant's values (an initializer, or a Constant node anywhere in the file), or null. */
  constant(value: string): OnnxTensor | null;
  /** Whether the graph declares the value as an output. */
  isOutput(value: string): boolean;
  /** The per-sample rank of an activation already converted. */
  rank(value: string): number;
}

export interface LayerNormDecomposition {
  readonly op: 'LayerNormalization';
  readonly x: string;
  readonly scale: Float32Array | null;
  readonly bias: Float32Array | null;
  readonly epsilon: number;
  readonly output: string;
  /** The pattern's nodes (Constant nodes excluded: they fold as usual). */
  readonly nodes: readonly OnnxNode[];
}

/** The only reader of `value` (of type `op`), where nothing else reads it and it is no graph output. */
function sole(g: PatternGraph, value: string, op: string): OnnxNode | null {
  const r = g.readers(value);
  return r.length === 1 && r[0].opType === op && !g.isOutput(value) ? r[0] : null;
}

/** The other input of a two-input node, given one. */
function other(node: OnnxNode, one: string): string | null {
  if (node.inputs.length !== 2) return null;
  if (node.inputs[0] === one && node.inputs[1] !== one) return node.inputs[1];
  if (node.inputs[1] === one && node.inputs[0] !== one) return node.inputs[0];
  return null;
}

function scalar(g: PatternGraph, value: string | null): number | null {
  const t = value === null ? null : g.constant(value);
  return t && t.data.length === 1 ? t.data[0] : null;
}

/** ReduceMean over exactly the last axis of a value of per-sample rank `rank`, keeping it. */
function meanOverLast(g: PatternGraph, node: OnnxNode, rank: number): boolean {
  if (node.opType !== 'ReduceMean' || node.attributes.get('keepdims')?.i === 0) return false;
  const axes = node.attributes.get('axes')?.ints ?? (node.inputs[1] ? Array.from(g.constant(node.inputs[1])?.data ?? []) : null);
  return !!axes && axes.length === 1 && (axes[0] === -1 || axes[0] === rank);
}

/**
 * LayerNorm's decomposition starting at its first ReduceMean (`start`, reading x), or null. The
 * match reads ahead in the graph, so the converter may emit the layer at the ReduceMean's place.
 */
export function matchLayerNorm(g: PatternGraph, start: OnnxNode): LayerNormDecomposition | null {
  const x = start.inputs[0];
  if (!x) return null;
  const rank = g.rank(x);
  if (!meanOverLast(g, start, rank)) return null;
  const m = start.outputs[0];
  const sub = sole(g, m, 'Sub');
  if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== m) return null;
  const d = sub.outputs[0];
  const dReaders = g.readers(d);
  if (dReaders.length !== 2 || g.isOutput(d)) return null;
  const pow = dReaders.find((n) => n.opType === 'Pow' && n.inputs[0] === d);
  const div = dReaders.find((n) => n.opType === 'Div' && n.inputs[0] === d);
  if (!pow || !div || scalar(g, pow.inputs[1]) !== 2) return null;
  const mean2 = sole(g, pow.outputs[0], 'ReduceMean');
  if (!mean2 || !meanOverLast(g, mean2, rank)) return null;
  const addEps = sole(g, mean2.outputs[0], 'Add');
  const epsilon = addEps && scalar(g, other(addEps, mean2.outputs[0]));
  if (!addEps || epsilon === null || !(epsilon >= 0)) return null;
  const sqrt = sole(g, addEps.outputs[0], 'Sqrt');
  if (!sqrt || sole(g, sqrt.outputs[0], 'Div') !== div || div.inputs[1] !== sqrt.outputs[0]) return null;
  const nodes = [start, sub, pow, mean2, addEps, sqrt, div];
  let output = div.outputs[0];
  // The affine part: Mul by gamma, then Add of beta, each optional and of constants only.
  const affine = (op: 'Mul' | 'Add'): Float32Array | null => {
    const r = g.readers(output);
    if (r.length !== 1 || r[0].opType !== op || g.isOutput(output)) return null;
    const c = other(r[0], output);
    const t = c === null ? null : g.constant(c);
    if (!t) return null;
    nodes.push(r[0]);
    output = r[0].outputs[0];
    return t.data instanceof Float32Array ? t.data.slice() : Float32Array.from(t.data);
  };
  const scale = affine('Mul');
  const bias = affine('Add');
  return { op: 'LayerNormalization', x, scale, bias, epsilon, output, nodes };
}
