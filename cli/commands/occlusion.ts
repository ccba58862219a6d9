import { runOcclusion } from '../../src/node/eval/occlusion.ts';
import type { ConvMode } from '../../src/forward/winograd.ts';
import { batchOption, CONV_OPTION, DATASET_OPTIONS, defineCommand, MODEL_OPTIONS, VERBOSE_OPTION } from '../options.ts';

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
  batch: number;
  out: string;
  verbose: boolean;
  conv: ConvMode;
}

export const occlusionCommand = defineCommand<Args>({
  command: 'occlusion',
  describe: 'Occlude each object or its context and measure the true class\'s logit (Fig. 2 of the paper)',
  options: [
    ...MODEL_OPTIONS,
    CONV_OPTION,
    ...DATASET_OPTIONS,
    batchOption('inputs per forward pass', 16),
    { name: 'out', opt: { type: 'string', default: 'occlusion-out', describe: 'output folder: occlusion.{jsonl,json,csv,svg}' } },
    VERBOSE_OPTION,
  ],
  examples: [
    ['occlusion --model caffenet-voc.onnx --dataset voc:VOCdevkit/VOC2007 --out runs/occlusion', 'the Fig. 2 check on the VOC 2007 test split'],
    ['occlusion --model vgg16.onnx --dataset imagenet:val --labels synset_words.txt --limit 200 --output logits', 'the first 200 ImageNet images, on the graph output "logits"'],
  ],
  handler: async (args) => {
    const { summary: s } = await runOcclusion({
      model: args.model, dataset: args.dataset, split: args.split, labels: args.labels, batch: args.batch, limit: args.limit,
      out: args.out, skipDifficult: args['skip-difficult'], preprocess: args.preprocess, workers: args.workers, output: args.output,
      conv: args.conv,
    });
    const f = (v: number | null) => (v === null ? '–' : v.toFixed(4));
    console.log(`mean delta, object occluded:  ${f(s.meanDeltaObject)}`);
    console.log(`mean delta, context occluded: ${f(s.meanDeltaContext)}`);
    const valid = s.pairs - s.degenerate;
    console.log(`${s.pairs} pairs (${s.degenerate} with f = 0 left out); object occlusion lowered the logit more than context occlusion in ${s.objectBelowContext} of ${valid}`);
    console.log(`curves in ${args.out}/occlusion.svg and occlusion.csv`);
  },
});
