/**
 * `lrp eval`: the dataset-scale evaluation of shared/docs/evaluation-protocol.md, resumable and
 * shardable. The loop: prepared samples (decoded, preprocessed, masks drawn on worker threads,
 * src/node/prepare) → batches of `batch` images → one forward pass per batch → per analyzer one
 * relevance pass over the batch's pairs → the masked sums on the GPU → records appended to
 * pairs.jsonl, one durable write per batch (files.ts).
 *
 * Resume: the records and skips already on disk are read back (a torn last line dropped); an
 * image whose every pair has a record of every analyzer, or a skip, is not prepared again; a
 * partially written image gets only its missing records. Records are deterministic per image
 * (no kernel mixes the images of a batch) and written in canonical order (image id, class index,
 * analyzer order), so a resumed run ends with the same pairs.jsonl as an uninterrupted one.
 *
 * Shards: `--shard i/n` takes the images at positions i, i+n, ... of the sorted image list
 * (setup.ts selectItems; `--limit` applies before the split), into its own folder; `lrp merge`
 * (merge.ts) combines them.
 *
 * `--save-relevance`: one float32 `.npy` of shape [H, W] per record, the channel-summed input
 * relevance the metrics were computed from, at `DIR/relevance/ANALYZER/IMAGE_CLASSINDEX.npy`
 * (names with characters other than letters, digits, `.`, `_`, `-` have them replaced by `_`).
 * One file per (image, class, analyzer), because each pair has its own target: files are written
 * before the batch's records, so a record always has its map, and a resumed run rewrites only
 * the maps of the records it adds.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sortRecords } from '../../eval/aggregate.ts';
import { addTime, Evaluator, type StageTimes } from '../../eval/evaluator.ts';
import { isPrepared, type PrepareResult } from '../../eval/pairs.ts';
import { buildReport, skipKey, type EvalReport, type EvalSettings, type Shard } from '../../eval/report.ts';
import type { PairRecord, PreparedSample, Sample, Skip } from '../../eval/types.ts';
import { ForwardModel } from '../../forward/model.ts';
import type { Init } from '../../lrp/explainer.ts';
import { createNodeGpu, type NodeGpu } from '../gpu.ts';
import { writeNpy } from '../npy-file.ts';
import { prepareSamples } from '../prepare/index.ts';
import {
  JsonlAppender, nonEmpty, PAIRS_FILE, readRecords, readRunFile, readSkips, REPORT_JSON, RUN_FILE, RUN_FORMAT, SKIPS_FILE,
  writeFileAtomic, writeReportFiles, type RunFile,
} from './files.ts';
import { Progress } from './progress.ts';
import { loadAnalyzers, loadEvalModel, openEvalDataset, selectItems } from './setup.ts';

export interface EvalOptions {
  readonly model: string;
  /** `voc:DIR` or `imagenet:DIR`. */
  readonly dataset: string;
  /** --composite values (see setup.ts splitCompositeArgs). */
  readonly composites: readonly string[];
  readonly out: string;
  readonly split?: string;
  readonly labels?: string;
  /** Images per forward pass (default 16), also the most pairs per relevance pass. */
  readonly batch?: number;
  readonly limit?: number;
  readonly saveRelevance?: boolean;
  readonly shard?: Shard | null;
  readonly resume?: boolean;
  readonly skipDifficult?: boolean;
  readonly preprocess?: string;
  /** Learned patterns for a pattern-attribution analyzer (`--patterns DIR`). */
  readonly patterns?: string;
  readonly init?: Init;
  /** Preparation worker threads (default: prepareSamples' default) and samples prepared ahead. */
  readonly workers?: number;
  readonly prefetch?: number;
  /** Progress on stderr: a bar on a terminal, lines otherwise (default true). */
  readonly progress?: boolean;
  /** Where messages go (default console.error). */
  readonly log?: (line: string) => void;
  /** Reuse a device (tests, benches); default: open one and close it at the end. */
  readonly gpu?: NodeGpu;
  /**
   * Test hook, the kill simulation: stop after this many batches were written, as a killed
   * process would (no report, preparation abandoned).
   */
  readonly stopAfterBatches?: number;
}

export interface EvalResult {
  /** null when stopped by `stopAfterBatches`. */
  readonly report: EvalReport | null;
  readonly out: string;
  readonly batches: number;
  /** Images prepared and measured in this session (images resumed past not counted). */
  readonly images: number;
  readonly records: number;
  readonly seconds: number;
  /**
   * Seconds per stage in this session: setup (model, composites, dataset listing, GPU pipelines),
   * prepare (waiting for decoded samples), forward, expand, relevance, metrics, maps, write, report.
   */
  readonly stages: StageTimes;
}

const recordKey = (image: string, classIndex: number, analyzer: string) => `${image}\u0000${classIndex}\u0000${analyzer}`;
const pairKey = (image: string, classIndex: number | undefined) => `${image}\u0000${classIndex ?? ''}`;

