/**
 * `lrp demo`: the project's main job end to end on the embedded default. A held-out synthetic
 * boxes set (fixed seed), the bundled demo model, the paper's analyzers and the Baseline; the
 * Table 1 layout, the Fig. 3 and Fig. 2 plots, and a Fig. 1-like gallery.
 *
 * PatternAttribution needs patterns learned on a statistics set first: the demo synthesises one
 * with another seed than the held-out set's and the training set's (DEMO_PATTERN_SEED,
 * `patternImages` images, 1000 by default) and runs `lrp patterns` on it before the evaluation.
 *
 * Region perturbation (AOPC, `lrp eval --metrics mu,aopc`) runs as a second evaluation of every
 * analyzer on the first `aopcImages` held-out images (DEMO_AOPC_IMAGES by default) with
 * DEMO_AOPC's settings, into `faithfulness/`: it costs 2L forward passes per pair and analyzer
 * plus 2L for the random order, which on a CPU-emulated GPU (lavapipe) would otherwise multiply
 * the demo's time. 16×16 patches and 4 steps: a quarter of the 64×64 image at the last step.
 *
 * The randomization check (`lrp sanity`) runs on the first `sanityImages` held-out images
 * (DEMO_SANITY_IMAGES) with DEMO_SANITY_ANALYZERS, into `sanity/`: an LRP composite, plain LRP,
 * guided backprop (the method Adebayo et al. found insensitive to the model) and the gradient, each
 * explained again at every step of the cascade.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { writeFileNamed } from '../file-errors.ts';
import { join, resolve } from 'node:path';
import { writeSynthDataset } from '../synth-dataset.ts';
import { openDataset } from '../datasets/index.ts';
import { runEval } from '../eval/run.ts';
import { runOcclusion } from '../eval/occlusion.ts';
import { runPatterns } from '../patterns/run.ts';
import { loadAnalyzers, loadEvalModel } from '../eval/setup.ts';
import { createNodeGpu } from '../gpu.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import { pickGallery, writeGallery, type GalleryRender } from '../gallery.ts';
import { reportMarkdown, type EvalReport } from '../../eval/report.ts';
import { aopcMarkdown } from '../../eval/aopc-report.ts';
import type { SanityResult } from '../../eval/sanity.ts';
import { sanityTable } from '../../eval/sanity-report.ts';
import { runSanity } from '../eval/sanity.ts';
import { checkFolderWritable } from '../output-plan.ts';
import { HEATMAP_DEFAULTS } from '../../heatmap/index.ts';

export const DEMO_MODEL = join(PACKAGE_ROOT, 'models', 'demo', 'demo.onnx');

/** The paper's analyzers, in its Table 1 order. */
export const DEMO_ANALYZERS = [
  'cmp-alpha2-flat', 'cmp-alpha1', 'cmp-alpha1-flat', 'cmp-alpha2', 'lrp-z', 'guided-backprop', 'lrp-alpha2beta1', 'lrp-alpha1beta0',
  'pattern-attribution',
] as const;

/** Held out: the demo model was trained on other seeds (training/README.md). */
export const DEMO_SEED = 1;
/** The statistics set of PatternAttribution: neither the held-out seed nor the training seed (2). */
export const DEMO_PATTERN_SEED = 3;
export const DEMO_PATTERN_IMAGES = 1000;
/** Region perturbation in the demo: 4 of the 16 patches of 16×16 pixels, replaced by zero. */
export const DEMO_AOPC = { steps: 4, patch: 16, baseline: 'zero' } as const;
export const DEMO_AOPC_IMAGES = 24;
/** The randomization check in the demo: these analyzers, on the first DEMO_SANITY_IMAGES images. */
export const DEMO_SANITY_ANALYZERS = ['cmp-alpha2-flat', 'lrp-z', 'guided-backprop', 'gradient'] as const;
export const DEMO_SANITY_IMAGES = 4;

