import type { CommandModule } from 'yargs';
import { runPatterns } from '../../src/node/patterns/run.ts';

interface Args {
  model: string;
  input?: string;
  dataset?: string;
  split?: string;
  labels?: string;
  limit?: number;
  out: string;
  batch: number;
  resume: boolean;
  preprocess?: string;
  workers?: number;
  'checkpoint-seconds': number;
}

export const patternsCommand: CommandModule<object, Args> = {
  command: 'patterns',
  describe: 'Learn PatternAttribution\'s patterns of a model from a statistics set (one NODE.npy per Conv/Gemm/MatMul and patterns.json)',
  builder: (y) => y
    .option('model', { type: 'string', demandOption: true, describe: 'an .onnx file or a built-in (vgg16:random, ...)' })
    .option('input', { type: 'string', describe: 'the statistics set as an .npy of preprocessed inputs, N×C×H×W float32 (streamed)' })
    .option('dataset', { type: 'string', describe: 'or images: voc:DIR or imagenet:DIR, preprocessed as lrp eval does' })
    .option('split', { type: 'string', describe: 'VOC ImageSets/Main split (default test), e.g. trainval' })
    .option('labels', { type: 'string', describe: 'class list the dataset reader needs (ImageNet synsets)' })
    .option('limit', { type: 'number', describe: 'only the first N samples (images sorted by id)' })
    .option('out', { type: 'string', demandOption: true, describe: 'the patterns folder to write' })
    .option('batch', { type: 'number', default: 16, describe: 'samples per forward pass' })
    .option('resume', { type: 'boolean', default: false, describe: 'finish an interrupted run in --out from its checkpoint' })
    .option('checkpoint-seconds', { type: 'number', default: 60, describe: 'seconds between checkpoints of the running sums (0: after every batch)' })
    .option('preprocess', { type: 'string', describe: 'preprocessing spec JSON (default: MODEL.onnx.json beside the model)' })
    .option('workers', { type: 'number', describe: 'decode/preprocess worker threads (default: cores - 1, at most 4)' })
    .check((a) => {
      if ((a.input === undefined) === (a.dataset === undefined)) throw new Error('give the statistics set as either --input STATS.npy or --dataset voc:DIR|imagenet:DIR');
      return true;
    }),
  handler: async (args) => {
    const r = await runPatterns({
      model: args.model, input: args.input, dataset: args.dataset, split: args.split, labels: args.labels, limit: args.limit,
      out: args.out, batch: args.batch, resume: args.resume, preprocess: args.preprocess, workers: args.workers,
      checkpointSeconds: args['checkpoint-seconds'],
    });
    const f = r.file!;
    console.log(`${'node'.padEnd(36)} ${'pattern shape'.padEnd(18)} ${'rows'.padStart(12)}`);
    for (const l of f.layers) console.log(`${l.node.padEnd(36)} ${`[${l.shape.join(', ')}]`.padEnd(18)} ${String(l.rows).padStart(12)}`);
    console.log(`${f.samples} samples${f.skipped ? ` (${f.skipped} skipped)` : ''} in ${r.seconds.toFixed(1)} s; patterns in ${r.out}`);
  },
};
