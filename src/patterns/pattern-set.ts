/**
 * Learned patterns bound to a model: checked against the model before anything runs, and held in
 * the IR's weight layout for the backward pass (src/lrp/ops/linear.ts multiplies them into the
 * weights).
 *
 * On disk (src/node/patterns/files.ts) a pattern has the shape of its node's weight as the ONNX
 * file stores it: [outC, inC/groups, kh, kw] for a Conv, [out, in] for a Gemm with transB = 1 and
 * [in, out] for MatMul or a Gemm without it. Decisions the spec leaves open:
 * - The digest identifies the model as it runs: every layer's kind, name, wiring and parameters,
 *   weights included (BatchNormalization folded in). It is a fast non-cryptographic hash (two
 *   murmur3 lanes over the 32-bit words, 64 bits): it tells another model or retrained weights
 *   from the model the patterns were learned on, not an adversary's forgery.
 * - A layer with a folded BatchNormalization or a Gemm alpha has the pattern of the folded weight
 *   (the one that runs); A * W, all the backward pass uses, does not depend on that choice.
 */
import type { DenseLayer, Graph, Layer, LinearLayer } from '../graph/ir.ts';
import { isLinear } from '../graph/ir.ts';
import { assertFinite } from '../io/finite.ts';

/** Patterns for every linear layer of one model, in the IR's weight layout (C x K). */
export interface PatternSet {
  /** The model they were checked against (resolveComposite binds them to this graph only). */
  readonly graph: Graph;
  /** Where they came from (a folder), for messages. */
  readonly source: string;
  readonly byLayer: ReadonlyMap<string, Float32Array>;
  /** The patterns' content, hashed (patternsDigest): what a run's identity records. */
  readonly digest: string;
}

/** One pattern as read from a file: the node it is for, its shape and its values in that shape. */
export interface PatternEntry {
  readonly node: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** The file, for messages. */
  readonly file: string;
}

/** The shape of a linear layer's weight in its source file. */
export function sourceWeightShape(layer: LinearLayer): number[] {
  if (layer.kind === 'conv') return [layer.outChannels, layer.inChannels / layer.groups, layer.kernel[0], layer.kernel[1]];
  return isInOut(layer) ? [layer.inFeatures, layer.outFeatures] : [layer.outFeatures, layer.inFeatures];
}

const isInOut = (l: DenseLayer) => l.sourceLayout === 'in-out';

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** A pattern in the IR layout, re-laid out as the source file stores the layer's weight. */
export function toSourceLayout(layer: LinearLayer, a: Float32Array): Float32Array {
  return layer.kind === 'dense' && isInOut(layer) ? transpose(a, layer.outFeatures, layer.inFeatures) : a;
}

/** A pattern in the source file's layout, in the IR layout. */
export function fromSourceLayout(layer: LinearLayer, a: Float32Array): Float32Array {
  return layer.kind === 'dense' && isInOut(layer) ? transpose(a, layer.inFeatures, layer.outFeatures) : a;
}

/**
 * Checks patterns against a model and binds them: every linear layer needs exactly one, in the
 * shape of its weight; a pattern for a node the model does not have, a wrong shape, a value that
 * is not finite, or (when the patterns say which model they were learned on) another model's
 * digest are errors that name the node and the file.
 */
export function bindPatterns(
  graph: Graph, entries: readonly PatternEntry[], meta: { source: string; digest: string | null },
): PatternSet {
  const where = meta.source;
  if (meta.digest !== null) {
    const mine = weightsDigest(graph);
    if (meta.digest !== mine) {
      throw new Error(`${where}: these patterns were learned for another model (weights digest ${meta.digest}; ${graph.name} has ${mine}); learn them for this model with lrp patterns`);
    }
  }
  const linear = new Map(graph.layers.filter(isLinear).map((l) => [l.name, l]));
  const byLayer = new Map<string, Float32Array>();
  for (const e of entries) {
    const layer = linear.get(e.node);
    if (!layer) {
      const known = [...linear.keys()];
      throw new Error(`${e.file}: a pattern for node '${e.node}', which is not a Conv, Gemm or MatMul of ${graph.name} (those are: ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', ...' : ''})`);
    }
    if (byLayer.has(e.node)) throw new Error(`${e.file}: a second pattern for node '${e.node}'`);
    const want = sourceWeightShape(layer);
    if (e.shape.length !== want.length || e.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${e.file}: the pattern for node '${e.node}' has shape [${e.shape.join(', ')}], its weight [${want.join(', ')}]`);
    }
    assertFinite(e.data, e.shape, `${e.file}: the pattern for node '${e.node}'`);
    byLayer.set(e.node, fromSourceLayout(layer, e.data));
  }
  const missing = [...linear.keys()].filter((n) => !byLayer.has(n));
  if (missing.length) {
    throw new Error(`${where}: no pattern for node${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')} of ${graph.name} (every Conv, Gemm and MatMul needs one)`);
  }
  return { graph, source: where, byLayer, digest: patternsDigest(byLayer) };
}

/** A 64-bit digest of patterns by layer name: names, lengths and every value. */
export function patternsDigest(byLayer: ReadonlyMap<string, Float32Array>): string {
  const d = new Digest();
  for (const [name, a] of [...byLayer].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    d.text(`${name} ${a.length}`);
    d.words32(new Uint32Array(a.buffer, a.byteOffset, a.length));
  }
  return d.hex();
}

// ---------------------------------------------------------------------------------------------
// The model digest
// ---------------------------------------------------------------------------------------------

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

/** Two murmur3_32 lanes with different seeds over a stream of 32-bit words. */
class Digest {
  private h1 = 0x9747b28c;
  private h2 = 0x2f3b7a61;
  private words = 0;

  words32(w: Uint32Array): void {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < w.length; i++) {
      let k = Math.imul(w[i], C1);
      k = Math.imul(rotl(k, 15), C2);
      h1 ^= k;
      h1 = (Math.imul(rotl(h1, 13), 5) + 0xe6546b64) | 0;
      h2 ^= rotl(k, 7) ^ i;
      h2 = (Math.imul(rotl(h2, 17), 9) + 0x3c6ef372) | 0;
    }
    this.h1 = h1;
    this.h2 = h2;
    this.words += w.length;
  }

  text(s: string): void {
    const bytes = new TextEncoder().encode(`${s}\u0000`);
    const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
    padded.set(bytes);
    this.words32(new Uint32Array(padded.buffer));
  }

  hex(): string {
    const fmix = (h: number) => {
      h ^= this.words;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      return (h ^ (h >>> 16)) >>> 0;
    };
    return fmix(this.h1).toString(16).padStart(8, '0') + fmix(this.h2).toString(16).padStart(8, '0');
  }
}

/** The layer without its arrays, as text (stable key order: the builder's). */
function layerText(l: Layer): string {
  return JSON.stringify(l, (k, v) => (ArrayBuffer.isView(v) ? `${(v as Float32Array).length} values` : v));
}

/** A 64-bit digest (16 hex digits) of the model as it runs: its structure and every parameter. */
export function weightsDigest(graph: Graph): string {
  const d = new Digest();
  d.text(JSON.stringify({ input: graph.input, output: graph.output }));
  for (const l of graph.layers) {
    d.text(layerText(l));
    if (isLinear(l)) {
      d.words32(new Uint32Array(l.weight.buffer, l.weight.byteOffset, l.weight.length));
      d.words32(new Uint32Array(l.bias.buffer, l.bias.byteOffset, l.bias.length));
    }
  }
  return d.hex();
}
