/**
 * The numeric options of `lrp eval` and `lrp occlusion`, checked before anything is read or
 * written: an option found wrong after run.json exists would leave a folder that refuses the
 * corrected command. Functions, so that the CLI's option layer can call them as well.
 */
import type { Shard } from '../../eval/report.ts';

/** Throws `--NAME must be a whole number >= MIN, got V` unless `value` is undefined or such a number. */
export function checkWhole(name: string, value: number | undefined | null, min: number): void {
  if (value === undefined || value === null) return;
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= min)) {
    throw new Error(`--${name} must be a whole number >= ${min}, got ${typeof value === 'number' ? value : JSON.stringify(value)}`);
  }
}

export function checkShard(shard: Shard | null | undefined): void {
  if (!shard) return;
  const { index, count } = shard;
  if (!(Number.isSafeInteger(count) && count >= 1 && Number.isSafeInteger(index) && index >= 0 && index < count)) {
    throw new Error(`--shard: expected i/n with 0 <= i < n, got ${index}/${count}`);
  }
}

/** What `lrp eval` and `lrp occlusion` share: batch, limit, workers, prefetch, shard. */
export function validateRunOptions(o: {
  readonly batch?: number; readonly limit?: number; readonly workers?: number; readonly prefetch?: number; readonly shard?: Shard | null;
}): void {
  checkWhole('batch', o.batch, 1);
  checkWhole('limit', o.limit, 0);
  checkWhole('workers', o.workers, 0);
  checkWhole('prefetch', o.prefetch, 1);
  checkShard(o.shard);
}
