import type { CommandModule } from 'yargs';
import { writeSynthDataset } from '../../src/node/synth-dataset.ts';
import { DEFAULT_SYNTH_SIZE } from '../../src/synth/generate.ts';
import { SYNTH_CLASSES } from '../../src/synth/shapes.ts';

/** The seed `lrp synth` uses by default: the demo model's held-out set. */
export const DEFAULT_SYNTH_SEED = 1;

interface Args {
  out: string;
  images: number;
  size: number;
  seed: number;
  split: string;
}

export const synthCommand: CommandModule<object, Args> = {
  command: 'synth',
  describe: 'Write a deterministic synthetic boxes dataset (6 shape classes, VOC format)',
  builder: (y) => y
    .option('out', { type: 'string', demandOption: true, describe: 'the dataset folder to write' })
    .option('images', { type: 'number', default: 200, describe: 'how many images (synth_000001 .. synth_N)' })
    .option('size', { type: 'number', default: DEFAULT_SYNTH_SIZE, describe: 'image side in pixels (square)' })
    .option('seed', { type: 'number', default: DEFAULT_SYNTH_SEED, describe: 'dataset seed: the same seed gives the same files' })
    .option('split', { type: 'string', default: 'test', describe: 'the image set to list them in: ImageSets/Main/SPLIT.txt' })
    .check((a) => {
      if (!Number.isSafeInteger(a.images) || a.images < 0) throw new Error(`--images must be a non-negative integer, got ${a.images}`);
      if (!Number.isSafeInteger(a.size)) throw new Error(`--size must be an integer, got ${a.size}`);
      if (!Number.isSafeInteger(a.seed) || a.seed < 0) throw new Error(`--seed must be a non-negative integer, got ${a.seed}`);
      if (!/^[\w.-]+$/.test(a.split)) throw new Error(`--split must be a plain name (letters, digits, _ . -), got '${a.split}'`);
      return true;
    }),
  handler: (args) => {
    const t0 = performance.now();
    const s = writeSynthDataset(args.out, { images: args.images, size: args.size, seed: args.seed, split: args.split });
    const secs = (performance.now() - t0) / 1000;
    console.log(`wrote ${s.images} images (${args.size}×${args.size}, seed ${args.seed}) with ${s.objects} objects to ${args.out} in ${secs.toFixed(1)} s`);
    console.log(`images per class: ${SYNTH_CLASSES.map((c, i) => `${c} ${s.perClass[i]}`).join(', ')}; with several classes: ${s.multiLabel}`);
  },
};