export interface DemoOptions {
  readonly out: string;
  readonly images: number;
  readonly gallery: number;
  readonly batch: number;
  /** Images of the statistics set the patterns are learned from (default DEMO_PATTERN_IMAGES). */
  readonly patternImages?: number;
  /** How the gallery draws heatmaps (default: bwr, signed, clip 99.5, no overlay). */
  readonly render?: GalleryRender;
  /** Seeds the gallery's choice of images (default 0). */
  readonly seed?: number;
  /** Held-out images region perturbation runs on (default DEMO_AOPC_IMAGES; 0: none). */
  readonly aopcImages?: number;
  /** Held-out images the randomization check runs on (default DEMO_SANITY_IMAGES; 0: none). */
  readonly sanityImages?: number;
  readonly log: (line: string) => void;
  readonly progress: boolean;
}

export interface DemoResult {
  readonly out: string;
  readonly table: string;
  readonly report: string;
  /** The AOPC table (markdown) and the report it is in; null when aopcImages is 0. */
  readonly aopc: { readonly table: string; readonly report: string; readonly aopc: NonNullable<EvalReport['aopc']> } | null;
  /** The randomization check's table (as `lrp sanity` prints it), its result and report; null when sanityImages is 0. */
  readonly sanity: { readonly table: string; readonly report: string; readonly result: SanityResult } | null;
  readonly gallery: string;
  readonly occlusion: { object: number | null; context: number | null };
  readonly seconds: number;
}

/** Marks a folder the demo wrote: only such a folder (or a new or empty one) has its subfolders replaced. */
export const DEMO_MARKER = '.lrp-demo';

/**
 * Throws unless `out` is new, empty, or a folder the demo wrote (its marker, or the layout of a
 * demo run from before the marker: eval/run.json beside data/classes.txt): a fresh run deletes
 * data/, eval/, gallery/ ... first, which must never be a user's own folders.
 */
