/**
 * `lrp patterns`: learns PatternAttribution's patterns of a model from a statistics set
 * (shared/docs/lrp-rules.md, "PatternAttribution"). The set is an `.npy` of preprocessed inputs,
 * streamed a batch at a time, or a dataset folder read and preprocessed exactly as `lrp eval`
 * reads it (worker threads, the model's preprocessing spec; the boxes play no part). Each batch
 * runs one forward pass and adds every linear layer's statistics into running sums on the GPU
 * (src/patterns/statistics.ts); at the end the sums come back, the patterns are computed in
 * float64 and written with patterns.json (files.ts).
 *
 * Resume: after a batch, at most every `checkpointSeconds` (default 60; 0: after every batch), the
 * running sums are written to DIR/patterns.checkpoint atomically with the position in the set.
 * `--resume` restores them and continues with the next batch: the same batches as an
 * uninterrupted run, the same sums bit for bit, so the same patterns. A checkpoint is the GPU's
 * exact state (float32 sums and compensations, about 44 bits together; 16 bytes per weight: VGG-16's
 * is 2.2 GB, which is why it is not rewritten after every batch of a fast GPU) rather than float64
 * values, which could not be put back bit for bit. A kill loses at most the batches since it.
 *
 * The checkpoint carries a SHA-256 checksum and the statistics set's identity (identity.ts): a
 * damaged checkpoint, or a resume over other data, is refused naming the file or what changed.
 * Samples that are not finite are refused, naming the file and the sample's index.
 *
 * Decisions: the samples of an `.npy` are taken in order; a dataset's images in the sorted order
 * of `lrp eval` (`--limit` takes the first N). An image that cannot be read is skipped and listed
 * in patterns.json's count (and the log); the statistics cover the others. `--batch` must stay the
 * same across a resume (the per-batch float32 sums depend on it).
 */
import { winogradSkips, type ConvMode } from '../../forward/winograd.ts';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ForwardModel } from '../../forward/model.ts';
import type { Graph } from '../../graph/ir.ts';
import { assertFinite } from '../../io/finite.ts';
import { isLinear, numel } from '../../graph/ir.ts';
import { weightsDigest } from '../../patterns/pattern-set.ts';
import { PatternStatistics } from '../../patterns/statistics.ts';
import { patternFromSums } from '../../patterns/sums.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import { openEvalDataset, selectItems } from '../eval/setup.ts';
import { Progress } from '../eval/progress.ts';
import { acquireLock, assertUnlocked, exitCleanlyOnSignals, removeOrphanTemps } from '../eval/lock.ts';
import { fileError } from '../file-errors.ts';
import { createNodeGpu, type NodeGpu } from '../gpu.ts';
import { loadModel } from '../model-file.ts';
import { NpyStream } from '../npy-stream.ts';
import { checkOutputPlan, modelRunInputs } from '../output-plan.ts';
import { isPrepared, prepareSamples } from '../prepare/index.ts';
import { datasetSetIdentity, npySetIdentity, statisticsDifference, type StatisticsIdentity } from './identity.ts';
import type { Sample } from '../../eval/types.ts';
import {
  CHECKPOINT_FILE, PATTERNS_FORMAT, PATTERNS_JSON, patternFileNames, readCheckpoint, writeCheckpoint, writePatterns,
  type PatternsFile, type StatisticsSource,
} from './files.ts';

export interface PatternsOptions {
  readonly model: string;
  /** The graph output (`--output`; default the model's first): the graph the patterns are learned on. */
  readonly output?: string;
  /** An .npy of N preprocessed inputs (N x the model's input shape), float32 or float64. */
  readonly input?: string;
  /** `voc:DIR` or `imagenet:DIR`: images preprocessed by the model's spec. */
  readonly dataset?: string;
  readonly split?: string;
  readonly labels?: string;
  readonly limit?: number;
  readonly out: string;
  /** Samples per forward pass (default 16). */
  readonly batch?: number;
  readonly resume?: boolean;
  readonly preprocess?: string;
  /** How 3x3 stride-1 convolutions run (`--conv`; default `'auto'`, see src/forward/winograd.ts). An execution choice like the batch, not part of a run's identity: the methods agree to float32 rounding. */
  readonly conv?: ConvMode;
  readonly workers?: number;
  /** Seconds between checkpoints (default 60; 0: after every batch). */
  readonly checkpointSeconds?: number;
  /** Also log each layer's statistics cost per batch. */
  readonly verbose?: boolean;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
  /** Reuse a device (tests, the demo); default: open one and close it at the end. */
  readonly gpu?: NodeGpu;
  /** Test hook, the kill simulation: stop after this many batches, as a killed process would. */
  readonly stopAfterBatches?: number;
}

