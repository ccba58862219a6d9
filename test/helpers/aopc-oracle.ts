/**
 * Region perturbation written out from shared/docs/evaluation-protocol.md and the seeding decisions
 * in src/eval/region-perturbation.ts's header, in float64, for tests of whole runs: patch orders
 * of a C × H × W relevance, the perturbed inputs of both baselines, AOPC.
 */

/** MurmurHash3's 32-bit finaliser, in BigInt arithmetic (not the code under test's Math.imul). */
export function mix(x: number): number {
  let h = x >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Number((BigInt(h) * 0x85ebca6bn) & 0xffffffffn);
  h = (h ^ (h >>> 13)) >>> 0;
  h = Number((BigInt(h) * 0xc2b2ae35n) & 0xffffffffn);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Value e of image `image`'s uniform:SEED baseline picture. */
export function uniformValue(seed: number, image: number, e: number): number {
  const key = mix((mix((seed ^ 0x243f6a88) >>> 0) ^ image) >>> 0);
  return (mix((key ^ mix((e ^ 0x9e3779b9) >>> 0)) >>> 0) >>> 8) / 2 ** 23 - 1;
}

export interface Geometry { readonly C: number; readonly H: number; readonly W: number; readonly P: number }

const patchOf = (g: Geometry, y: number, x: number) => Math.floor(y / g.P) * Math.ceil(g.W / g.P) + Math.floor(x / g.P);

/** The patches most relevant first (`most`) or least relevant first, ties by patch index. */
export function patchOrder(g: Geometry, rel: ArrayLike<number>, offset: number, most: boolean): number[] {
  const s = new Array<number>(Math.ceil(g.H / g.P) * Math.ceil(g.W / g.P)).fill(0);
  for (let c = 0; c < g.C; c++) for (let y = 0; y < g.H; y++) for (let x = 0; x < g.W; x++) s[patchOf(g, y, x)] += rel[offset + (c * g.H + y) * g.W + x];
  return s.map((v, i) => [v, i] as const).sort((a, b) => (most ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]).map(([, i]) => i);
}

/** x_k: the first k patches of `order` replaced in every channel by the baseline (`zero` or `uniform:SEED`). */
export function perturbedInput(g: Geometry, x0: ArrayLike<number>, order: readonly number[], k: number, baseline: string, image: number): Float32Array {
  const gone = new Set(order.slice(0, k));
  const seed = baseline === 'zero' ? null : Number(baseline.split(':')[1]);
  const out = Float32Array.from(x0);
  for (let c = 0; c < g.C; c++) for (let y = 0; y < g.H; y++) for (let x = 0; x < g.W; x++) {
    const e = (c * g.H + y) * g.W + x;
    if (gone.has(patchOf(g, y, x))) out[e] = seed === null ? 0 : uniformValue(seed, image, e);
  }
  return out;
}

/** AOPC of f(x_0), ..., f(x_L). */
export function aopcOracle(curve: readonly number[]): number {
  let s = 0;
  for (const v of curve) s += curve[0] - v;
  return s / curve.length;
}