export function checkDemoFolder(out: string): void {
  checkFolderWritable(out, '--out');
  if (!existsSync(out)) return;
  const entries = readdirSync(out);
  if (entries.length === 0 || entries.includes(DEMO_MARKER)) return;
  if (existsSync(join(out, 'eval', 'run.json')) && existsSync(join(out, 'data', 'classes.txt'))) return;
  throw new Error(`--out ${out} holds files the demo did not write (${entries.slice(0, 4).join(', ')}${entries.length > 4 ? ', ...' : ''}), `
    + 'and a run replaces its data/, eval/, gallery/ ... subfolders: give a new or empty folder');
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  if (!existsSync(DEMO_MODEL)) throw new Error(`the demo model ${DEMO_MODEL} is missing from this checkout`);
  const out = resolve(o.out);
  const data = join(out, 'data');
  checkDemoFolder(o.out);
  mkdirSync(out, { recursive: true });
  writeFileNamed(join(out, DEMO_MARKER), 'a folder lrp demo writes: it replaces data/, patterns-data/, patterns/, eval/, faithfulness/, sanity/, occlusion/ and gallery/ on every run\n');
  // A fresh run each time: the demo's numbers must not mix with an older run's records.
  for (const sub of ['data', 'patterns-data', 'patterns', 'eval', 'faithfulness', 'sanity', 'occlusion', 'gallery']) rmSync(join(out, sub), { recursive: true, force: true });
  const synth = writeSynthDataset(data, { images: o.images, size: 64, seed: DEMO_SEED, split: 'test' });
  o.log(`synthesised ${synth.images} held-out images (seed ${DEMO_SEED}, ${synth.objects} objects, ${synth.multiLabel} with several classes) in ${data}`);
  const statsData = join(out, 'patterns-data');
  const statsSet = writeSynthDataset(statsData, { images: o.patternImages ?? DEMO_PATTERN_IMAGES, size: 64, seed: DEMO_PATTERN_SEED, split: 'train' });
  o.log(`synthesised ${statsSet.images} images (seed ${DEMO_PATTERN_SEED}) in ${statsData}, the statistics set of PatternAttribution's patterns`);

  const dataset = `voc:${data}`;
  const labels = join(data, 'classes.txt');
  const patterns = join(out, 'patterns');
  const gpu = await createNodeGpu();
  try {
    await runPatterns({
      model: DEMO_MODEL, dataset: `voc:${statsData}`, split: 'train', labels: join(statsData, 'classes.txt'), out: patterns,
      batch: o.batch, gpu, progress: o.progress, log: o.log,
    });
    const evalResult = await runEval({
      model: DEMO_MODEL, dataset, labels, composites: [...DEMO_ANALYZERS], out: join(out, 'eval'),
      batch: o.batch, gpu, progress: o.progress, log: o.log, patterns,
    });
    const report = evalResult.report!;
    const aopcImages = Math.min(o.aopcImages ?? DEMO_AOPC_IMAGES, o.images);
    let aopc: DemoResult['aopc'] = null;
    if (aopcImages > 0) {
      const faith = await runEval({
        model: DEMO_MODEL, dataset, labels, composites: [...DEMO_ANALYZERS], out: join(out, 'faithfulness'), limit: aopcImages,
        metrics: ['mu', 'aopc'], ...DEMO_AOPC, batch: o.batch, gpu, progress: o.progress, log: o.log, patterns,
      });
      const r = faith.report!;
      aopc = { table: aopcMarkdown(r.aopc!, r.settings.aopc!).filter((l) => l.startsWith('|')).join('\n'), report: join(out, 'faithfulness', 'report.md'), aopc: r.aopc! };
    }
    const sanityImages = Math.min(o.sanityImages ?? DEMO_SANITY_IMAGES, o.images);
    let sanity: DemoResult['sanity'] = null;
    if (sanityImages > 0) {
      const r = await runSanity({
        model: DEMO_MODEL, dataset, labels, composites: [...DEMO_SANITY_ANALYZERS], images: sanityImages, out: join(out, 'sanity'),
        batch: o.batch, workers: 0, gpu, progress: o.progress, log: o.log,
      });
      sanity = { table: sanityTable(r.result.rows).join('\n'), report: join(out, 'sanity', 'report.md'), result: r.result };
    }
    const occ = await runOcclusion({
      model: DEMO_MODEL, dataset, labels, out: join(out, 'occlusion'), batch: o.batch, gpu, progress: o.progress, log: o.log,
    });

    const model = loadEvalModel(DEMO_MODEL);
    const ds = await openDataset(dataset, { labels });
    const analyzers = loadAnalyzers([...DEMO_ANALYZERS], model.graph, model.preprocess, { patterns });
    const gallery = await writeGallery({
      gpu, graph: model.graph, preprocess: model.preprocess, analyzers,
      samples: pickGallery(ds.samples, o.gallery, o.seed ?? 0), classNames: ds.classNames, out: join(out, 'gallery'),
      render: o.render ?? { ...HEATMAP_DEFAULTS, overlay: false },
      title: 'webgpu-lrp demo: heatmaps by analyzer', subtitle: `The demo model on ${o.gallery} held-out synthetic images.`,
    });
    const md = reportMarkdown(report);
    // Table 1: the first run of table lines (the per-layer rule tables follow later).
    const mdLines = md.split('\n');
    const first = mdLines.findIndex((l) => l.startsWith('| analyzer'));
    const end = mdLines.findIndex((l, i) => i > first && !l.startsWith('|'));
    const table = mdLines.slice(first, end < 0 ? undefined : end).join('\n');
    return {
      out, table, report: join(out, 'eval', 'report.md'), aopc, sanity, gallery,
      occlusion: { object: occ.summary.meanDeltaObject, context: occ.summary.meanDeltaContext },
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    gpu.close();
  }
}
