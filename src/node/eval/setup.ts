/**
 * What `lrp eval` and `lrp occlusion` check before any work: the model and its preprocessing, the
 * composites, the shard, and which images of the dataset the run takes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { BASELINE, compareIds } from '../../eval/aggregate.ts';
import type { Shard } from '../../eval/report.ts';
import type { Sample, Skip } from '../../eval/types.ts';
import type { Graph } from '../../graph/ir.ts';
import { numel, valueInfo } from '../../graph/ir.ts';
import { METHODS, parseComposite, resolveComposite, type CompositeSpec, type ResolvedComposite, type ResolveOptions } from '../../lrp/composite.ts';
import type { PatternSet } from '../../patterns/pattern-set.ts';
import { readPatterns } from '../patterns/files.ts';
import { channelCount, type PreprocessSpec } from '../../preprocess/spec.ts';
import { openDataset, type Dataset } from '../datasets/index.ts';
import { loadModel, type LoadedModel } from '../model-file.ts';
import type { AnalyzerSpec } from './analyzer.ts';
export type { AnalyzerSpec } from './analyzer.ts';

/**
 * `--composite` values: each a comma-separated list of preset names or composite .json files, or
 * one inline JSON object (which has commas of its own).
 */
export function splitCompositeArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    const t = a.trim();
    if (t.startsWith('{')) out.push(t);
    else out.push(...t.split(',').map((s) => s.trim()).filter(Boolean));
  }
  if (out.length === 0) throw new Error('--composite: name at least one composite');
  return out;
}


/** What loadAnalyzers carries to every composite: --epsilon, --flat-layers, --classifier-layers, --patterns. */
export interface AnalyzerOptions extends Omit<ResolveOptions, 'preprocess' | 'patterns'> {
  /** `--patterns DIR`: learned patterns, read (and checked against the model) when a composite needs them. */
  readonly patterns?: string | null;
  /** Where notes that concern no single composite go. */
  readonly notes?: string[];
}

/**
 * Parses and resolves every composite against the model; throws naming the composite at fault.
 * Names: a preset's name; a JSON composite's "name"; for a file without one, the file's base name.
 * Patterns are read once, after every composite parsed, and only when one needs them.
 */
export function loadAnalyzers(args: readonly string[], graph: Graph, preprocess: PreprocessSpec | null, opts: AnalyzerOptions = {}): AnalyzerSpec[] {
  const parsed = splitCompositeArgs(args).map((arg) => {
    let value: unknown = arg;
    let source = '--composite';
    let file: string | null = null;
    if (arg.startsWith('{')) {
      source = '--composite (inline JSON)';
    } else if (extname(arg) === '.json' || existsSync(arg)) {
      if (!existsSync(arg)) throw new Error(`${arg}: no such composite file`);
      value = readFileSync(arg, 'utf8');
      source = arg;
      file = arg;
    }
    return { arg, value, source, file, spec: parseComposite(value, source) };
  });
  const patterns = patternsFor(parsed.map((p) => p.spec), graph, opts);
  const { patterns: _dir, notes: _notes, ...resolve } = opts;
  const out: AnalyzerSpec[] = [];
  for (const { arg, value, source, file, spec } of parsed) {
    const composite = resolveComposite(spec, graph, { ...resolve, preprocess, patterns });
    let name = spec.name;
    const unnamed = name === 'custom' || (METHODS as readonly string[]).includes(name);
    if (file && unnamed && !/"name"\s*:/.test(String(value))) name = basename(file, extname(file));
    if (name === BASELINE) throw new Error(`${source}: "${BASELINE}" is the report's own row; name the composite otherwise`);
    if (out.some((a) => a.name === name)) {
      throw new Error(`two composites are named '${name}' (${out.find((a) => a.name === name)!.arg} and ${arg}): give JSON composites distinct "name"s`);
    }
    out.push({ name, arg, composite });
  }
  return out;
}

/**
 * The patterns of `--patterns DIR` when a composite is pattern-attribution (resolveComposite
 * names the missing option otherwise); a note when none is.
 */
