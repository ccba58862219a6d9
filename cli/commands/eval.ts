import { basename, join } from 'node:path';
import type { ConvMode } from '../../src/forward/winograd.ts';
import type { HeatmapMode } from '../../src/heatmap/index.ts';
import type { Init } from '../../src/lrp/explainer.ts';
import type { Sample } from '../../src/eval/types.ts';
import { galleryFiles, pickGallery, writeGallery } from '../../src/node/gallery.ts';
import { createNodeGpu } from '../../src/node/gpu.ts';
import { readLabels } from '../../src/node/labels.ts';
import { runEval } from '../../src/node/eval/run.ts';
import { loadAnalyzers, loadEvalModel, openEvalDataset, selectItems, type AnalyzerSpec } from '../../src/node/eval/setup.ts';
import { profileTable } from '../common.ts';
import { RANDOM_ROW } from '../../src/eval/aopc-report.ts';
import {
  AOPC_OPTIONS, batchOption, COMPOSITE_OPTIONS, CONV_OPTION, DATASET_OPTIONS, defineCommand, MODEL_OPTIONS, PROFILE_OPTION, RENDER_OPTIONS, VERBOSE_OPTION, wholeAtLeast,
} from '../options.ts';
import { resolveShard } from '../../src/node/eval/shard.ts';
import { resolveMetrics } from '../../src/node/eval/metrics.ts';

interface Args {
  model: string;
  output?: string;
  preprocess?: string;
  labels?: string;
  dataset: string;
  split?: string;
  limit?: number;
  'skip-difficult': boolean;
  workers?: number;
  composite: string[];
  epsilon?: number;
  'flat-layers'?: number;
  'classifier-layers'?: number;
  patterns?: string;
  batch: number;
  out: string;
  'save-relevance': boolean;
  shard?: string;
  resume: boolean;
  init: Init;
  gallery: number;
  seed: number;
  bootstrap: number;
  cmap: string;
  clip: number;
  mode: HeatmapMode;
  overlay: boolean;
  verbose: boolean;
  profile: boolean;
  metrics: string;
  steps?: number;
  patch?: number;
  baseline?: string;
  conv: ConvMode;
}

/** The AOPC table for the terminal: per analyzer and the random order, mean and 95 % interval of AOPC-MoRF, AOPC-LeRF and ABPC. */
export function aopcTableText(table: NonNullable<import('../../src/eval/report.ts').EvalReport['aopc']>): string {
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(4)).padStart(8);
  const ci = (c: readonly [number, number] | null) => (c ? `[${c[0].toFixed(3)}, ${c[1].toFixed(3)}]` : '–').padStart(17);
  const lines = [`${'region perturbation'.padEnd(24)} ${'AOPC-MoRF'.padStart(8)} ${'95% CI'.padStart(17)} ${'AOPC-LeRF'.padStart(8)} ${'95% CI'.padStart(17)} ${'ABPC'.padStart(8)} ${'95% CI'.padStart(17)} ${'pairs'.padStart(7)}`];
  for (const [name, row] of Object.entries(table)) {
    lines.push(`${(name === RANDOM_ROW ? `${name} order` : name).padEnd(24)} ${f(row.morf.mean)} ${ci(row.morf.ci95)} ${f(row.lerf.mean)} ${ci(row.lerf.ci95)} ${f(row.abpc.mean)} ${ci(row.abpc.ci95)} ${String(row.morf.pairs).padStart(7)}`);
  }
  return lines.join('\n');
}

