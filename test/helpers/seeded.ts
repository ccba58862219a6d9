/**
 * Test data from a seed: a deterministic stream per test title (so a filtered run sees the same
 * values as the whole file) and normal draws with a shift, for the kernel tests that build their
 * layers and inputs from random values.
 */
import { Rng } from '../../src/graph/zoo.ts';

/** A stream seeded by an FNV-1a hash of `label` (a test's title). */
export function rngFor(label: string): Rng {
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
  return new Rng(h >>> 0);
}

/** `n` draws of normal(shift, std). */
export function randn(rng: Rng, n: number, std = 1, shift = 0): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  for (let i = 0; i < n; i++) a[i] += shift;
  return a;
}