export interface PatternsResult {
  /** null when stopped by stopAfterBatches. */
  readonly file: PatternsFile | null;
  readonly out: string;
  /** Samples added in this session. */
  readonly samples: number;
  readonly batches: number;
  readonly seconds: number;
  /** Seconds per stage in this session: setup, read (waiting for samples), forward, statistics, checkpoint, write. */
  readonly stages: Record<string, number>;
}

/** One batch of inputs and the set position after it. */
interface Batch { readonly input: Float32Array; readonly count: number; readonly position: number }

const now = () => performance.now() / 1000;

export async function runPatterns(o: PatternsOptions): Promise<PatternsResult> {
  const log = o.log ?? ((l: string) => console.error(l));
  const t0 = now();
  const stages: Record<string, number> = {};
  const add = (stage: string, since: number) => { stages[stage] = (stages[stage] ?? 0) + now() - since; };
  const batch = o.batch ?? 16;
  if (!(Number.isSafeInteger(batch) && batch >= 1)) throw new Error(`--batch must be a whole number >= 1, got ${batch}`);
  if (o.limit !== undefined && !(Number.isSafeInteger(o.limit) && o.limit >= 0)) throw new Error(`--limit must be a whole number >= 0, got ${o.limit}`);
  const every = o.checkpointSeconds ?? 60;
  if (!(every >= 0)) throw new Error(`--checkpoint-seconds must be >= 0, got ${every}`);
  if ((o.input === undefined) === (o.dataset === undefined)) throw new Error('give the statistics set as either --input STATS.npy or --dataset voc:DIR|imagenet:DIR');

  // A folder another process writes is refused before any loading.
  assertUnlocked(o.out, 'lrp patterns');
  // Everything that can be wrong with the model, the set or the folder fails here, before any work.
  const model = loadModel(o.model, { preprocess: o.preprocess, output: o.output });
  const { graph } = model;
  if (!graph.layers.some(isLinear)) throw new Error(`${o.model}: the model has no Conv, Gemm or MatMul to learn patterns for`);
  const digest = weightsDigest(graph);
  const source: StatisticsSource = o.input !== undefined
    ? { input: o.input }
    : { dataset: o.dataset!, split: o.split ?? null, labels: o.labels ?? null };
  const settings = {
    format: PATTERNS_FORMAT, model: basename(o.model), weights: digest, statistics: { ...source, limit: o.limit ?? null },
    batch, preprocess: o.input !== undefined ? null : model.preprocess,
  };
  // No file of the run may replace one it reads (a node named like the statistics .npy in its folder).
  checkOutputPlan([...patternFileNames(graph).values(), PATTERNS_JSON, CHECKPOINT_FILE].map((f) => ({ path: join(o.out, f), what: '--out' })), [
    ...modelRunInputs(o),
  ]);
  const set = o.input !== undefined ? openNpySet(o.input, graph, o.limit) : await openImageSet(o, graph, model.preprocess, log);
  const out = o.out;
  let previous: ReturnType<typeof readCheckpoint>;
  try {
    previous = readCheckpoint(out);
  } catch (e) {
    set.close();
    throw e;
  }
  const done = existsSync(join(out, PATTERNS_JSON)) && !previous;
  if (done) {
    set.close();
    throw new Error(`${out} already holds learned patterns (${PATTERNS_JSON}); choose another --out, or delete it to learn them again`);
  }
  if (previous && !o.resume) {
    set.close();
    throw new Error(`${out} holds an unfinished run (${CHECKPOINT_FILE}): give --resume to finish it, or another --out`);
  }
  if (previous) {
    const differ = Object.keys(settings).filter((k) => JSON.stringify((settings as Record<string, unknown>)[k]) !== JSON.stringify(previous.header.settings[k]));
    if (differ.length) {
      set.close();
      throw new Error(`${out}: --resume with other settings than the run there (${differ.join(', ')} differ); resume with the same options or use another --out`);
    }
    const changed = statisticsDifference(previous.header.identity, set.identity);
    if (changed) {
      set.close();
      throw new Error(`${out}: --resume with another statistics set than the run there: ${changed}; its sums cannot be continued over other data: `
        + `resume with the same data, or delete ${join(out, CHECKPOINT_FILE)} to start over, or use another --out`);
    }
  }
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    set.close();
    throw fileError(out, 'create the output folder', e);
  }
  const lock = acquireLock(out, o.resume ? 'lrp patterns --resume' : 'lrp patterns', log);
  const removeSignalHandlers = exitCleanlyOnSignals((signal) => {
    log(`lrp patterns: stopped by ${signal}; ${existsSync(join(out, CHECKPOINT_FILE)) ? `the running sums of the last checkpoint are in ${join(out, CHECKPOINT_FILE)}: run the same command with --resume to finish` : 'no checkpoint was written yet'}`);
  });
  let gpu: NodeGpu | null = null;
  let fm: ForwardModel | null = null;
  let stats: PatternStatistics | null = null;
  try {
    const orphans = removeOrphanTemps(out);
    if (orphans.length) log(`note: ${out}: removed ${orphans.length} temporary file(s) a killed run left (${orphans.join(', ')})`);
    gpu = o.gpu ?? await createNodeGpu();
    fm = await ForwardModel.create(gpu.ctx, graph, { conv: o.conv });
    const convNote = o.conv === 'winograd' ? winogradSkips(fm.methods()) : null;
    if (convNote) log(`note: ${convNote}`);
    const fwd = fm;
    stats = await PatternStatistics.create(fm);
    if (batch > fm.maxBatch) throw new Error(`--batch ${batch} exceeds ${fm.maxBatch}, the largest whose activations fit this adapter's bindings`);
    const skipped: { id: string; reason: string }[] = [...(previous?.header.skipped ?? [])];
    let position = previous?.header.position ?? 0;
    if (previous) {
      stats.restore(previous.snapshot);
      log(`resuming: ${previous.snapshot.samples} samples in ${previous.snapshot.batches} batches on disk; ${set.total - position} of ${set.total} left`);
    }
    const costs = stats.cost(batch);
    const flops = costs.reduce((s, c) => s + c.flops, 0);
    const state = costs.reduce((s, c) => s + c.stateBytes, 0);
    log(`statistics of ${costs.length} layers: ${(flops / batch / 1e9).toFixed(2)} GFLOP per sample, running sums ${(state / 2 ** 20).toFixed(1)} MiB on the GPU`);
    if (o.verbose) {
      for (const c of costs) {
        log(`  ${c.layer}: ${(c.flops / batch / 1e6).toFixed(1)} MFLOP and ${(c.bytes / batch / 2 ** 20).toFixed(2)} MiB per sample, sums ${(c.stateBytes / 2 ** 20).toFixed(1)} MiB in ${c.chunks} chunk${c.chunks > 1 ? 's' : ''}, rows in ${c.splits} slice${c.splits > 1 ? 's' : ''}`);
      }
    }

    const progress = o.progress === false ? null : new Progress({ total: set.total - position, label: 'patterns' });
    let lastCheckpoint = now();
    let batches = 0;
    let samples = 0;
    const startedAt = position;
    add('setup', t0);
    const it = set.batches(position, batch, skipped, log);
    try {
      for (;;) {
        let t = now();
        const next = await it.next();
        add('read', t);
        if (next.done) break;
        const b = next.value;
        if (b.count > 0) {
          t = now();
          const acts = await fwd.forward(b.input, b.count);
          add('forward', t);
          try {
            t = now();
            await stats.accumulate(acts);
            add('statistics', t);
          } finally {
            acts.release();
          }
        }
        position = b.position;
        batches++;
        samples += b.count;
        progress?.update(position - startedAt, `${stats.samples} samples`);
        const last = position >= set.total;
        if (!last && (every === 0 || now() - lastCheckpoint >= every)) {
          t = now();
          writeCheckpoint(out, { format: PATTERNS_FORMAT, settings, identity: set.identity, position, skipped }, await stats.snapshot());
          add('checkpoint', t);
          lastCheckpoint = now();
        }
        if (o.stopAfterBatches !== undefined && batches >= o.stopAfterBatches && !last) {
          log(`stopped after ${batches} batches (stopAfterBatches)`);
          return { file: null, out, samples, batches, seconds: now() - t0, stages };
        }
      }
    } finally {
      await it.return?.(undefined);
      set.close();
    }
    progress?.finish();
    if (stats.samples === 0) throw new Error(`${o.input ?? o.dataset}: no sample could be read; nothing to learn from`);

    const t = now();
    const patterns = new Map<string, Float32Array>();
    const rows = new Map<string, number>();
    for (const layer of stats.linearLayers) {
      const sums = await stats.readLayer(layer.name);
      patterns.set(layer.name, patternFromSums(layer.weight, sums));
      rows.set(layer.name, sums.rows);
    }
    const file = writePatterns(out, graph, patterns, {
      model: settings.model, weights: digest, statistics: settings.statistics, samples: stats.samples, skipped: skipped.length,
      batch, preprocess: settings.preprocess, rows,
    });
    try {
      rmSync(join(out, CHECKPOINT_FILE), { force: true });
    } catch (e) {
      throw fileError(join(out, CHECKPOINT_FILE), 'remove the finished run\'s checkpoint', e);
    }
    add('write', t);
    log(`wrote ${patterns.size} patterns and ${PATTERNS_JSON} to ${out}: ${stats.samples} samples${skipped.length ? `, ${skipped.length} skipped` : ''}`);
    return { file, out, samples, batches, seconds: now() - t0, stages };
  } finally {
    stats?.destroy();
    fm?.destroy();
    if (!o.gpu) gpu?.close();
    lock.release();
    removeSignalHandlers();
  }
}

