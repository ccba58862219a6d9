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
 * What a run is (identity.ts) is written to run.json before its first record and compared by
 * content on --resume: another model file, dataset listing, labels file, composite resolution or
 * option is refused naming the field, while another spelling of the same path is not. A resume of
 * a finished run (finished.json, verify.ts, matches its files) says so and does nothing. Every
 * option is checked before anything is written (validate.ts), so a corrected command is never
 * refused by a folder its mistaken version left.
 *
 * One writer per folder (lock.ts): run.lock is taken before the folder is read, released on every
 * exit (SIGINT, SIGTERM and SIGHUP say what is on disk and exit 128 + the signal); a stale lock of
 * a dead process is taken over with a note, as are temporary files a killed writer left. Records
 * written twice (two writers before run.lock) are repaired when identical and refused when not.
 *
 * Shards: `--shard i/n` takes the images at positions i, i+n, ... of the sorted image list
 * (setup.ts selectItems; `--limit` applies before the split), into its own folder; `--shard auto`
 * takes i/n from Slurm or Kubernetes (shard.ts); `lrp merge` (merge.ts) verifies and combines them.
 *
 * `--metrics mu,aopc` adds region perturbation (src/eval/region-perturbation.ts) to every record:
 * the MoRF and LeRF logits of `--steps` patch removals, and the random order's with the first
 * analyzer's record; its settings are part of the run's identity, so a resume with others is
 * refused. The image index that seeds it is the image's position among all the dataset's ids.
 *
 * `--save-relevance`: one float32 `.npy` of shape [H, W] per record, the channel-summed input
 * relevance the metrics were computed from, at `DIR/relevance/ANALYZER/IMAGE_CLASSINDEX.npy`
 * (names with characters other than letters, digits, `.`, `_`, `-` have them replaced by `_`;
 * ids that this makes one name get a hash suffix, output-plan.ts uniqueStems, decided from the
 * dataset's whole listing before any GPU work, so resumes and shards name every file alike).
 * One file per (image, class, analyzer), because each pair has its own target: files are written
 * before the batch's records, so a record always has its map, and a resumed run rewrites only
 * the maps of the records it adds.
 */
import { winogradSkips, type ConvMode } from '../../forward/winograd.ts';
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sortRecords } from '../../eval/aggregate.ts';
import { addTime, Evaluator, type StageTimes } from '../../eval/evaluator.ts';
import { isPrepared, type PrepareResult } from '../../eval/pairs.ts';
import { buildReport, skipKey, type EvalReport, type EvalSettings, type Environment, type Provenance, type Shard, type Timing } from '../../eval/report.ts';
import type { PairRecord, PreparedSample, Sample, Skip } from '../../eval/types.ts';
import { ForwardModel } from '../../forward/model.ts';
import { compositeRows } from '../../lrp/composite.ts';
import type { Init } from '../../lrp/explainer.ts';
import { DEFAULT_BOOTSTRAP, type BootstrapSettings } from '../../eval/stats.ts';
import { toolVersion } from '../version.ts';
import { createNodeGpu, type NodeGpu } from '../gpu.ts';
import { writeNpy } from '../npy-file.ts';
import { uniqueStems } from '../output-plan.ts';
import { prepareSamples } from '../prepare/index.ts';
import type { Dataset } from '../datasets/index.ts';
import {
  fileError, JsonlAppender, nonEmpty, PAIRS_FILE, readRecords, readRunFile, readSkips, REPORT_JSON, RUN_FILE, RUN_FORMAT, SKIPS_FILE,
  writeReportFiles, type RunFile,
} from './files.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import {
  compareIdentity, compositeIdentity, datasetIdentity, hashFile, mismatchText, modelIdentity, TOOL_NAME, TOOL_VERSION, type RunIdentity,
} from './identity.ts';
import { acquireLock, assertUnlocked, exitCleanlyOnSignals, removeOrphanTemps } from './lock.ts';
import { Progress } from './progress.ts';
import { loadAnalyzers, loadEvalModel, openEvalDataset, selectItems, type AnalyzerSpec } from './setup.ts';
import { validateRunOptions } from './validate.ts';
import { resolveMetrics } from './metrics.ts';
import { checkAopcSettings } from '../../eval/region-perturbation.ts';
import { FINISHED_FILE, readFinished, repairDuplicates, writeFinished } from './verify.ts';

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
  /**
   * The model file already loaded from `model`, `preprocess` and `output` (by loadEvalModel), when
   * the caller needed it before the run (lrp eval's gallery): not read and decoded a second time.
   */
  readonly loaded?: ReturnType<typeof loadEvalModel>;
  /** Learned patterns for a pattern-attribution analyzer (`--patterns DIR`). */
  readonly patterns?: string;
  readonly init?: Init;
  /** The graph output to explain (default: the model's first). */
  readonly output?: string;
  /** Composite options for every analyzer: --epsilon, --flat-layers, --classifier-layers. */
  readonly epsilon?: number;
  readonly flatLayers?: number;
  readonly classifierLayers?: number;
  /** The bootstrap of the report's intervals (default 2000 resamples, seed 0). */
  readonly bootstrap?: BootstrapSettings;
  /** What is measured: `mu` (always; the default alone) and `aopc` (region perturbation). */
  readonly metrics?: readonly string[];
  /** Region perturbation (with `aopc`): `--steps` (default 100), `--patch` (8), `--baseline` (`zero` or `uniform:SEED`). */
  readonly steps?: number;
  readonly patch?: number;
  readonly baseline?: string;
  /** Preparation worker threads (default: prepareSamples' default) and samples prepared ahead. */
  /** How 3x3 stride-1 convolutions run (`--conv`; default `'auto'`, see src/forward/winograd.ts). An execution choice like the batch, not part of a run's identity: the methods agree to float32 rounding. */
  readonly conv?: ConvMode;
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

