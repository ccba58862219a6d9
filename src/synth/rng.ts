/**
 * A small deterministic PRNG for the synthetic dataset: integer arithmetic only (Math.imul and
 * shifts), so a seed gives the same stream in every JavaScript engine.
 */

/** murmur3's 32-bit finaliser: a bijective avalanche of one 32-bit word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The seed of one image: a hash of the dataset seed (any non-negative safe integer) and the
 * image's index, so that image i is the same whatever the dataset's size.
 */
export function imageSeed(seed: number, index: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`index must be a non-negative integer, got ${index}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h = fmix32(lo ^ 0x9e3779b9);
  h = fmix32((h + Math.imul(hi, 0x27d4eb2f)) >>> 0);
  h = fmix32((h ^ Math.imul(index >>> 0, 0x165667b1)) >>> 0);
  h = fmix32((h + Math.floor(index / 4294967296)) >>> 0);
  return h;
}

/** mulberry32: a 32-bit state, period 2^32, good enough for drawing pictures. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * Fills `out` with uniform integers in [0, n), each `floor(next() * n)`: the same stream as that
   * many `next()` calls, without a call per draw (the bootstrap's inner loop).
   */
  fillBelow(out: Uint32Array, n: number): Uint32Array {
    let state = this.state;
    for (let k = 0; k < out.length; k++) {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[k] = Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
    }
    this.state = state;
    return out;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [a, b). */
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }

  /** Uniform integer in [a, b], both included. */
  int(a: number, b: number): number {
    return a + Math.floor(this.next() * (b - a + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /**
   * A uniformly random direction (cos, sin) without trigonometry (whose last bits differ between
   * engines): rejection-sample a point in the unit disc and normalise it.
   */
  direction(): [number, number] {
    for (;;) {
      const x = 2 * this.next() - 1;
      const y = 2 * this.next() - 1;
      const d = x * x + y * y;
      if (d > 1e-4 && d <= 1) {
        const n = Math.sqrt(d);
        return [x / n, y / n];
      }
    }
  }
}
