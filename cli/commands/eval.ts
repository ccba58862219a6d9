import type { CommandModule } from 'yargs';
import type { Init } from '../../src/lrp/explainer.ts';
import { runEval } from '../../src/node/eval/run.ts';
import { resolveShard } from '../../src/node/eval/shard.ts';

interface Args {
  model: string;
  dataset: string;
  split?: string;
  labels?: string;
  composite: string[];
  batch: number;
  limit?: number;
  out: string;
  'save-relevance': boolean;
  shard?: string;
  resume: boolean;
  'skip-difficult': boolean;
  preprocess?: string;
  patterns?: string;
  init: Init;
  workers?: number;
}

export const evalCommand: CommandModule<object, Args> = {
  command: 'eval',
  describe: 'Measure how much relevance falls in the object boxes of a dataset (mu, mu_w; Table 1 and Fig. 3 of the paper)',
  builder: (y) => y
    .option('model', { type: 'string', demandOption: true, describe: 'an .onnx file (preprocessing in MODEL.onnx.json or --preprocess) or a built-in' })
    .option('dataset', { type: 'string', demandOption: true, describe: 'voc:DIR (VOCdevkit/VOC2007) or imagenet:DIR' })
    .option('split', { type: 'string', describe: 'VOC ImageSets/Main split, e.g. test, trainval, "trainval+test" (default test)' })
    .option('labels', { type: 'string', describe: 'class list: VOC class names (default the 20), ImageNet synsets (required)' })
    .option('composite', { type: 'string', array: true, default: ['cmp-alpha2-flat'], describe: 'comma-separated presets or composite .json files, or inline JSON; repeatable' })
    .option('batch', { type: 'number', default: 16, describe: 'images per forward pass (and most pairs per relevance pass)' })
    .option('limit', { type: 'number', describe: 'only the first N images (sorted by id)' })
    .option('out', { type: 'string', default: 'eval-out', describe: 'output folder: pairs.jsonl, skips.jsonl, report.{json,md}, curve.{csv,svg}' })
    .option('save-relevance', { type: 'boolean', default: false, describe: 'also write each pair\'s channel-summed H×W relevance: DIR/relevance/ANALYZER/IMAGE_CLASS.npy' })
    .option('shard', { type: 'string', describe: 'i/n: take the images at positions i, i+n, ... of the sorted list (merge with lrp merge); auto: i/n from a Slurm job array, auto/N from a Kubernetes Indexed Job of N completions' })
    .option('resume', { type: 'boolean', default: false, describe: 'finish an interrupted run in --out' })
    .option('skip-difficult', { type: 'boolean', default: false, describe: 'leave out boxes marked difficult' })
    .option('preprocess', { type: 'string', describe: 'preprocessing spec JSON (default: MODEL.onnx.json beside the model)' })
    .option('patterns', { type: 'string', describe: 'learned patterns for pattern-attribution (a folder lrp patterns wrote)' })
    .option('init', { choices: ['logit', 'onehot'] as const, default: 'logit' as Init, describe: 'relevance at the true class: its logit (the paper) or 1' })
    .option('workers', { type: 'number', describe: 'decode/preprocess worker threads (default: cores - 1, at most 4)' }),
  handler: async (args) => {
    let shard = null;
    if (args.shard !== undefined) {
      const choice = resolveShard(args.shard);
      if (/^\s*auto/.test(args.shard)) console.error(choice.source);
      shard = choice.shard;
    }
    const result = await runEval({
      model: args.model, dataset: args.dataset, split: args.split, labels: args.labels, composites: args.composite,
      batch: args.batch, limit: args.limit, out: args.out, saveRelevance: args['save-relevance'],
      shard, resume: args.resume,
      skipDifficult: args['skip-difficult'], preprocess: args.preprocess, patterns: args.patterns, init: args.init, workers: args.workers,
    });
    const r = result.report!;
    console.log(`${'analyzer'.padEnd(24)} ${'mu_w'.padStart(8)} ${'mu<=0.25'.padStart(9)} ${'mu<=0.5'.padStart(8)} ${'mu'.padStart(8)} ${'pairs'.padStart(7)} ${'degen.'.padStart(6)}`);
    const f = (v: number | null, w: number) => (v === null ? '–' : v.toFixed(4)).padStart(w);
    for (const row of r.rows) {
      console.log(`${row.analyzer.padEnd(24)} ${f(row.mu_w, 8)} ${f(row['mu<=0.25'], 9)} ${f(row['mu<=0.5'], 8)} ${f(row.mu, 8)} ${String(row.pairs).padStart(7)} ${String(row.degenerate).padStart(6)}`);
    }
    console.log(`${r.images} images, ${r.pairs} pairs, ${r.skipped.count} skipped; report in ${result.out}/report.md`);
  },
};
