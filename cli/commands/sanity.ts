import type { Init } from '../../src/lrp/explainer.ts';
import { sanityTable } from '../../src/eval/sanity-report.ts';
import { modelClasses } from '../../src/node/eval/setup.ts';
import { runSanity } from '../../src/node/eval/sanity.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { readLabels } from '../../src/node/labels.ts';
import {
  batchOption, COMPOSITE_OPTIONS, defineCommand, MODEL_OPTIONS, parseTargets, TARGET_OPTION, UsageError, VERBOSE_OPTION, wholeAtLeast,
} from '../options.ts';

interface Args {
  model: string;
  output?: string;
  preprocess?: string;
  labels?: string;
  input?: string[];
  dataset?: string;
  split?: string;
  'skip-difficult': boolean;
  workers?: number;
  composite: string[];
  epsilon?: number;
  'flat-layers'?: number;
  'classifier-layers'?: number;
  patterns?: string;
  target: string;
  init: Init;
  images?: number;
  seed: number;
  batch: number;
  out: string;
  verbose: boolean;
}

/** sanity's own default: an LRP composite, plain LRP and the gradient, side by side. */
const SANITY_COMPOSITES = ['cmp-alpha2-flat', 'lrp-z', 'gradient'];

export const sanityCommand = defineCommand<Args>({
  command: 'sanity',
  describe: 'The model-parameter randomization check (Adebayo et al. 2018): randomise the linear layers from the output down, one more per step, and measure how alike the maps stay (Spearman, SSIM)',
  options: [
    ...MODEL_OPTIONS,
    { name: 'input', opt: { type: 'string', array: true, describe: 'image files (JPEG, PNG), or one float32 NCHW .npy batch (or --dataset)' } },
    { name: 'dataset', opt: { type: 'string', describe: 'voc:DIR (VOCdevkit/VOC2007) or imagenet:DIR: every (image, class) pair of its first --images images' } },
    { name: 'split', opt: { type: 'string', describe: 'VOC ImageSets/Main split, e.g. test (default test)' } },
    { name: 'skip-difficult', opt: { type: 'boolean', default: false, describe: 'leave out boxes marked difficult' } },
    { name: 'workers', opt: { type: 'number', describe: 'decode/preprocess worker threads for --dataset (default: cores - 1, at most 4)' }, check: wholeAtLeast(0)('workers') },
    ...COMPOSITE_OPTIONS.map((s) => (s.name === 'composite' ? { ...s, opt: { ...s.opt, default: SANITY_COMPOSITES } } : s)),
    { ...TARGET_OPTION, opt: { ...TARGET_OPTION.opt, describe: `${TARGET_OPTION.opt.describe} (--input only; fixed by the original model at every step)` } },
    { name: 'init', opt: { choices: ['logit', 'onehot'] as const, default: 'logit' as Init, describe: 'relevance at the target: its logit (the paper) or 1' } },
    { name: 'images', opt: { type: 'number', describe: 'at most N images (default: every --input; 16 of a --dataset, the first by id)' }, check: wholeAtLeast(1)('images') },
    { name: 'seed', opt: { type: 'number', default: 0, describe: 'seeds the random weights (the same seed, the same weights)' }, check: wholeAtLeast(0)('seed') },
    batchOption('pairs per forward and relevance pass', 16),
    { name: 'out', opt: { type: 'string', default: 'sanity-out', describe: 'output folder: report.{md,json}, sanity-spearman.svg, sanity-ssim.svg' } },
    VERBOSE_OPTION,
  ],
  examples: [
    ['sanity --model models/demo/demo.onnx --input models/demo/demo.png --images 1', 'the check on the demo image: cmp-alpha2-flat, lrp-z and gradient at every step'],
    ['sanity --model caffenet-voc.onnx --dataset voc:VOCdevkit/VOC2007 --images 50 --composite cmp-alpha2-flat,guided-backprop --seed 3 --out runs/sanity',
      'every (image, class) pair of 50 VOC test images, two analyzers'],
  ],
  check: (a) => {
    const given = (a.input?.length ? 1 : 0) + (a.dataset !== undefined ? 1 : 0);
    if (given === 0) return 'give the images to explain: --input FILES or --dataset voc:DIR|imagenet:DIR';
    if (given === 2) return '--input and --dataset exclude each other: give one';
    if (a.dataset !== undefined && a.target !== 'predicted') return '--target is for --input: a dataset\'s pairs take their annotated classes';
    if (a.dataset === undefined && (a.split !== undefined || a['skip-difficult'] || a.workers !== undefined)) return '--split, --skip-difficult and --workers are for --dataset';
    return null;
  },
  handler: async (args) => {
    let targets, loaded;
    if (args.input && args.target !== 'predicted') {
      loaded = loadModel(args.model, { output: args.output, preprocess: args.preprocess });
      const classes = modelClasses(loaded.graph);
      const labels = args.labels ? readLabels(args.labels) : null;
      targets = parseTargets(args.target, labels, classes);
      if (targets.length !== 1 && targets.length !== args.input.length) {
        throw new UsageError(`--target gives ${targets.length} classes for ${args.input.length} inputs (give one per input, or one for all)`);
      }
    }
    const r = await runSanity({
      model: args.model, loaded, output: args.output, preprocess: args.preprocess, labels: args.labels, input: args.input, dataset: args.dataset,
      split: args.split, skipDifficult: args['skip-difficult'], workers: args.workers, composites: args.composite, epsilon: args.epsilon,
      flatLayers: args['flat-layers'], classifierLayers: args['classifier-layers'], patterns: args.patterns, targets, init: args.init,
      images: args.images, seed: args.seed, batch: args.batch, out: args.out,
    });
    for (const line of sanityTable(r.result.rows)) console.log(line);
    const n = r.result.pairs.length;
    console.log(`${n} pair${n === 1 ? '' : 's'}, ${r.result.steps.length - 1} layers randomised in turn (seed ${r.result.seed}), ${r.seconds.toFixed(1)} s; report in ${r.out}/report.md, plots ${r.out}/sanity-{spearman,ssim}.svg`);
    if (r.skips.length) {
      console.error(`${r.skips.length} input${r.skips.length === 1 ? '' : 's'} or pairs skipped (see report.json)`);
      if (args.input) process.exitCode = 1;
    }
  },
});
