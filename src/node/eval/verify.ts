/**
 * Whether an evaluation folder holds what it claims to.
 *
 * - `finished.json`, written last by a run that finished: its counts (images, pairs, records,
 *   skips) and the size and SHA-256 of pairs.jsonl and skips.jsonl. `lrp merge` takes a shard only
 *   when its files still match (a shard cut, torn, edited or deleted after it finished is refused,
 *   named); `--resume` of a finished run whose files match says so and does nothing.
 * - Duplicate records (two writers on one folder, before run.lock existed): the first of
 *   identical copies is kept and the file rewritten; two differing records of one (image, class,
 *   analyzer) cannot be told apart, so the folder is refused with what to do.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { skipKey } from '../../eval/report.ts';
import type { PairRecord, Skip } from '../../eval/types.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { fileError, PAIRS_FILE, SKIPS_FILE, writeJsonl } from './files.ts';
import { hashFile } from './identity.ts';

export const FINISHED_FILE = 'finished.json';
const FINISHED_FORMAT = 'webgpu-lrp/eval-finished@1';

export interface FileSum {
  readonly bytes: number;
  readonly sha256: string;
}

export interface FinishedMarker {
  readonly format: string;
  readonly images: number;
  /** Distinct (image, class) pairs with a record. */
  readonly pairs: number;
  readonly records: number;
  readonly skips: number;
  readonly pairsFile: FileSum;
  readonly skipsFile: FileSum;
  readonly finishedAt: string;
}

function fileSum(path: string): FileSum {
  if (!existsSync(path)) return { bytes: 0, sha256: 'none' };
  const { hash, bytes } = hashFile(path);
  return { bytes, sha256: hash };
}

/** Writes the marker of a finished run from the files as they are now. */
export function writeFinished(dir: string, counts: { images: number; pairs: number; records: number; skips: number }): FinishedMarker {
  const marker: FinishedMarker = {
    format: FINISHED_FORMAT, ...counts,
    pairsFile: fileSum(join(dir, PAIRS_FILE)), skipsFile: fileSum(join(dir, SKIPS_FILE)),
    finishedAt: new Date().toISOString(),
  };
  writeFileAtomic(join(dir, FINISHED_FILE), `${JSON.stringify(marker, null, 1)}\n`);
  return marker;
}

export type FinishedState =
  | { readonly state: 'unfinished' }
  | { readonly state: 'finished'; readonly marker: FinishedMarker }
  /** Marked finished, but a file changed since: `why` says which and how. */
  | { readonly state: 'changed'; readonly marker: FinishedMarker; readonly why: string };

export function readFinished(dir: string): FinishedState {
  const path = join(dir, FINISHED_FILE);
  if (!existsSync(path)) return { state: 'unfinished' };
  let marker: FinishedMarker;
  try {
    marker = JSON.parse(readFileSync(path, 'utf8')) as FinishedMarker;
  } catch (e) {
    throw new Error(`${path}: damaged (${(e as Error).message}); run the shard again with --resume to rewrite it`);
  }
  if (marker.format !== FINISHED_FORMAT) throw new Error(`${path}: not a finished marker (format ${JSON.stringify(marker.format)})`);
  for (const [file, want] of [[PAIRS_FILE, marker.pairsFile], [SKIPS_FILE, marker.skipsFile]] as const) {
    const p = join(dir, file);
    if (want.sha256 !== 'none' && !existsSync(p)) return { state: 'changed', marker, why: `${p} is missing (it had ${want.bytes} bytes when the run finished)` };
    let bytes = 0;
    try {
      bytes = existsSync(p) ? statSync(p).size : 0;
    } catch (e) {
      throw fileError(p, 'read', e);
    }
    if (bytes !== want.bytes) {
      const how = bytes < want.bytes ? 'cut or torn' : 'appended to';
      return { state: 'changed', marker, why: `${p} has ${bytes} bytes, ${want.bytes} when the run finished (${how} since)` };
    }
    if (fileSum(p).sha256 !== want.sha256) return { state: 'changed', marker, why: `${p} was edited since the run finished (its checksum differs)` };
  }
  return { state: 'finished', marker };
}

const recordKey = (r: PairRecord) => `${r.image}\u0000${r.classIndex}\u0000${r.analyzer}`;

/**
 * The records with identical duplicates dropped (the first copy kept); throws naming both lines
 * when two records of one key differ. `dir` is for messages.
 */
export function dedupeRecords(records: readonly PairRecord[], dir: string): { records: PairRecord[]; dropped: number } {
  const first = new Map<string, { line: number; text: string }>();
  const out: PairRecord[] = [];
  records.forEach((r, i) => {
    const key = recordKey(r);
    const text = JSON.stringify(r);
    const seen = first.get(key);
    if (!seen) {
      first.set(key, { line: i + 1, text });
      out.push(r);
      return;
    }
    if (seen.text !== text) {
      throw new Error(`${join(dir, PAIRS_FILE)}: lines ${seen.line} and ${i + 1} are two different records of ${r.image} ${r.class} (class ${r.classIndex}) for ${r.analyzer}: `
        + 'the folder was written by two runs that disagree (two writers at once before run.lock, or an edited file), and which one is right cannot be told. '
        + `Rerun into a new --out, or delete ${dir} and rerun.`);
    }
  });
  return { records: out, dropped: records.length - out.length };
}

/** Rewrites pairs.jsonl and skips.jsonl without identical duplicates; returns how many went. */
export function repairDuplicates(dir: string, records: readonly PairRecord[], skips: readonly Skip[], log: (l: string) => void): { records: PairRecord[]; skips: Skip[] } {
  const r = dedupeRecords(records, dir);
  const seen = new Set<string>();
  const s = skips.filter((k) => {
    const key = skipKey(k);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (r.dropped) {
    writeJsonl(join(dir, PAIRS_FILE), r.records);
    log(`note: ${join(dir, PAIRS_FILE)}: removed ${r.dropped} duplicate record${r.dropped === 1 ? '' : 's'} (identical copies, from two writers at once); kept the first of each`);
  }
  if (s.length !== skips.length) {
    writeJsonl(join(dir, SKIPS_FILE), s);
    log(`note: ${join(dir, SKIPS_FILE)}: removed ${skips.length - s.length} duplicate skip${skips.length - s.length === 1 ? '' : 's'}`);
  }
  return { records: r.records, skips: s };
}