export const evalCommand = defineCommand<Args>({
  command: 'eval',
  describe: 'Measure how much relevance falls in the object boxes of a dataset (mu, mu_w with 95% intervals; Table 1 and Fig. 3 of the paper)',
  options: [
    ...MODEL_OPTIONS,
    CONV_OPTION,
    ...DATASET_OPTIONS,
    ...COMPOSITE_OPTIONS,
    batchOption('images per forward pass (and most pairs per relevance pass)', 16),
    { name: 'out', opt: { type: 'string', default: 'eval-out', describe: 'output folder: pairs.jsonl, skips.jsonl, report.{json,md}, curve.{csv,svg}, gallery/' } },
    { name: 'save-relevance', opt: { type: 'boolean', default: false, describe: 'also write each pair\'s channel-summed H×W relevance: DIR/relevance/ANALYZER/IMAGE_CLASS.npy' } },
    {
      name: 'shard',
      opt: { type: 'string', describe: 'i/n: take the images at positions i, i+n, ... of the sorted list (merge with lrp merge); auto: i/n from a Slurm job array, auto/N from a Kubernetes Indexed Job of N completions' },
    },
    { name: 'resume', opt: { type: 'boolean', default: false, describe: 'finish an interrupted run in --out' } },
    {
      name: 'metrics',
      opt: { type: 'string', default: 'mu', describe: 'what to measure: mu (always), and aopc: region perturbation (AOPC-MoRF, AOPC-LeRF, ABPC and the random order; --steps, --patch, --baseline)' },
    },
    ...AOPC_OPTIONS,
    { name: 'init', opt: { choices: ['logit', 'onehot'] as const, default: 'logit' as Init, describe: 'relevance at the true class: its logit (the paper) or 1' } },
    { name: 'gallery', opt: { type: 'number', default: 0, describe: 'also draw a heatmap gallery of N images (every analyzer, boxes shown): DIR/gallery/index.html' }, check: wholeAtLeast(0)('gallery') },
    { name: 'seed', opt: { type: 'number', default: 0, describe: 'seeds the bootstrap of the intervals and the gallery\'s choice of images' }, check: wholeAtLeast(0)('seed') },
    { name: 'bootstrap', opt: { type: 'number', default: 2000, describe: 'bootstrap resamples per 95% interval' }, check: wholeAtLeast(100)('bootstrap') },
    ...RENDER_OPTIONS,
    VERBOSE_OPTION,
    PROFILE_OPTION,
  ],
  examples: [
    ['eval --model caffenet-voc.onnx --dataset voc:VOCdevkit/VOC2007 --composite cmp-alpha2-flat,lrp-z,guided-backprop --metrics mu,aopc --out runs/voc',
      'Table 1 with 95% intervals, Fig. 3, and region perturbation (AOPC of 8×8 patches, 100 steps) for three analyzers on the VOC 2007 test split'],
    ['eval --model squeezenet1.1.onnx --dataset imagenet:val --labels synset_words.txt --classifier-layers 1 --limit 500 --gallery 12',
      '500 ImageNet images, epsilon on SqueezeNet\'s conv10, and a gallery of 12 of them'],
  ],
  // --metrics and the aopc flags before the device opens; the patch and steps against the model's input follow its loading.
  check: (a) => {
    try {
      resolveMetrics({ metrics: String(a.metrics).split(','), steps: a.steps, patch: a.patch, baseline: a.baseline });
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  },
  handler: async (args) => {
    let shard = null;
    if (args.shard !== undefined) {
      const choice = resolveShard(args.shard);
      if (/^\s*auto/.test(args.shard)) console.error(choice.source);
      shard = choice.shard;
    }
    // The gallery's images, analyzers and file names, decided and checked before any GPU work
    // (output-plan.ts), so a gallery that could not be written does not cost the run first.
    let gallery: null | { samples: Sample[]; analyzers: AnalyzerSpec[]; model: ReturnType<typeof loadEvalModel>; classNames: string[]; images: number } = null;
    if (args.gallery > 0) {
      const model = loadEvalModel(args.model, args.preprocess, args.output);
      const analyzers = loadAnalyzers(args.composite, model.graph, model.preprocess, {
        epsilon: args.epsilon, flatLayers: args['flat-layers'], classifierLayers: args['classifier-layers'], patterns: args.patterns,
      });
      const ds = await openEvalDataset(args, model.graph, () => {});
      const items = selectItems(ds.samples, ds.skips, { limit: args.limit, shard });
      const samples = pickGallery(items.flatMap((it) => (it.sample && it.sample.classes.length ? [it.sample] : [])), args.gallery, args.seed);
      galleryFiles(samples, analyzers.map((a) => a.name), join(args.out, 'gallery'));
      // Readable class names where the labels file has them (synset_words.txt: "n01440764 tench, ...").
      const names = args.labels ? readLabels(args.labels) : [];
      gallery = { samples, analyzers, model, classNames: names.length === ds.classNames.length ? names : ds.classNames, images: items.length };
    }
    const gpu = await createNodeGpu();
    try {
      const compile0 = gpu.compile?.seconds() ?? 0;
      const result = await runEval({
        model: args.model, dataset: args.dataset, split: args.split, labels: args.labels, composites: args.composite,
        batch: args.batch, limit: args.limit, out: args.out, saveRelevance: args['save-relevance'],
        shard, resume: args.resume,
        skipDifficult: args['skip-difficult'], preprocess: args.preprocess, patterns: args.patterns, init: args.init, workers: args.workers,
        output: args.output, epsilon: args.epsilon, flatLayers: args['flat-layers'], classifierLayers: args['classifier-layers'],
        bootstrap: { resamples: args.bootstrap, seed: args.seed }, gpu, conv: args.conv, loaded: gallery?.model,
        metrics: args.metrics.split(','), steps: args.steps, patch: args.patch, baseline: args.baseline,
      });
      const r = result.report!;
      console.log(`${'analyzer'.padEnd(24)} ${'mu_w'.padStart(8)} ${'95% CI'.padStart(19)} ${'mu<=0.25'.padStart(9)} ${'mu<=0.5'.padStart(8)} ${'mu'.padStart(8)} ${'95% CI'.padStart(17)} ${'pairs'.padStart(7)} ${'degen.'.padStart(6)}`);
      const f = (v: number | null, w: number) => (v === null ? '–' : v.toFixed(4)).padStart(w);
      const ci = (c: readonly [number, number] | null | undefined, w: number) => (c ? `[${c[0].toFixed(3)}, ${c[1].toFixed(3)}]` : '–').padStart(w);
      for (const row of r.rows) {
        console.log(`${row.analyzer.padEnd(24)} ${f(row.mu_w, 8)} ${ci(row.intervals?.mu_w.ci95, 19)} ${f(row['mu<=0.25'], 9)} ${f(row['mu<=0.5'], 8)} ${f(row.mu, 8)} `
          + `${ci(row.intervals?.mu.ci95, 17)} ${String(row.pairs).padStart(7)} ${String(row.degenerate).padStart(6)}`);
      }
      if (r.aopc) {
        console.log('');
        console.log(aopcTableText(r.aopc));
      }
      console.log(`${r.images} images, ${r.pairs} pairs, ${r.skipped.count} skipped; report in ${result.out}/report.md`);
      const stages: Record<string, number> = { ...result.stages };
      if (gallery) {
        const t = performance.now();
        const page = await writeGallery({
          gpu, graph: gallery.model.graph, preprocess: gallery.model.preprocess, analyzers: gallery.analyzers, samples: gallery.samples,
          classNames: gallery.classNames, out: join(args.out, 'gallery'), render: { cmap: args.cmap, mode: args.mode, clip: args.clip, overlay: args.overlay }, conv: args.conv,
          title: `Heatmaps: ${basename(args.model)} on ${args.dataset.replace(/^(\w+:).*[\\/]([^\\/]+)[\\/]?$/, '$1$2')}`,
          subtitle: `${gallery.samples.length} images chosen with seed ${args.seed} from the ${gallery.images} of the run.`,
        });
        stages.gallery = (performance.now() - t) / 1000;
        console.log(`gallery of ${gallery.samples.length} images: ${page}`);
      }
      if (args.profile) {
        const total = result.seconds + (stages.gallery ?? 0);
        console.error(`\n${profileTable(stages, total)}`);
        // Drivers that compile at a pipeline's first dispatch (lavapipe) do it inside the first batch.
        const firstUse = (gpu.compile?.seconds() ?? 0) - compile0 - (stages.compile ?? 0);
        if (firstUse >= 0.5) console.error(`(of which ${firstUse.toFixed(1)} s compiling GPU kernels at their first dispatch, inside forward, relevance and metrics)`);
      }
    } finally {
      gpu.close();
    }
  },
});
