import type { CommandModule } from 'yargs';
import { runOcclusion } from '../../src/node/eval/occlusion.ts';

interface Args {
  model: string;
  dataset: string;
  split?: string;
  labels?: string;
  batch: number;
  limit?: number;
  out: string;
  'skip-difficult': boolean;
  preprocess?: string;
  workers?: number;
}

export const occlusionCommand: CommandModule<object, Args> = {
  command: 'occlusion',
  describe: 'Occlude each object or its context and measure the true class\'s logit (Fig. 2 of the paper)',
  builder: (y) => y
    .option('model', { type: 'string', demandOption: true, describe: 'an .onnx file or a built-in' })
    .option('dataset', { type: 'string', demandOption: true, describe: 'voc:DIR or imagenet:DIR' })
    .option('split', { type: 'string', describe: 'VOC ImageSets/Main split (default test)' })
    .option('labels', { type: 'string', describe: 'class list file' })
    .option('batch', { type: 'number', default: 16, describe: 'inputs per forward pass' })
    .option('limit', { type: 'number', describe: 'only the first N images (sorted by id)' })
    .option('out', { type: 'string', default: 'occlusion-out', describe: 'output folder: occlusion.{jsonl,json,csv,svg}' })
    .option('skip-difficult', { type: 'boolean', default: false, describe: 'leave out boxes marked difficult' })
    .option('preprocess', { type: 'string', describe: 'preprocessing spec JSON (default: MODEL.onnx.json beside the model)' })
    .option('workers', { type: 'number', describe: 'decode/preprocess worker threads' }),
  handler: async (args) => {
    const { summary: s } = await runOcclusion({
      model: args.model, dataset: args.dataset, split: args.split, labels: args.labels, batch: args.batch, limit: args.limit,
      out: args.out, skipDifficult: args['skip-difficult'], preprocess: args.preprocess, workers: args.workers,
    });
    const f = (v: number | null) => (v === null ? '–' : v.toFixed(4));
    console.log(`mean delta, object occluded:  ${f(s.meanDeltaObject)}`);
    console.log(`mean delta, context occluded: ${f(s.meanDeltaContext)}`);
    const valid = s.pairs - s.degenerate;
    console.log(`${s.pairs} pairs (${s.degenerate} with f = 0 left out); object occlusion lowered the logit more than context occlusion in ${s.objectBelowContext} of ${valid}`);
    console.log(`curves in ${args.out}/occlusion.svg and occlusion.csv`);
  },
};
