/**
 * `lrp merge`: the shards of one run (`lrp eval --shard i/n`, each in its own folder) into the
 * folder and report the unsharded run gives: the same records, skips and report.json apart from
 * `timing` (summed seconds, the earliest start and the latest finish).
 *
 * Nothing is merged on trust:
 * - every shard has finished, and its pairs.jsonl and skips.jsonl are still what its
 *   finished.json recorded (size and SHA-256): a shard cut, torn, edited or deleted since is
 *   refused, named, with how to redo it;
 * - every shard is of the same run: model content, dataset listing, labels, preprocessing,
 *   composites as resolved, options, tool version and shard count agree (identity.ts), and
 *   0..n-1 each appear once;
 * - the records of each shard are of its own images only, one per (image, class, analyzer);
 * - `--out` is a new or empty folder (or `force`), never one of the shards, and is locked while
 *   it is written.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sortRecords } from '../../eval/aggregate.ts';
import { buildReport, compareSkips, normalSkip, skipKey, type EvalReport, type Timing } from '../../eval/report.ts';
import type { PairRecord, Skip } from '../../eval/types.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import {
  fileError, PAIRS_FILE, readRecords, readRunFile, readSkips, REPORT_JSON, RUN_FILE, RUN_FORMAT, SKIPS_FILE, writeJsonl,
  writeReportFiles, type RunFile,
} from './files.ts';
import { compareIdentity, mismatchText } from './identity.ts';
import { acquireLock, assertUnlocked, exitCleanlyOnSignals, LOCK_FILE, removeOrphanTemps } from './lock.ts';
import { dedupeRecords, FINISHED_FILE, readFinished, writeFinished, type FinishedMarker } from './verify.ts';

export interface MergeOptions {
  readonly log?: (l: string) => void;
  /** Write into a non-empty --out (never into a shard). */
  readonly force?: boolean;
}

function realOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Throws unless `out` may receive the merge: new or empty (or `force`), and none of `dirs`. */
export function checkMergeOut(dirs: readonly string[], out: string, force: boolean): void {
  const target = realOrResolved(out);
  for (const d of dirs) {
    if (realOrResolved(d) === target) throw new Error(`--out ${out} is one of the shards given (${d}): the merge goes into a folder of its own`);
  }
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new Error(`--out ${out} exists and is not a folder`);
  const entries = readdirSync(out).filter((n) => n !== LOCK_FILE);
  if (entries.length && !force) {
    throw new Error(`--out ${out} is not empty (${entries.slice(0, 4).join(', ')}${entries.length > 4 ? ', ...' : ''}): give a new or empty folder, or --force to replace its merge files`);
  }
}