export function patternsFor(specs: readonly CompositeSpec[], graph: Graph, opts: AnalyzerOptions): PatternSet | null {
  const needed = specs.some((s) => s.method === 'pattern-attribution');
  if (!opts.patterns) return null;
  if (!needed) {
    opts.notes?.push(`--patterns ${opts.patterns} has no effect: no composite is pattern-attribution`);
    return null;
  }
  const { set, notes } = readPatterns(opts.patterns, graph);
  opts.notes?.push(...notes);
  return set;
}

/** The model with a preprocessing spec that fits its C × H × W input, or a clear error. */
export function loadEvalModel(model: string, preprocessPath?: string, output?: string): LoadedModel & { preprocess: PreprocessSpec } {
  const m = loadModel(model, { preprocess: preprocessPath, output });
  if (!m.preprocess) {
    throw new Error(`${model}: no preprocessing spec: give --preprocess FILE or put ${model}.json beside the model (shared/docs/evaluation-protocol.md, "Preprocessing")`);
  }
  const shape = m.graph.input.shape;
  const want = [channelCount(m.preprocess), ...m.preprocess.size];
  if (shape.length !== 3 || shape.some((d, i) => d !== want[i])) {
    throw new Error(`${model}: the model takes ${shape.join('×')} but the preprocessing (${m.preprocessSource}) makes ${want.join('×')}`);
  }
  return m as LoadedModel & { preprocess: PreprocessSpec };
}

export function modelClasses(graph: Graph): number {
  return numel(valueInfo(graph, graph.output).shape);
}

/**
 * Opens the dataset of an `lrp eval` or `lrp occlusion` run, logs its notes, and checks that its
 * label list matches the model's outputs, naming both when it does not.
 */
export async function openEvalDataset(
  opts: { dataset: string; model: string; split?: string; labels?: string; skipDifficult?: boolean },
  graph: Graph, log: (line: string) => void,
): Promise<Dataset> {
  const dataset = await openDataset(opts.dataset, { split: opts.split, labels: opts.labels, skipDifficult: opts.skipDifficult });
  for (const note of dataset.notes) log(`note: ${note}`);
  const classes = modelClasses(graph);
  if (dataset.classNames.length !== classes) {
    throw new Error(`${opts.dataset}: the label list has ${dataset.classNames.length} classes but ${opts.model} has ${classes} outputs${opts.labels ? '' : ' (give --labels FILE)'}`);
  }
  return dataset;
}

/** `i/n` with 0 <= i < n. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count)) throw new Error(`--shard: expected i/n with 0 <= i < n (e.g. 0/4), got '${text}'`);
  return { index, count };
}

/** One image of the run: its sample (absent when reading dropped the whole image) and its reading skips. */
export interface Item {
  readonly id: string;
  readonly sample: Sample | null;
  readonly skips: Skip[];
  /** The image's position in the sorted list of every image id (before --limit and --shard): seeds region perturbation. */
  readonly index: number;
}

/**
 * The images a run takes: every image id the dataset knows (samples, and images dropped while
 * reading), sorted by id in code-point order; the first `limit`; then, with a shard i/n, those
 * whose position in that list is i modulo n. Dropped images take part, so their skips are counted
 * in exactly one shard.
 */
export function selectItems(samples: readonly Sample[], skips: readonly Skip[], opts: { limit?: number | null; shard?: Shard | null }): Item[] {
  const byId = new Map<string, { id: string; sample: Sample | null; skips: Skip[]; index: number }>();
  const get = (id: string) => byId.get(id) ?? byId.set(id, { id, sample: null, skips: [], index: -1 }).get(id)!;
  for (const s of samples) {
    const it = get(s.id);
    if (it.sample) throw new Error(`the dataset has two samples with id ${s.id}`);
    it.sample = s;
  }
  for (const k of skips) get(k.id).skips.push(k);
  let items = [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
  items.forEach((it, i) => {
    it.index = i;
  });
  if (opts.limit !== undefined && opts.limit !== null) items = items.slice(0, opts.limit);
  const shard = opts.shard;
  if (shard) items = items.filter((_, i) => i % shard.count === shard.index);
  return items;
}
