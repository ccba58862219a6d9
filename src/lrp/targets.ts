/** Which class each sample of a batch is explained for, and that choice for a part of the batch. */

/** A class index, or `predicted`: the sample's arg-max. */
export type Target = number | 'predicted';

/** The targets of samples n0 .. n0 + n - 1 of `batch`: one for all stays one for all. */
export function targetsOf(targets: readonly Target[] | Target, n0: number, n: number, batch: number): readonly Target[] | Target {
  return Array.isArray(targets) && targets.length === batch && batch !== 1 ? targets.slice(n0, n0 + n) : targets;
}
