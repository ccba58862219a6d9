/**
 * `lrp sanity`: the model-parameter randomization check (src/eval/sanity.ts) on image files or on
 * the first images of a dataset, written as report.md, report.json, sanity-spearman.svg and
 * sanity-ssim.svg in the output folder, with progress on stderr.
 *
 * Pairs: with image files (or a .npy batch), one pair per input, its class the original model's
 * prediction unless `--target` gives one; with a dataset, every (image, class) pair of its first
 * `images` images (sorted by id), the class the annotated one. Every option is checked, and the
 * inputs read, before the GPU opens.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareIds } from '../../eval/aggregate.ts';
import type { StageTimes } from '../../eval/evaluator.ts';
import { isPrepared } from '../../eval/pairs.ts';
import { sanityCheck, type SanityPair, type SanityResult } from '../../eval/sanity.ts';
import { sanityJson, sanityMarkdown, sanitySvg, type SanitySettings } from '../../eval/sanity-report.ts';
import type { Skip } from '../../eval/types.ts';
import { ForwardModel } from '../../forward/model.ts';
import type { Init, Target } from '../../lrp/explainer.ts';
import { createNodeGpu, type NodeGpu } from '../gpu.ts';
import { toolVersion } from '../version.ts';
import { loadInputs } from '../inputs.ts';
import { loadModel, type LoadedModel } from '../model-file.ts';
import { prepareSamples } from '../prepare/index.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { checkOutputPlan, modelRunInputs } from '../output-plan.ts';
import { Progress } from './progress.ts';
import { loadAnalyzers, loadEvalModel, openEvalDataset, selectItems, type AnalyzerOptions } from './setup.ts';
import { checkWhole } from './validate.ts';

export interface SanityRunOptions extends Omit<AnalyzerOptions, 'notes'> {
  readonly model: string;
  /** `model` already loaded with `output` and `preprocess` (the CLI reads it to resolve --target): not read again. */
  readonly loaded?: LoadedModel;
  readonly composites: readonly string[];
  readonly out: string;
  /** Image files or one .npy batch; or `dataset`. */
  readonly input?: readonly string[];
  readonly dataset?: string;
  readonly split?: string;
  readonly skipDifficult?: boolean;
  readonly workers?: number;
  readonly labels?: string;
  /** At most this many images (inputs, or the dataset's first by id). */
  readonly images?: number;
  /** Per input, or one for all (image inputs only); default `predicted`. */
  readonly targets?: readonly Target[];
  readonly seed?: number;
  readonly batch?: number;
  readonly init?: Init;
  readonly preprocess?: string;
  readonly output?: string;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
  readonly gpu?: NodeGpu;
}

/** What `lrp sanity` writes into its folder. */
const SANITY_FILES = ['report.json', 'report.md', 'sanity-spearman.svg', 'sanity-ssim.svg'];

export interface SanityRunResult {
  readonly result: SanityResult;
  readonly skips: Skip[];
  readonly seconds: number;
  readonly stages: StageTimes;
  readonly out: string;
}

/** Checks the options that need no file (the CLI checks them too, to name the flag early). */
export function validateSanityOptions(o: SanityRunOptions): void {
  checkWhole('images', o.images, 1);
  checkWhole('seed', o.seed, 0);
  checkWhole('batch', o.batch, 1);
  checkWhole('workers', o.workers, 0);
  const sources = (o.input?.length ? 1 : 0) + (o.dataset ? 1 : 0);
  if (sources !== 1) throw new Error(sources ? 'give --input or --dataset, not both' : 'give the images to explain: --input FILES or --dataset voc:DIR|imagenet:DIR');
  if (o.targets && o.dataset) throw new Error('--target is for --input: a dataset\'s pairs take their annotated classes');
}

/**
 * The pairs of the run, read before the GPU opens: a dataset's (image, class) pairs (ids
 * `IMAGE CLASS`, sorted) or one per input (its file name); with the skips met on the way.
 */
