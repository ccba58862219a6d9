/**
 * Upper bounds of the numeric options that size work or memory, in one table, checked with every
 * option's own check before a command starts (defineCommand in options.ts): `eval --workers 1000`
 * or `--bootstrap 1e9` is a usage error naming the flag and its bound, not gigabytes and a kill.
 *
 * Decisions: the bounds are fixed numbers, far above any sensible use (the defaults are 16 to 160
 * times lower), so a command line means the same on every machine; the GPU's own limits (the
 * largest batch whose activations fit one binding) are checked later against the model, where
 * they are known. The numeric options that size nothing are listed in UNBOUNDED with why, so a
 * test can require every numeric option of every command to be in one table or the other.
 */

export interface OptionBound {
  /** The largest value accepted. */
  readonly max: number;
  /** What the option sizes, for the message. */
  readonly sizes: string;
}

export const OPTION_BOUNDS: Readonly<Record<string, OptionBound>> = {
  // Each worker is a thread holding its own decoded images.
  workers: { max: 64, sizes: 'decode threads, each holding its images' },
  // Each resample is a mean kept per analyzer and metric until its percentiles are taken.
  bootstrap: { max: 100_000, sizes: 'resamples kept in memory per interval' },
  // The GPU bounds it further by the model (the largest batch whose activations fit a binding).
  batch: { max: 1024, sizes: 'samples held on the GPU at once' },
  gallery: { max: 1000, sizes: 'images drawn once per analyzer' },
  images: { max: 100_000, sizes: 'images synthesised and written' },
  'pattern-images': { max: 100_000, sizes: 'images synthesised for the statistics set' },
  // Each image's pairs cost 2 (steps + 1) forward passes per analyzer, and the random order's.
  'aopc-images': { max: 100_000, sizes: 'held-out images region perturbation runs on' },
  // Each image's pairs are explained again at every step of the cascade, by every analyzer.
  'sanity-images': { max: 100_000, sizes: 'held-out images the randomization check runs on' },
  // A square RGBA image of this side is 64 MiB.
  size: { max: 4096, sizes: 'the side of each synthesised image' },
};

/** Numeric options that size no work or memory, with why (the test over every command reads it). */
export const UNBOUNDED: Readonly<Record<string, string>> = {
  limit: 'only lowers the number of images',
  seed: 'a seed, any whole number',
  top: 'at most the model\'s classes are printed',
  epsilon: 'a rule parameter',
  clip: 'a percentile, at most 100',
  'flat-layers': 'counts layers; more than the model has means all of them',
  'classifier-layers': 'counts layers; more than the model has means all of them',
  'checkpoint-seconds': 'a time between checkpoints',
  port: 'at most 65535',
  steps: 'at most the number of patches, checked against the model\'s input before any work',
  patch: 'at most the model\'s input side, checked against it before any work',
};

/** The message for a value over its option's bound, or null (also for options without one). */
export function checkBound(name: string, value: unknown): string | null {
  const b = OPTION_BOUNDS[name];
  if (!b) return null;
  const values = Array.isArray(value) ? value : [value];
  const over = values.find((v) => typeof v === 'number' && v > b.max);
  return over === undefined ? null : `--${name} must be at most ${b.max} (${b.sizes}), got ${over}`;
}
