/**
 * Where the batch axis sits in ONNX's view of a value, for graphs that move it (torch's
 * nn.MultiheadAttention transposes batch-first input to (L, N, E), merges the batch with the heads
 * as (L, N*H, hd), multiplies (N*H, L, hd) matrices and comes back through (L*N, E) rows). The IR
 * stays per sample, batch first physically; the importer (import.ts) keeps one `Layout` per ONNX
 * value and maps each ONNX operator onto the per-sample tensor through it.
 *
 * Decisions:
 * - A layout lists, for each ONNX axis, the atoms it merges, major first: the batch 'N' or a
 *   per-sample axis (its index in the per-sample shape). Only the batch merges with other atoms
 *   (N*k or k*N, at most one per-sample axis either side); every other ONNX axis is exactly one
 *   per-sample axis.
 * - Canonical order: the per-sample axes appear in the ONNX order (the batch left out). A Transpose
 *   that reorders per-sample axes therefore becomes a per-sample `transpose` layer, one that only
 *   moves the batch a relabelling (an `identity` view), and a Reshape keeps the row-major order of
 *   both views, so it is a per-sample `reshape` view whenever the batch falls on the same boundary
 *   of the per-sample data before and after (else the samples would mix, and it is refused).
 * - The batch size is unknown at import (constant-fold.ts's BATCH, NaN): an ONNX dimension holding
 *   the batch reads NaN whatever it is merged with, and a Reshape target's one NaN is the batch
 *   merged with what the per-sample sizes leave over.
 */
import { numel, type Shape } from '../ir.ts';

export type Atom = 'N' | number;

export interface Layout {
  readonly groups: readonly (readonly Atom[])[];
}

/** Batch first, one ONNX axis per per-sample axis: what every value is unless the graph moves the batch. */
export function standardLayout(sampleRank: number): Layout {
  return { groups: [['N'], ...Array.from({ length: sampleRank }, (_, i) => [i])] };
}

export function isStandard(l: Layout): boolean {
  return l.groups[0].length === 1 && l.groups[0][0] === 'N' && l.groups.slice(1).every((g, i) => g.length === 1 && g[0] === i);
}

export function sameLayout(a: Layout, b: Layout): boolean {
  return a.groups.length === b.groups.length && a.groups.every((g, i) => g.length === b.groups[i].length && g.every((x, j) => x === b.groups[i][j]));
}

/** ONNX's dimensions: NaN (the batch, unknown) where an axis holds it. */
export function onnxDims(l: Layout, shape: Shape): number[] {
  return l.groups.map((g) => g.reduce<number>((p, a) => p * (a === 'N' ? Number.NaN : shape[a]), 1));
}

/** ONNX's view as text, e.g. [17, N*2, 8], for messages. */
export function describeLayout(l: Layout, shape: Shape): string {
  return `[${l.groups.map((g) => g.map((a) => (a === 'N' ? 'N' : String(shape[a]))).join('*')).join(', ')}]`;
}

/** The per-sample axis that ONNX axis `axis` (in range) is, or a reason it is none. */
export function sampleAxisOf(l: Layout, axis: number): number | string {
  const g = l.groups[axis];
  if (g.length === 1 && g[0] !== 'N') return g[0];
  return g.length === 1 ? 'is the batch axis' : 'holds the batch merged with another axis';
}

/** The last ONNX axis as the last per-sample axis (a dense or softmax over it), or null. */
export function lastAxisIsLastSample(l: Layout, sampleRank: number): boolean {
  const g = l.groups[l.groups.length - 1];
  return g.length === 1 && g[0] === sampleRank - 1;
}

/** A Transpose: the per-sample permutation it needs (null where it only relabels) and the new layout. */
export function transposeLayout(l: Layout, perm: readonly number[]): { perSample: number[] | null; layout: Layout } {
  const moved = perm.map((p) => l.groups[p]);
  const order = moved.flat().filter((a): a is number => a !== 'N');
  const index = new Map(order.map((a, i) => [a, i]));
  const layout = { groups: moved.map((g) => g.map((a) => (a === 'N' ? a : index.get(a)!))) };
  return { perSample: order.every((a, i) => a === i) ? null : order, layout };
}

/** ONNX axis `axis` (one per-sample axis) removed, as a Gather of a scalar index does. */
export function dropAxis(l: Layout, axis: number): Layout {
  const gone = l.groups[axis][0] as number;
  return { groups: l.groups.filter((_, i) => i !== axis).map((g) => g.map((a) => (a === 'N' || a < gone ? a : a - 1))) };
}

/**
 * A Reshape whose target (0s resolved) holds the batch as its one NaN: the per-sample shape and the
 * layout after it, or why it would mix samples.
 */
export function reshapeLayout(l: Layout, shape: Shape, target: readonly number[]): { shape: number[]; layout: Layout } | string {
  const at = target.findIndex((d) => Number.isNaN(d));
  if (at < 0 || target.some((d, i) => i !== at && (Number.isNaN(d) || !(Number.isInteger(d) && d >= 1)))) {
    return 'the target must hold the batch (N, or N merged with other axes) once and every other dimension as a positive size';
  }
  const flat = l.groups.flat();
  const before = numel(flat.slice(0, flat.indexOf('N')).map((a) => shape[a as number]));
  const after = numel(shape) / before;
  const prefix = numel(target.slice(0, at));
  const suffix = numel(target.slice(at + 1));
  const k1 = before / prefix;
  const k2 = after / suffix;
  if (!(Number.isInteger(k1) && k1 >= 1 && Number.isInteger(k2) && k2 >= 1)) {
    return `the batch sits after ${before} of each sample's ${numel(shape)} values, which the target does not keep on one axis boundary`;
  }
  const out: number[] = [];
  const groups: Atom[][] = [];
  for (const [i, d] of target.entries()) {
    if (i !== at) {
      groups.push([out.length]);
      out.push(d);
      continue;
    }
    const g: Atom[] = [];
    if (k1 > 1) { g.push(out.length); out.push(k1); }
    g.push('N');
    if (k2 > 1) { g.push(out.length); out.push(k2); }
    groups.push(g);
  }
  return { shape: out, layout: { groups } };
}