export async function readSanityPairs(
  o: SanityRunOptions, model: LoadedModel, log: (l: string) => void,
): Promise<{ pairs: SanityPair[]; skips: Skip[]; inputs: string }> {
  if (o.dataset) {
    const preprocess = model.preprocess!;
    const ds = await openEvalDataset({ dataset: o.dataset, model: o.model, split: o.split, labels: o.labels, skipDifficult: o.skipDifficult }, model.graph, log);
    const items = selectItems(ds.samples, ds.skips, { limit: o.images ?? 16 });
    const skips: Skip[] = items.flatMap((it) => it.skips);
    const pairs: SanityPair[] = [];
    const stream = prepareSamples(items.flatMap((it) => (it.sample ? [it.sample] : [])), preprocess, { workers: o.workers });
    try {
      for await (const r of stream) {
        skips.push(...r.skips);
        if (!isPrepared(r)) continue;
        for (const p of r.pairs) pairs.push({ id: `${r.sample.id} ${p.className}`, input: r.input, target: p.classIndex });
      }
    } finally {
      await stream.close();
    }
    pairs.sort((a, b) => compareIds(a.id, b.id));
    return { pairs, skips, inputs: `${o.dataset} (first ${items.length} images by id)` };
  }
  const batch = await loadInputs(o.input!, model.graph, model.preprocess, `give --preprocess FILE or put ${o.model}.json beside the model`);
  for (const f of batch.failures) log(`skipped ${f.message}`);
  const count = Math.min(batch.count, o.images ?? batch.count);
  const targets = o.targets ?? ['predicted'];
  if (targets.length !== 1 && targets.length !== batch.count) throw new Error(`--target gives ${targets.length} classes for ${batch.count} inputs (give one per input, or one for all)`);
  const per = batch.data.length / batch.count;
  const pairs: SanityPair[] = Array.from({ length: count }, (_, i) => ({
    id: batch.names[i], input: batch.data.subarray(i * per, (i + 1) * per), target: targets.length === 1 ? targets[0] : targets[i],
  }));
  const skips: Skip[] = batch.failures.map((f) => ({ id: f.path, reason: f.message }));
  return { pairs, skips, inputs: `${count} input${count === 1 ? '' : 's'}` };
}

export async function runSanity(o: SanityRunOptions): Promise<SanityRunResult> {
  const log = o.log ?? ((l: string) => console.error(l));
  const t0 = performance.now() / 1000;
  validateSanityOptions(o);
  const model = o.dataset ? loadEvalModel(o.model, o.preprocess, o.output) : o.loaded ?? loadModel(o.model, { output: o.output, preprocess: o.preprocess });
  const { graph } = model;
  const notes: string[] = [];
  const analyzers = loadAnalyzers(o.composites, graph, model.preprocess, {
    epsilon: o.epsilon, flatLayers: o.flatLayers, classifierLayers: o.classifierLayers, patterns: o.patterns, notes,
  });
  for (const n of notes) log(`note: ${n}`);
  const { pairs, skips, inputs } = await readSanityPairs(o, model, log);
  if (pairs.length === 0) throw new Error(`no (image, class) pair to explain in ${inputs}`);
  // Before the GPU opens: the report may not replace an input, and its folder must be creatable.
  checkOutputPlan(SANITY_FILES.map((f) => ({ path: join(o.out, f), what: '--out' })), modelRunInputs(o));
  mkdirSync(o.out, { recursive: true });

  const settings: SanitySettings = { model: o.model, inputs, seed: o.seed ?? 0, init: o.init ?? 'logit', batch: o.batch ?? 16 };
  const gpu = o.gpu ?? await createNodeGpu();
  let fm: ForwardModel | null = null;
  try {
    fm = await ForwardModel.create(gpu.ctx, graph);
    const stages: StageTimes = {};
    let progress: Progress | null = null;
    const result = await sanityCheck(fm, analyzers, pairs, {
      seed: settings.seed, batch: settings.batch, init: settings.init, times: stages,
      onProgress: o.progress === false ? undefined : (done, total, what) => {
        progress ??= new Progress({ total, label: 'sanity', unit: ['pair passes', 'pairs/s'] });
        gpu.compile?.clearLine();
        progress.update(done, what);
      },
    });
    (progress as Progress | null)?.finish();
    const seconds = performance.now() / 1000 - t0;
    writeFileAtomic(join(o.out, 'report.json'), `${JSON.stringify(sanityJson(result, settings, { skipped: skips, tool: toolVersion(), adapter: gpu.adapterName, timing: { seconds, stages } }), null, 1)}\n`);
    writeFileAtomic(join(o.out, 'report.md'), sanityMarkdown(result, settings));
    writeFileAtomic(join(o.out, 'sanity-spearman.svg'), sanitySvg(result, 'spearman'));
    writeFileAtomic(join(o.out, 'sanity-ssim.svg'), sanitySvg(result, 'ssim'));
    return { result, skips, seconds, stages, out: o.out };
  } finally {
    fm?.destroy();
    if (!o.gpu) gpu.close();
  }
}
