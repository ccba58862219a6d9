/**
 * The files of an evaluation folder and how they are written so that a run killed at any moment
 * loses nothing and repeats nothing:
 *
 * - `pairs.jsonl`, `skips.jsonl`: JSON Lines, appended once per batch with a single write(2) of
 *   every line of the batch, then fsync. A kill lands before or after that write; should a crash
 *   (power loss, full disk) tear the last line, readers drop the line without its newline and
 *   `--resume` truncates the file back to the last whole line before appending.
 * - `run.json` (the settings and the run's identity, identity.ts, written first), `report.json`,
 *   `report.md`, `curve.csv`, `curve.svg` (`aopc.csv`, `aopc.svg` with aopc), `finished.json` (verify.ts, written last): whole-file
 *   writes through a temporary file `NAME.tmp-PID` and rename, so each is either the old or the
 *   new version. A failed write removes its temporary file; one left by a killed writer is removed
 *   by the next writer of the folder once it holds the folder's lock (lock.ts).
 *
 * Every I/O error names the file (Node's own messages leave it out of write, fsync and rename
 * errors: "ENOSPC: no space left on device, write"), and a full disk says that the records
 * written so far are kept.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PairRecord, Skip } from '../../eval/types.ts';
import { aopcCsv, aopcSvg } from '../../eval/aopc-report.ts';
import { curveCsv, curveSvg, reportMarkdown, type EvalReport, type EvalSettings, type Shard } from '../../eval/report.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { fileError } from '../file-errors.ts';
import type { RunIdentity } from './identity.ts';

export { fileError };

export const PAIRS_FILE = 'pairs.jsonl';
export const SKIPS_FILE = 'skips.jsonl';
export const RUN_FILE = 'run.json';
export const REPORT_JSON = 'report.json';
export const REPORT_MD = 'report.md';
export const CURVE_CSV = 'curve.csv';
export const CURVE_SVG = 'curve.svg';
/** Region perturbation's mean curves (runs with `--metrics mu,aopc`). */
export const AOPC_CSV = 'aopc.csv';
export const AOPC_SVG = 'aopc.svg';
export const RUN_FORMAT = 'webgpu-lrp/eval-run@2';

/** run.json: what a run is, written before its first record. */
export interface RunFile {
  readonly format: string;
  /** The options as given (paths as typed), for the report and for people. */
  readonly settings: EvalSettings;
  /** What --resume and merge compare: contents, not path spellings. */
  readonly identity: RunIdentity;
  readonly shard: Shard | null;
  /** Images selected by --limit and --shard. */
  readonly images: number;
}

/** Appends lines to a file, a batch at a time, durably. */
export class JsonlAppender {
  private fd: number;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'a');
    } catch (e) {
      throw fileError(path, 'open for appending', e);
    }
  }

  /**
   * One write of every line, then fsync; nothing when `items` is empty. A write cut short by a
   * full disk leaves a torn last line, which --resume cuts off.
   */
  append(items: readonly unknown[]): void {
    if (items.length === 0) return;
    const bytes = Buffer.from(items.map((o) => `${JSON.stringify(o)}\n`).join(''), 'utf8');
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
      fsyncSync(this.fd);
    } catch (e) {
      throw fileError(this.path, 'append', e);
    }
  }

  close(): void {
    try {
      if (this.fd >= 0) closeSync(this.fd);
    } catch (e) {
      throw fileError(this.path, 'close', e);
    } finally {
      this.fd = -1;
    }
  }
}

/**
 * The complete lines of a JSON Lines file (none when it does not exist). A last line without its
 * newline is torn: it is dropped, and with `repair` cut off the file. A bad line elsewhere is an error.
 */
export function readJsonl<T>(path: string, opts: { repair?: boolean } = {}): { items: T[]; torn: boolean } {
  if (!existsSync(path)) return { items: [], torn: false };
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw fileError(path, 'read', e);
  }
  const end = buf.lastIndexOf(0x0a) + 1;
  const torn = end < buf.length;
  if (torn && opts.repair) {
    try {
      truncateSync(path, end);
    } catch (e) {
      throw fileError(path, 'cut off its torn last line', e);
    }
  }
  const text = buf.subarray(0, end).toString('utf8');
  const items: T[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      items.push(JSON.parse(line) as T);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not a JSON line (${(e as Error).message}); the file is damaged beyond a torn last line`);
    }
  });
  return { items, torn };
}

export function readRecords(dir: string, opts: { repair?: boolean } = {}): { records: PairRecord[]; torn: boolean } {
  const path = join(dir, PAIRS_FILE);
  const { items, torn } = readJsonl<PairRecord>(path, opts);
  items.forEach((r, i) => {
    const ok = r && typeof r.image === 'string' && typeof r.analyzer === 'string' && Number.isInteger(r.classIndex)
      && Number.isInteger(r.S_in) && Number.isInteger(r.S_tot);
    if (!ok) throw new Error(`${path}: record ${i + 1} is not a pair record: ${JSON.stringify(r).slice(0, 200)}`);
  });
  return { records: items, torn };
}

export function readSkips(dir: string, opts: { repair?: boolean } = {}): { skips: Skip[]; torn: boolean } {
  const { items, torn } = readJsonl<Skip>(join(dir, SKIPS_FILE), opts);
  return { skips: items, torn };
}


export function readRunFile(dir: string): RunFile | null {
  const path = join(dir, RUN_FILE);
  if (!existsSync(path)) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw fileError(path, 'read', e);
  }
  let run: RunFile;
  try {
    run = JSON.parse(text) as RunFile;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}); the run's description is damaged: rerun into a new --out`);
  }
  if (run.format === 'webgpu-lrp/eval-run@1') {
    throw new Error(`${path}: written by an older version of lrp, which did not record what the run is (model and dataset fingerprints); finish it with that version, or rerun into a new --out`);
  }
  if (run.format !== RUN_FORMAT || !run.identity) throw new Error(`${path}: not an evaluation run file (format ${JSON.stringify(run.format)}, expected ${RUN_FORMAT})`);
  return run;
}

export function nonEmpty(path: string): boolean {
  return existsSync(path) && statSync(path).size > 0;
}

/** report.json, report.md and the curve as CSV and SVG (and region perturbation's, when measured). */
export function writeReportFiles(dir: string, report: EvalReport): void {
  writeFileAtomic(join(dir, CURVE_CSV), curveCsv(report.curve));
  writeFileAtomic(join(dir, CURVE_SVG), curveSvg(report.curve));
  if (report.aopc && report.settings.aopc) {
    writeFileAtomic(join(dir, AOPC_CSV), aopcCsv(report.aopc));
    writeFileAtomic(join(dir, AOPC_SVG), aopcSvg(report.aopc, report.settings.aopc));
  }
  writeFileAtomic(join(dir, REPORT_MD), reportMarkdown(report));
  writeFileAtomic(join(dir, REPORT_JSON), `${JSON.stringify(report, null, 1)}\n`);
}

/** A whole JSON Lines file at once (merged records), atomically. */
export function writeJsonl(path: string, items: readonly unknown[]): void {
  writeFileAtomic(path, items.map((o) => `${JSON.stringify(o)}\n`).join(''));
}
