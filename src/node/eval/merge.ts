/**
 * `lrp merge`: the shards of one run (`lrp eval --shard i/n`, each in its own folder) into the
 * folder and report the unsharded run gives: the same records, skips and report.json apart from
 * `timing` (summed seconds, the earliest start and the latest finish). Every shard must be
 * finished (have its report.json), all must share their settings, and 0..n-1 must each appear once.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sortRecords } from '../../eval/aggregate.ts';
import { buildReport, compareSkips, normalSkip, skipKey, type EvalReport, type Timing } from '../../eval/report.ts';
import type { PairRecord, Skip } from '../../eval/types.ts';
import {
  PAIRS_FILE, readRecords, readRunFile, readSkips, REPORT_JSON, RUN_FILE, RUN_FORMAT, SKIPS_FILE, writeFileAtomic, writeJsonl,
  writeReportFiles, type RunFile,
} from './files.ts';

export async function mergeRuns(dirs: readonly string[], out: string, opts: { log?: (l: string) => void } = {}): Promise<EvalReport> {
  const log = opts.log ?? ((l: string) => console.error(l));
  if (dirs.length === 0) throw new Error('merge: name the shard folders');
  const runs: { dir: string; run: RunFile; report: EvalReport }[] = dirs.map((dir) => {
    const run = readRunFile(dir);
    if (!run) throw new Error(`${dir}: no ${RUN_FILE}: not an evaluation folder`);
    const reportPath = join(dir, REPORT_JSON);
    if (!existsSync(reportPath)) throw new Error(`${dir}: no ${REPORT_JSON}: the shard has not finished (run it again with --resume)`);
    return { dir, run, report: JSON.parse(readFileSync(reportPath, 'utf8')) as EvalReport };
  });
  const first = runs[0].run;
  for (const r of runs) {
    if (JSON.stringify(r.run.settings) !== JSON.stringify(first.settings)) {
      const a = first.settings as unknown as Record<string, unknown>, b = r.run.settings as unknown as Record<string, unknown>;
      const differ = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
      throw new Error(`${r.dir} and ${runs[0].dir} are not shards of one run: ${differ.join(', ')} differ`);
    }
    if (!r.run.shard) throw new Error(`${r.dir} is a whole run, not a shard`);
  }
  const count = first.shard!.count;
  const seen = new Map<number, string>();
  for (const r of runs) {
    const s = r.run.shard!;
    if (s.count !== count) throw new Error(`${r.dir} is shard ${s.index}/${s.count}, ${runs[0].dir} ${first.shard!.index}/${count}: shards of different splits`);
    if (seen.has(s.index)) throw new Error(`shard ${s.index}/${count} is given twice (${seen.get(s.index)} and ${r.dir})`);
    seen.set(s.index, r.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length) throw new Error(`shards ${missing.map((i) => `${i}/${count}`).join(', ')} missing: a merge needs all ${count}`);

  const records: PairRecord[] = [];
  const skips = new Map<string, Skip>();
  let images = 0;
  for (const r of runs) {
    records.push(...readRecords(r.dir).records);
    for (const s of readSkips(r.dir).skips) skips.set(skipKey(s), normalSkip(s));
    images += r.run.images;
  }
  const settings = first.settings;
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
  mkdirSync(out, { recursive: true });
  writeJsonl(join(out, PAIRS_FILE), sorted);
  writeJsonl(join(out, SKIPS_FILE), [...skips.values()].sort(compareSkips));
  const runFile: RunFile = { format: RUN_FORMAT, settings, shard: null, images };
  writeFileAtomic(join(out, RUN_FILE), `${JSON.stringify(runFile, null, 1)}\n`);
  writeReportFiles(out, report);
  log(`merged ${count} shards into ${out}: ${report.pairs} pairs, ${report.records} records, ${report.skipped.count} skipped`);
  return report;
}
