import { writeSynthDataset } from '../../src/node/synth-dataset.ts';
import { DEFAULT_SYNTH_SIZE } from '../../src/synth/generate.ts';
import { SYNTH_CLASSES } from '../../src/synth/shapes.ts';
import { defineCommand, wholeAtLeast } from '../options.ts';

/** The seed `lrp synth` uses by default: the demo model's held-out set. */
export const DEFAULT_SYNTH_SEED = 1;

interface Args {
  out: string;
  images: number;
  size: number;
  seed: number;
  split: string;
}

export const synthCommand = defineCommand<Args>({
  command: 'synth',
  describe: 'Write a deterministic synthetic boxes dataset (6 shape classes, VOC format)',
  options: [
    { name: 'out', opt: { type: 'string', demandOption: true, describe: 'the dataset folder to write' } },
    { name: 'images', opt: { type: 'number', default: 200, describe: 'how many images (synth_000001 .. synth_N)' }, check: wholeAtLeast(0)('images') },
    { name: 'size', opt: { type: 'number', default: DEFAULT_SYNTH_SIZE, describe: 'image side in pixels (square)' }, check: wholeAtLeast(1)('size') },
    { name: 'seed', opt: { type: 'number', default: DEFAULT_SYNTH_SEED, describe: 'dataset seed: the same seed gives the same files' }, check: wholeAtLeast(0)('seed') },
    {
      name: 'split', opt: { type: 'string', default: 'test', describe: 'the image set to list them in: ImageSets/Main/SPLIT.txt' },
      check: (v: string) => (/^[\w.-]+$/.test(v) ? null : `--split must be a plain name (letters, digits, _ . -), got '${v}'`),
    },
  ],
  examples: [
    ['synth --out synth/ --images 200 --seed 7', '200 images with their VOC annotations in synth/'],
    ['synth --out held-out/ --images 1000 --seed 1 --split test', 'the demo model\'s held-out seed (it was trained on others)'],
  ],
  handler: (args) => {
    const t0 = performance.now();
    const s = writeSynthDataset(args.out, { images: args.images, size: args.size, seed: args.seed, split: args.split });
    const secs = (performance.now() - t0) / 1000;
    console.log(`wrote ${s.images} images (${args.size}×${args.size}, seed ${args.seed}) with ${s.objects} objects to ${args.out} in ${secs.toFixed(1)} s`);
    console.log(`images per class: ${SYNTH_CLASSES.map((c, i) => `${c} ${s.perClass[i]}`).join(', ')}; with several classes: ${s.multiLabel}`);
  },
});
