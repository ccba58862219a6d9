/**
 * The decomposed forms exporters write for ops ONNX only defined later, recognised at import so
 * they become the one layer the op would: LayerNormalization (opset 17) as torch exports it before,
 * `ReduceMean → Sub → Pow 2 → ReduceMean → Add eps → Sqrt → Div (→ Mul gamma) (→ Add beta)` over
 * the last axis, and Gelu (opset 20) in its Erf and Tanh formulas (matchGelu). A match is a `Decomposition`: the op it stands for, its inputs and attributes, the
 * value it produces, and the nodes it replaces (the converter skips them).
 *
 * Decisions:
 * - A pattern matches only whole: every intermediate value is read by the pattern alone and is
 *   not a graph output (otherwise the intermediate would be needed by itself and the nodes are
 *   converted one by one, which refuses the ReduceMean as unsupported).
 * - Operand order of the commutative Add and Mul is free; the Pow exponent and epsilon must be
 *   constants (initializers or Constant nodes, read ahead of their place in the node list).
 * - GELU's formulas become one `gelu` layer rather than a gate over an Erf branch: the same LRP
 *   (lrp-rules.md: the factor computed from x is a gate, `pass`; the 0.5 a scale, `pass`), and the
 *   gradient methods get GELU's derivative in one kernel. Only the node order torch writes
 *   (`Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)`) is matched, not 0.5 applied to x first.
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

export interface GeluDecomposition {
  readonly op: 'Gelu';
  readonly x: string;
  readonly approximate: 'none' | 'tanh';
  readonly output: string;
  readonly nodes: readonly OnnxNode[];
}

/** A constant scalar within float32 rounding of `want`. */
function near(g: PatternGraph, value: string | null, want: number): boolean {
  const v = scalar(g, value);
  return v !== null && Math.abs(v - want) <= 1e-6 * Math.abs(want);
}

/** The sole reader of `value` of type `op` whose other operand is `operand` (a value name), or a constant near `c`. */
function soleWith(g: PatternGraph, value: string, op: string, operand: { value?: string; c?: number }): OnnxNode | null {
  const n = sole(g, value, op);
  const o = n && other(n, value);
  if (!n || o === null) return null;
  if (operand.value !== undefined) return o === operand.value ? n : null;
  return near(g, o, operand.c!) ? n : null;
}

/**
 * GELU as torch writes it before opset 20, from its first node (`start`, reading x), or null:
 * - exact: `Div(x, sqrt 2)` (or `Mul(x, 1/sqrt 2)`) → Erf → Add 1 → Mul x → Mul 0.5;
 * - tanh: `Mul(x, x)` → Mul x (or `Pow(x, 3)`) → Mul 0.044715 → Add x → Mul sqrt(2/pi) → Tanh →
 *   Add 1 → Mul x → Mul 0.5.
 * Constants are matched to float32 rounding, operands of Add and Mul in either order.
 */
export function matchGelu(g: PatternGraph, start: OnnxNode): GeluDecomposition | null {
  // Mul(1/sqrt 2, x) names x second.
  const x = start.opType === 'Mul' && start.inputs[1] && g.constant(start.inputs[0]) ? start.inputs[1] : start.inputs[0];
  if (!x || g.constant(x)) return null;
  const nodes: OnnxNode[] = [start];
  const step = (value: string, op: string, operand: { value?: string; c?: number }): string | null => {
    const n = soleWith(g, value, op, operand);
    if (!n) return null;
    nodes.push(n);
    return n.outputs[0];
  };
  const tail = (inner: string | null): string | null => {
    const plusOne = inner && step(inner, 'Add', { c: 1 });
    const times = plusOne && step(plusOne, 'Mul', { value: x });
    return times && step(times, 'Mul', { c: 0.5 });
  };
  let output: string | null = null;
  let approximate: 'none' | 'tanh' = 'none';
  const scaled = (start.opType === 'Div' && near(g, start.inputs[1] ?? null, Math.SQRT2))
    || (start.opType === 'Mul' && other(start, x) !== null && near(g, other(start, x), Math.SQRT1_2));
  if (scaled) {
    const erf = sole(g, start.outputs[0], 'Erf');
    if (!erf) return null;
    nodes.push(erf);
    output = tail(erf.outputs[0]);
  } else {
    let cube: string | null = null;
    if (start.opType === 'Pow' && start.inputs[0] === x && scalar(g, start.inputs[1] ?? null) === 3) cube = start.outputs[0];
    if (start.opType === 'Mul' && start.inputs[0] === x && start.inputs[1] === x) cube = step(start.outputs[0], 'Mul', { value: x });
    const kappa = cube && step(cube, 'Mul', { c: 0.044715 });
    const sum = kappa && step(kappa, 'Add', { value: x });
    const inner = sum && step(sum, 'Mul', { c: Math.sqrt(2 / Math.PI) });
    const tanh = inner ? sole(g, inner, 'Tanh') : null;
    if (!tanh) return null;
    nodes.push(tanh);
    output = tail(tanh.outputs[0]);
    approximate = 'tanh';
  }
  return output ? { op: 'Gelu', x, approximate, output, nodes } : null;
}
