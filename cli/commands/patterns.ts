import { runPatterns } from '../../src/node/patterns/run.ts';
import type { ConvMode } from '../../src/forward/winograd.ts';
import { batchOption, CONV_OPTION, DATASET_OPTIONS, defineCommand, MODEL_OPTIONS, VERBOSE_OPTION, wholeAtLeast, type OptionSpec } from '../options.ts';

interface Args {
  model: string;
  output?: string;
  preprocess?: string;
  labels?: string;
  input?: string;
  dataset?: string;
  split?: string;
  limit?: number;
  workers?: number;
  out: string;
  batch: number;
  resume: boolean;
  'checkpoint-seconds': number;
  verbose: boolean;
  conv: ConvMode;
}

/** The dataset options of eval, but optional (the set may be an .npy instead) and without box filters. */
const STATISTICS_SET: readonly OptionSpec[] = DATASET_OPTIONS
  .filter((s) => s.name !== 'skip-difficult')
  .map((s) => (s.name === 'dataset'
    ? { ...s, opt: { ...s.opt, demandOption: false, describe: 'or the statistics set as images: voc:DIR or imagenet:DIR, read and preprocessed as lrp eval does' } }
    : s));

export const patternsCommand = defineCommand<Args>({
  command: 'patterns',
  describe: 'Learn PatternAttribution\'s patterns from a statistics set: one NODE.npy per Conv/Gemm/MatMul and patterns.json',
  options: [
    ...MODEL_OPTIONS,
    CONV_OPTION,
    { name: 'input', opt: { type: 'string', describe: 'the statistics set as an .npy of preprocessed inputs, N×C×H×W float32 or float64 (streamed)' } },
    ...STATISTICS_SET,
    { name: 'out', opt: { type: 'string', demandOption: true, describe: 'the patterns folder to write (NODE.npy files, patterns.json)' } },
    batchOption('samples per forward pass', 16),
    { name: 'resume', opt: { type: 'boolean', default: false, describe: 'finish an interrupted run in --out from its checkpoint' } },
    {
      name: 'checkpoint-seconds',
      opt: { type: 'number', default: 60, describe: 'seconds between checkpoints of the running sums (0: after every batch)' },
      check: wholeAtLeast(0)('checkpoint-seconds'),
    },
    VERBOSE_OPTION,
  ],
  examples: [
    ['patterns --model vgg16.onnx --dataset imagenet:train-sample --labels synset_words.txt --out vgg16-patterns',
      'learn VGG-16\'s patterns from images, then: explain --composite pattern-attribution --patterns vgg16-patterns'],
    ['patterns --model model.onnx --input stats.npy --batch 32 --out patterns --resume', 'from preprocessed inputs, finishing a run that was killed'],
  ],
  check: (a) => ((a.input === undefined) === (a.dataset === undefined)
    ? 'give the statistics set as either --input STATS.npy or --dataset voc:DIR|imagenet:DIR'
    : null),
  handler: async (args) => {
    const r = await runPatterns({
      model: args.model, output: args.output, input: args.input, dataset: args.dataset, split: args.split, labels: args.labels, limit: args.limit,
      out: args.out, batch: args.batch, resume: args.resume, preprocess: args.preprocess, workers: args.workers,
      checkpointSeconds: args['checkpoint-seconds'], verbose: args.verbose, conv: args.conv,
    });
    const f = r.file!;
    console.log(`${'node'.padEnd(36)} ${'pattern shape'.padEnd(18)} ${'rows'.padStart(12)}`);
    for (const l of f.layers) console.log(`${l.node.padEnd(36)} ${`[${l.shape.join(', ')}]`.padEnd(18)} ${String(l.rows).padStart(12)}`);
    console.log(`${f.samples} samples${f.skipped ? ` (${f.skipped} skipped)` : ''} in ${r.seconds.toFixed(1)} s; patterns in ${r.out}`);
  },
});