/** A statistics set: `total` items, read as batches of model inputs from a position on. */
interface StatisticsSet {
  readonly total: number;
  /** The set by content (identity.ts), for the checkpoint and --resume. */
  readonly identity: StatisticsIdentity;
  batches(from: number, batch: number, skipped: { id: string; reason: string }[], log: (line: string) => void): AsyncIterator<Batch, undefined>;
  close(): void;
}

function openNpySet(path: string, graph: Graph, limit: number | undefined): StatisticsSet {
  const npy = new NpyStream(path);
  const want = graph.input.shape;
  const got = npy.sampleShape;
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    npy.close();
    throw new Error(`${path}: samples of shape [${got.join(', ')}], the model takes [${want.join(', ')}] (an .npy statistics set holds preprocessed model inputs, N x ${want.join(' x ')})`);
  }
  const total = Math.min(npy.count, limit ?? Infinity);
  let identity: StatisticsIdentity;
  try {
    identity = npySetIdentity(path, npy.count);
  } catch (e) {
    npy.close();
    throw e;
  }
  return {
    total, identity,
    async *batches(from, batch) {
      for (let n0 = from; n0 < total; n0 += batch) {
        const n = Math.min(batch, total - n0);
        const input = npy.read(n0, n);
        // A non-finite sample would turn every pattern NaN: refused, naming the sample.
        assertFinite(input, [n, ...want], path, n0);
        yield { input, count: n, position: n0 + n };
      }
      return undefined;
    },
    close: () => npy.close(),
  };
}