/** The run's identity from what was loaded (identity.ts). */
function runIdentity(
  opts: EvalOptions, model: ReturnType<typeof loadEvalModel>, analyzers: readonly AnalyzerSpec[], dataset: Dataset,
  settings: EvalSettings, shard: Shard | null,
): RunIdentity {
  const aopc = settings.aopc ?? null;
  return {
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    model: modelIdentity(opts.model, model.builtin, model.externalData),
    dataset: datasetIdentity(dataset),
    split: settings.split,
    labels: opts.labels ? { path: resolve(opts.labels), hash: hashFile(opts.labels).hash } : null,
    preprocess: model.preprocess,
    composites: compositeIdentity(analyzers, model.graph.layers.map((l) => l.name)),
    output: opts.output ?? null,
    init: settings.init, skipDifficult: settings.skipDifficult, limit: settings.limit, shard,
    ...(aopc ? { aopc } : {}),
  };
}

export async function runEval(opts: EvalOptions): Promise<EvalResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const t0 = performance.now() / 1000;
  const startedAt = new Date().toISOString();
  // Every option is checked before anything is read or written.
  validateRunOptions(opts);
  const { metrics, aopc } = resolveMetrics(opts);
  const batch = opts.batch ?? 16;
  const init: Init = opts.init ?? 'logit';
  const shard = opts.shard ?? null;
  const out = opts.out;
  // A folder another process writes is refused before any loading.
  assertUnlocked(out, 'lrp eval');

  // Everything that can be wrong with the model, the composites or the dataset fails here, before any work.
  const model = opts.loaded ?? loadEvalModel(opts.model, opts.preprocess, opts.output);
  if (aopc) checkAopcSettings(aopc, model.graph.input.shape);
  const notes: string[] = [];
  const analyzers = loadAnalyzers(opts.composites, model.graph, model.preprocess, {
    epsilon: opts.epsilon, flatLayers: opts.flatLayers, classifierLayers: opts.classifierLayers, patterns: opts.patterns, notes,
  });
  for (const note of notes) log(`note: ${note}`);
  for (const a of analyzers) for (const note of a.composite.notes) log(`note: ${note.startsWith(`${a.name}:`) ? '' : `${a.name}: `}${note}`);
  const usesPatterns = analyzers.some((a) => a.composite.method === 'pattern-attribution');
  const settings: EvalSettings = {
    model: opts.model, dataset: opts.dataset, split: opts.split ?? null, labels: opts.labels ?? null,
    analyzers: analyzers.map((a) => a.name), composites: analyzers.map((a) => a.arg), init,
    preprocess: model.preprocess, skipDifficult: opts.skipDifficult ?? false, limit: opts.limit ?? null,
    output: opts.output ?? null, epsilon: opts.epsilon ?? null, flatLayers: opts.flatLayers ?? null,
    classifierLayers: opts.classifierLayers ?? null, bootstrap: opts.bootstrap ?? DEFAULT_BOOTSTRAP,
    ...(usesPatterns ? { patterns: opts.patterns } : {}),
    ...(aopc ? { metrics, aopc } : {}),
  };
  const dataset = await openEvalDataset(opts, model.graph, log);
  // The relevance maps' file names, from the whole listing (not the shard or --limit): a resumed or
  // sharded run names every map alike, and no two pairs share a file.
  const ids = dataset.samples.map((s) => s.id);
  const imageStems = new Map(opts.saveRelevance ? uniqueStems(ids).map((stem, i) => [ids[i], stem]) : []);
  const names = analyzers.map((a) => a.name);
  const analyzerStems = new Map(uniqueStems(names).map((stem, i) => [names[i], stem]));
  const identity = runIdentity(opts, model, analyzers, dataset, settings, shard);
  const provenance: Provenance = {
    model: {
      path: opts.model, bytes: identity.model.bytes,
      sha256: identity.model.hash.startsWith('sha256:') ? identity.model.hash.slice('sha256:'.length) : null,
    },
    analyzers: analyzers.map((a) => ({ name: a.name, composite: a.arg, rules: compositeRows(a.composite, model.graph) })),
  };

  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw fileError(out, 'create the output folder', e);
  }
  const lock = acquireLock(out, opts.resume ? 'lrp eval --resume' : 'lrp eval', log);
  const removeSignalHandlers = exitCleanlyOnSignals((signal) => {
    log(`lrp eval: stopped by ${signal}; the records written so far are in ${join(out, PAIRS_FILE)}: run the same command with --resume to finish`);
  });
  let gpu: NodeGpu | null = null;
  let fm: ForwardModel | null = null;
  let evaluator: Evaluator | null = null;
  try {
    const orphans = removeOrphanTemps(out);
    if (orphans.length) log(`note: ${out}: removed ${orphans.length} temporary file(s) a killed run left (${orphans.join(', ')})`);

    // The folder: fresh, or the same run to resume.
    const previous = readRunFile(out);
    const hasRecords = nonEmpty(join(out, PAIRS_FILE)) || nonEmpty(join(out, SKIPS_FILE));
    if (!opts.resume && hasRecords) {
      throw new Error(`${out} already holds an evaluation run: give --resume to finish it, or another --out`);
    }
    if (!previous && hasRecords) throw new Error(`${out} has records but no ${RUN_FILE}: not a folder this tool wrote; use another --out`);
    // A run.json without a record (a run that failed before its first batch) is a fresh start.
    const resuming = previous !== null && hasRecords;
    if (resuming) {
      const differ = compareIdentity(previous.identity, identity);
      if (differ.length) {
        throw new Error(`${out}: --resume refused: this is another run than the one there: ${mismatchText(differ)}. `
          + 'Resume with the same model, dataset and options, or use another --out');
      }
      if (previous.identity.dataset.root !== identity.dataset.root) {
        log(`note: the dataset is at ${identity.dataset.root} now (${previous.identity.dataset.root} when the run started); its listing is the same`);
      }
      const fin = readFinished(out);
      if (fin.state === 'finished') {
        log(`${out}: the run has finished already (${fin.marker.records} records of ${fin.marker.pairs} pairs, ${fin.marker.skips} skipped, at ${fin.marker.finishedAt}); nothing to do`);
        const report = existsSync(join(out, REPORT_JSON))
          ? JSON.parse(readFileSync(join(out, REPORT_JSON), 'utf8')) as EvalReport
          : writeReport(out, previous.settings, shard, previous.images, provenance, null, null);
        return { report, out, batches: 0, images: 0, records: 0, seconds: performance.now() / 1000 - t0, stages: {} };
      }
      if (fin.state === 'changed') {
        log(`note: ${fin.why}: checking the records again and computing what is missing`);
        unlinkSync(join(out, FINISHED_FILE));
      }
    } else if (previous) {
      log(`note: ${join(out, RUN_FILE)}: replacing the description of a run that wrote no record`);
    }
    // A fresh start: a marker of an earlier run must not vouch for the files this one writes.
    if (!resuming && existsSync(join(out, FINISHED_FILE))) unlinkSync(join(out, FINISHED_FILE));
    // The report keeps the spelling of the options the run started with.
    const runSettings = resuming ? previous.settings : settings;

    const items = selectItems(dataset.samples, dataset.skips, { limit: opts.limit, shard });
    const read = readRecords(out, { repair: true });
    const readS = readSkips(out, { repair: true });
    if (read.torn || readS.torn) log(`note: ${out}: dropped a torn last line (the run was interrupted mid-write)`);
    const { records: doneRecords, skips: doneSkipList } = repairDuplicates(out, read.records, readS.skips, log);
    const ids = new Set(items.map((it) => it.id));
    const imageIndex = new Map(items.map((it) => [it.id, it.index]));
    const stray = doneRecords.find((r) => !ids.has(r.image) || !settings.analyzers.includes(r.analyzer));
    if (stray) {
      throw new Error(`${join(out, PAIRS_FILE)}: holds a record of ${stray.image} for ${stray.analyzer}, which this run does not take: `
        + `the file is not this run's alone; rerun into a new --out`);
    }
    const done = new Set(doneRecords.map((r) => recordKey(r.image, r.classIndex, r.analyzer)));
    const doneSkips = new Set(doneSkipList.map(skipKey));
    const skippedPairs = new Set(doneSkipList.map((s) => pairKey(s.id, s.classIndex)));
    if (!resuming) {
      const runFile: RunFile = { format: RUN_FORMAT, settings, identity, shard, images: items.length };
      writeFileAtomic(join(out, RUN_FILE), `${JSON.stringify(runFile, null, 1)}\n`);
    }

    gpu = opts.gpu ?? await createNodeGpu();
    // Pipelines and weights: `compile` while pipelines were pending, the rest is setup.
    const c0 = gpu.compile?.seconds() ?? 0;
    fm = await ForwardModel.create(gpu.ctx, model.graph, { conv: opts.conv });
    const convNote = opts.conv === 'winograd' ? winogradSkips(fm.methods()) : null;
    if (convNote) log(`note: ${convNote}`);
    evaluator = await Evaluator.create(fm, analyzers.map((a) => ({ name: a.name, composite: a.composite })), { relevanceBatch: batch, aopc });
    const compileSeconds = (gpu.compile?.seconds() ?? 0) - c0;

    const skipsOut = new JsonlAppender(join(out, SKIPS_FILE));
    const pairsOut = new JsonlAppender(join(out, PAIRS_FILE));
    const stages: StageTimes = compileSeconds > 0 ? { compile: compileSeconds } : {};
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
          init, maps: Boolean(saveDir), times: stages, imageIndex: (id) => imageIndex.get(id)!,
          need: (image, classIndex, analyzer) => !done.has(recordKey(image, classIndex, analyzer)),
        });
        const t = performance.now() / 1000;
        const order = sortRecords(res.records.map((r, i) => ({ ...r, i })), settings.analyzers);
        const records: PairRecord[] = order.map(({ i: _i, ...r }) => r);
        if (saveDir && res.maps) {
          const [, h, w] = model.graph.input.shape;
          for (const { i } of order) {
            const r = res.records[i];
            const dir = join(saveDir, analyzerStems.get(r.analyzer)!);
            mkdirSync(dir, { recursive: true });
            await writeNpy(join(dir, `${imageStems.get(r.image)!}_${r.classIndex}.npy`), [h, w], res.maps[i]);
          }
        }
        skipsOut.append(freshSkips([...skips, ...res.skips]));
        pairsOut.append(records);
        for (const r of records) done.add(recordKey(r.image, r.classIndex, r.analyzer));
        recordsWritten += records.length;
        addTime(stages, 'write', performance.now() / 1000 - t);
        batches++;
      };

      addTime(stages, 'setup', performance.now() / 1000 - t0 - compileSeconds);
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

    // The report, from what is on disk, then the finished marker.
    const tReport = performance.now() / 1000;
    const seconds = performance.now() / 1000 - t0;
    const report = writeReport(out, runSettings, shard, items.length, provenance, environment(gpu), {
      seconds, imagesPerSecond: imagesDone > 0 ? imagesDone / seconds : null, batch,
      startedAt, finishedAt: new Date().toISOString(), stages: roundStages(stages),
    });
    addTime(stages, 'report', performance.now() / 1000 - tReport);
    log(`wrote ${join(out, REPORT_JSON)}: ${report.pairs} pairs, ${report.records} records, ${report.degenerate.total} degenerate, ${report.skipped.count} skipped`);
    return { report, out, batches, images: imagesDone, records: recordsWritten, seconds, stages };
  } finally {
    evaluator?.destroy();
    fm?.destroy();
    if (gpu && !opts.gpu) gpu.close();
    lock.release();
    removeSignalHandlers();
  }
}

/** report.{json,md}, the curve and finished.json, from the records and skips on disk. */
function writeReport(
  out: string, settings: EvalSettings, shard: Shard | null, images: number,
  provenance: Provenance | null, env: Environment | null, timing: Timing | null,
): EvalReport {
  const records = readRecords(out).records;
  const skips = readSkips(out).skips;
  const report = buildReport({ settings, shard, images, records, skips, provenance, environment: env, timing });
  writeReportFiles(out, report);
  writeFinished(out, { images, pairs: report.pairs, records: report.records, skips: report.skipped.count });
  return report;
}

/** The tool and the adapter, for the report (they depend on the machine, like its timing). */
function environment(gpu: NodeGpu): Environment {
  return { tool: toolVersion(), adapters: [gpu.adapterName] };
}

function roundStages(s: StageTimes): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
}