function sameSettings(a: unknown, b: unknown): string[] {
  const x = a as Record<string, unknown>, y = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(x ?? {}), ...Object.keys(y ?? {})]);
  return [...keys].filter((k) => JSON.stringify(x?.[k]) !== JSON.stringify(y?.[k]));
}

export async function runEval(opts: EvalOptions): Promise<EvalResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const t0 = performance.now() / 1000;
  const startedAt = new Date().toISOString();
  const batch = opts.batch ?? 16;
  if (!(Number.isSafeInteger(batch) && batch >= 1)) throw new Error(`--batch must be a whole number >= 1, got ${batch}`);
  if (opts.limit !== undefined && !(Number.isSafeInteger(opts.limit) && opts.limit >= 0)) throw new Error(`--limit must be a whole number >= 0, got ${opts.limit}`);
  const init: Init = opts.init ?? 'logit';

  // Everything that can be wrong with the model or the composites fails here, before any work.
  const model = loadEvalModel(opts.model, opts.preprocess);
  const notes: string[] = [];
  const analyzers = loadAnalyzers(opts.composites, model.graph, model.preprocess, { patterns: opts.patterns, notes });
  for (const note of notes) log(`note: ${note}`);
  for (const a of analyzers) for (const note of a.composite.notes) log(`note: ${a.name}: ${note}`);
  const usesPatterns = analyzers.some((a) => a.composite.method === 'pattern-attribution');
  const settings: EvalSettings = {
    model: opts.model, dataset: opts.dataset, split: opts.split ?? null, labels: opts.labels ?? null,
    analyzers: analyzers.map((a) => a.name), composites: analyzers.map((a) => a.arg), init,
    preprocess: model.preprocess, skipDifficult: opts.skipDifficult ?? false, limit: opts.limit ?? null,
    ...(usesPatterns ? { patterns: opts.patterns } : {}),
  };
  const shard = opts.shard ?? null;
  const out = opts.out;

  // The folder: fresh, or the same run to resume.
  const previous = readRunFile(out);
  if (!opts.resume && (previous || nonEmpty(join(out, PAIRS_FILE)) || nonEmpty(join(out, SKIPS_FILE)))) {
    throw new Error(`${out} already holds an evaluation run: give --resume to finish it, or another --out`);
  }
  if (previous) {
    const differ = sameSettings(previous.settings, settings);
    if (JSON.stringify(previous.shard) !== JSON.stringify(shard)) differ.push('shard');
    if (differ.length) {
      throw new Error(`${out}: --resume with other settings than the run there (${differ.join(', ')} differ); resume with the same options or use another --out`);
    }
  }

  const dataset = await openEvalDataset(opts, model.graph, log);

  const gpu = opts.gpu ?? await createNodeGpu();
  let fm: ForwardModel | null = null;
  let evaluator: Evaluator | null = null;
  try {
    fm = await ForwardModel.create(gpu.ctx, model.graph);
    evaluator = await Evaluator.create(fm, analyzers.map((a) => ({ name: a.name, composite: a.composite })), { relevanceBatch: batch });

    const items = selectItems(dataset.samples, dataset.skips, { limit: opts.limit, shard });
    mkdirSync(out, { recursive: true });
    const { records: doneRecords, torn: tornRecords } = readRecords(out, { repair: true });
    const { skips: doneSkipList, torn: tornSkips } = readSkips(out, { repair: true });
    if (tornRecords || tornSkips) log(`note: ${out}: dropped a torn last line (the run was interrupted mid-write)`);
    if (!previous && (doneRecords.length || doneSkipList.length)) {
      throw new Error(`${out} has records but no ${RUN_FILE}: not a folder this tool wrote; use another --out`);
    }
    const done = new Set(doneRecords.map((r) => recordKey(r.image, r.classIndex, r.analyzer)));
    const doneSkips = new Set(doneSkipList.map(skipKey));
    const skippedPairs = new Set(doneSkipList.map((s) => pairKey(s.id, s.classIndex)));
    const runFile: RunFile = { format: RUN_FORMAT, settings, shard, images: items.length };
    writeFileAtomic(join(out, RUN_FILE), `${JSON.stringify(runFile, null, 1)}\n`);

    const skipsOut = new JsonlAppender(join(out, SKIPS_FILE));
    const pairsOut = new JsonlAppender(join(out, PAIRS_FILE));
    const stages: StageTimes = {};
    let batches = 0;
    let imagesDone = 0;
    let recordsWritten = 0;
    let stopped = false;
    try {
      const freshSkips = (list: readonly Skip[]) => list.filter((s) => {
        const k = skipKey(s);
        if (doneSkips.has(k)) return false;
        doneSkips.add(k);
        skippedPairs.add(pairKey(s.id, s.classIndex));
        return true;
      });
      // The reading skips of the selected images, before any batch.
      skipsOut.append(freshSkips(items.flatMap((it) => it.skips)));

      const sampleDone = (s: Sample) => s.classes.every((c) => skippedPairs.has(pairKey(s.id, c.classIndex)) || settings.analyzers.every((a) => done.has(recordKey(s.id, c.classIndex, a))));
      const todo = items.flatMap((it) => (it.sample && !sampleDone(it.sample) ? [it.sample] : []));
      if (done.size) log(`resuming: ${done.size} records and ${doneSkips.size} skips on disk; ${todo.length} of ${items.length} images left`);
      const progress = opts.progress === false ? null : new Progress({ total: todo.length, label: shard ? `eval ${shard.index}/${shard.count}` : 'eval' });

      const saveDir = opts.saveRelevance ? join(out, 'relevance') : null;
      const writeBatch = async (prepared: PreparedSample[], skips: Skip[]) => {
        const res = await evaluator!.evaluate(prepared, {
          init, maps: Boolean(saveDir), times: stages,
          need: (image, classIndex, analyzer) => !done.has(recordKey(image, classIndex, analyzer)),
        });
        const t = performance.now() / 1000;
        const order = sortRecords(res.records.map((r, i) => ({ ...r, i })), settings.analyzers);
        const records: PairRecord[] = order.map(({ i: _i, ...r }) => r);
        if (saveDir && res.maps) {
          const [, h, w] = model.graph.input.shape;
          for (const { i } of order) {
            const r = res.records[i];
            const dir = join(saveDir, safeName(r.analyzer));
            mkdirSync(dir, { recursive: true });
            await writeNpy(join(dir, `${safeName(r.image)}_${r.classIndex}.npy`), [h, w], res.maps[i]);
          }
        }
        skipsOut.append(freshSkips([...skips, ...res.skips]));
        pairsOut.append(records);
        for (const r of records) done.add(recordKey(r.image, r.classIndex, r.analyzer));
        recordsWritten += records.length;
        addTime(stages, 'write', performance.now() / 1000 - t);
        batches++;
      };

      addTime(stages, 'setup', performance.now() / 1000 - t0);
      const stream = prepareSamples(todo, model.preprocess, { workers: opts.workers, prefetch: opts.prefetch });
      let pending: PreparedSample[] = [];
      let pendingSkips: Skip[] = [];
      let pendingImages = 0;
      const flush = async () => {
        await writeBatch(pending, pendingSkips);
        imagesDone += pendingImages;
        pending = [];
        pendingSkips = [];
        pendingImages = 0;
        progress?.update(imagesDone, `${recordsWritten} records`);
        if (opts.stopAfterBatches !== undefined && batches >= opts.stopAfterBatches) stopped = true;
      };
      try {
        const it = stream[Symbol.asyncIterator]();
        for (;;) {
          const t = performance.now() / 1000;
          const next = await it.next();
          addTime(stages, 'prepare', performance.now() / 1000 - t);
          if (next.done) break;
          const r: PrepareResult = next.value;
          pendingImages++;
          pendingSkips.push(...r.skips);
          if (isPrepared(r)) pending.push(r);
          if (pending.length >= batch) {
            await flush();
            if (stopped) break;
          }
        }
        if (!stopped && (pending.length || pendingSkips.length || pendingImages)) await flush();
      } finally {
        await stream.close();
      }
      if (stopped) {
        log(`stopped after ${batches} batches (stopAfterBatches)`);
        return { report: null, out, batches, images: imagesDone, records: recordsWritten, seconds: performance.now() / 1000 - t0, stages };
      }
      progress?.finish();
    } finally {
      skipsOut.close();
      pairsOut.close();
    }

    // The report, from what is on disk.
    const tReport = performance.now() / 1000;
    const records = readRecords(out).records;
    const skips = readSkips(out).skips;
    const seconds = performance.now() / 1000 - t0;
    const report = buildReport({
      settings, shard, images: items.length, records, skips,
      timing: {
        seconds, imagesPerSecond: imagesDone > 0 ? imagesDone / seconds : null, batch,
        startedAt, finishedAt: new Date().toISOString(), stages: roundStages(stages),
      },
    });
    writeReportFiles(out, report);
    addTime(stages, 'report', performance.now() / 1000 - tReport);
    log(`wrote ${join(out, REPORT_JSON)}: ${report.pairs} pairs, ${report.records} records, ${report.degenerate.total} degenerate, ${report.skipped.count} skipped`);
    return { report, out, batches, images: imagesDone, records: recordsWritten, seconds, stages };
  } finally {
    evaluator?.destroy();
    fm?.destroy();
    if (!opts.gpu) gpu.close();
  }
}

function roundStages(s: StageTimes): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
}

/** A file name part from an id or analyzer name. */
export function safeName(s: string): string {
  return s.replace(/[^\w.-]+/g, '_');
}