export async function mergeRuns(dirs: readonly string[], out: string, opts: MergeOptions = {}): Promise<EvalReport> {
  const log = opts.log ?? ((l: string) => console.error(l));
  if (dirs.length === 0) throw new Error('merge: name the shard folders');
  checkMergeOut(dirs, out, opts.force ?? false);
  assertUnlocked(out, 'lrp merge');

  // Each shard by itself: a run folder, finished, its files as they were when it finished.
  const runs: { dir: string; run: RunFile; report: EvalReport; marker: FinishedMarker }[] = dirs.map((dir) => {
    if (!existsSync(dir)) throw new Error(`shard ${dir}: no such folder`);
    const run = readRunFile(dir);
    if (!run) throw new Error(`shard ${dir}: no ${RUN_FILE}: not an evaluation folder`);
    if (!run.shard) throw new Error(`${dir} is a whole run, not a shard`);
    const fin = readFinished(dir);
    const again = `run that shard again with the same command and --resume (it computes what is missing)`;
    if (fin.state === 'unfinished') throw new Error(`shard ${run.shard.index}/${run.shard.count} in ${dir} has not finished (no finished.json): ${again}`);
    if (fin.state === 'changed') throw new Error(`shard ${run.shard.index}/${run.shard.count} in ${dir} changed after it finished: ${fin.why}; ${again}`);
    const reportPath = join(dir, REPORT_JSON);
    let report: EvalReport;
    try {
      report = JSON.parse(readFileSync(reportPath, 'utf8')) as EvalReport;
    } catch (e) {
      throw fileError(reportPath, `read the shard's report (${again})`, e);
    }
    return { dir, run, report, marker: fin.marker };
  });

  // All of one run.
  const first = runs[0];
  for (const r of runs.slice(1)) {
    const differ = compareIdentity(first.run.identity, r.run.identity, { shard: 'count' });
    if (differ.length) {
      throw new Error(`${r.dir} and ${first.dir} are not shards of one run: ${mismatchText(differ)}`);
    }
    const a = first.run.settings, b = r.run.settings;
    const other = (['analyzers', 'init', 'skipDifficult', 'limit', 'split'] as const).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    if (other.length) throw new Error(`${r.dir} and ${first.dir} are not shards of one run: ${other.join(', ')} differ`);
  }
  const count = first.run.shard!.count;
  const seen = new Map<number, string>();
  for (const r of runs) {
    const s = r.run.shard!;
    if (seen.has(s.index)) throw new Error(`shard ${s.index}/${count} is given twice (${seen.get(s.index)} and ${r.dir})`);
    seen.set(s.index, r.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new Error(`shards ${missing.map((i) => `${i}/${count}`).join(', ')} missing: a merge needs all ${count}`);

  // Each shard's records: its own, complete as its marker says, none twice.
  const records: PairRecord[] = [];
  const skips = new Map<string, Skip>();
  let images = 0;
  const owner = new Map<string, string>();
  for (const r of runs) {
    const { records: recs } = readRecords(r.dir);
    const { skips: sk } = readSkips(r.dir);
    dedupeRecords(recs, r.dir);
    const pairs = new Set(recs.map((x) => `${x.image}\u0000${x.classIndex}`)).size;
    if (recs.length !== r.marker.records || pairs !== r.marker.pairs) {
      throw new Error(`shard ${r.run.shard!.index}/${count} in ${r.dir}: ${recs.length} records of ${pairs} pairs on disk, ${r.marker.records} of ${r.marker.pairs} when it finished; run it again with --resume`);
    }
    for (const x of recs) {
      const o = owner.get(x.image);
      if (o !== undefined && o !== r.dir) throw new Error(`image ${x.image} has records in two shards (${o} and ${r.dir}): they are not one split of the images`);
      owner.set(x.image, r.dir);
    }
    records.push(...recs);
    for (const s of sk) skips.set(skipKey(s), normalSkip(s));
    images += r.run.images;
  }
  const settings = first.run.settings;
  const sorted = sortRecords(records, settings.analyzers);
  const timings = runs.map((r) => r.report.timing).filter((t): t is Timing => t !== null);
  const seconds = timings.reduce((s, t) => s + t.seconds, 0);
  const starts = timings.map((t) => t.startedAt).filter((x): x is string => x !== null).sort();
  const ends = timings.map((t) => t.finishedAt).filter((x): x is string => x !== null).sort();
  // The tool and every adapter the shards ran on; the model hash and rules are the shards' (equal settings).
  const envs = runs.map((r) => r.report.environment).filter((e): e is NonNullable<typeof e> => Boolean(e));
  const report = buildReport({
    settings, shard: null, images, records: sorted, skips: [...skips.values()],
    provenance: runs[0].report.provenance ?? null,
    environment: envs.length ? { tool: envs[0].tool, adapters: [...new Set(envs.flatMap((e) => e.adapters))].sort() } : null,
    timing: {
      seconds, imagesPerSecond: seconds > 0 ? images / seconds : null, batch: timings[0]?.batch ?? null,
      startedAt: starts[0] ?? null, finishedAt: ends[ends.length - 1] ?? null,
    },
  });

  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw fileError(out, 'create the output folder', e);
  }
  const lock = acquireLock(out, 'lrp merge', log);
  const removeSignalHandlers = exitCleanlyOnSignals((signal) => log(`lrp merge: stopped by ${signal}; ${out} is incomplete: run the merge again with --force`));
  try {
    removeOrphanTemps(out);
    // A merge that stops midway leaves no finished.json: the folder does not pass for a run.
    if (existsSync(join(out, FINISHED_FILE))) unlinkSync(join(out, FINISHED_FILE));
    writeJsonl(join(out, PAIRS_FILE), sorted);
    writeJsonl(join(out, SKIPS_FILE), [...skips.values()].sort(compareSkips));
    const runFile: RunFile = { format: RUN_FORMAT, settings, identity: { ...first.run.identity, shard: null }, shard: null, images };
    writeFileAtomic(join(out, RUN_FILE), `${JSON.stringify(runFile, null, 1)}\n`);
    writeReportFiles(out, report);
    writeFinished(out, { images, pairs: report.pairs, records: report.records, skips: report.skipped.count });
  } finally {
    lock.release();
    removeSignalHandlers();
  }
  log(`merged ${count} shards into ${out}: ${report.pairs} pairs, ${report.records} records, ${report.skipped.count} skipped`);
  return report;
}