async function openImageSet(o: PatternsOptions, graph: Graph, preprocess: PreprocessSpec | null, log: (line: string) => void): Promise<StatisticsSet> {
  if (!preprocess) throw new Error(`${o.model}: no preprocessing spec for the images of ${o.dataset}: give --preprocess FILE or put ${o.model}.json beside the model`);
  const want = graph.input.shape;
  const makes = [preprocess.channels === 'GRAY' ? 1 : 3, ...preprocess.size];
  if (want.length !== 3 || want.some((d, i) => d !== makes[i])) {
    throw new Error(`${o.model}: the model takes ${want.join('×')} but the preprocessing makes ${makes.join('×')}`);
  }
  // As lrp eval opens it: a label list that does not match the model's outputs (a VOC folder of
  // other classes without --labels) is refused up front, where the reader would drop every image.
  const dataset = await openEvalDataset({ dataset: o.dataset!, model: o.model, split: o.split, labels: o.labels }, graph, log);
  // Every image the dataset lists, in lrp eval's order; images its reader dropped are skips.
  const items = selectItems(dataset.samples, dataset.skips, { limit: o.limit });
  const per = numel(want);
  return {
    total: items.length,
    identity: datasetSetIdentity(dataset),
    async *batches(from, batch, skipped, logLine) {
      const todo = items.slice(from);
      // Images alone: the boxes play no part in the statistics.
      const samples: Sample[] = todo.flatMap((it) => (it.sample ? [{ ...it.sample, classes: [] }] : []));
      const stream = prepareSamples(samples, preprocess, { workers: o.workers });
      const skip = (id: string, reason: string) => {
        skipped.push({ id, reason });
        logLine(`skipped ${id}: ${reason}`);
      };
      let ti = 0; // the next item of todo
      let pending: Float32Array[] = [];
      let yielded = from;
      // Items the reader dropped (no sample) before the next sample are consumed in their turn.
      const passDropped = () => {
        for (; ti < todo.length && !todo[ti].sample; ti++) skip(todo[ti].id, todo[ti].skips.map((k) => k.reason).join('; ') || 'not readable');
      };
      const flush = (): Batch => {
        const input = new Float32Array(pending.length * per);
        pending.forEach((x, i) => input.set(x, i * per));
        const b = { input, count: pending.length, position: from + ti };
        pending = [];
        yielded = b.position;
        return b;
      };
      try {
        for await (const r of stream) {
          passDropped();
          ti++;
          if (isPrepared(r)) pending.push(r.input);
          else skip(r.sample.id, r.reason);
          if (pending.length >= batch) yield flush();
        }
        passDropped();
        if (pending.length || from + ti > yielded) yield flush();
      } finally {
        await stream.close();
      }
      return undefined;
    },
    close: () => undefined,
  };
}
