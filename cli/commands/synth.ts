import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../src/node/png.ts';
import { DEFAULT_SYNTH_SIZE, synthesize } from '../../src/synth/generate.ts';
import { SYNTH_CLASSES } from '../../src/synth/shapes.ts';
import { classesText, vocXml } from '../../src/synth/voc.ts';
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

export interface SynthSummary {
  images: number;
  objects: number;
  perClass: number[];
  multiLabel: number;
}

/**
 * Writes images 1..`images` of dataset `seed` as a VOC-format folder: `JPEGImages/*.png`,
 * `Annotations/*.xml`, `ImageSets/Main/SPLIT.txt` and `classes.txt`.
 */
export function writeSynthDataset(out: string, opts: { images: number; size: number; seed: number; split: string }): SynthSummary {
  const imgDir = join(out, 'JPEGImages');
  const annDir = join(out, 'Annotations');
  const setDir = join(out, 'ImageSets', 'Main');
  for (const d of [imgDir, annDir, setDir]) mkdirSync(d, { recursive: true });
  const names: string[] = [];
  const perClass = new Array<number>(SYNTH_CLASSES.length).fill(0);
  let objects = 0;
  let multiLabel = 0;
  for (let i = 1; i <= opts.images; i++) {
    const s = synthesize(opts.seed, i, { size: opts.size });
    const file = `${s.name}.png`;
    writeFileSync(join(imgDir, file), encodePng(s.image));
    writeFileSync(join(annDir, `${s.name}.xml`), vocXml(s, file));
    names.push(s.name);
    const present = new Set(s.objects.map((o) => o.classIndex));
    for (const c of present) perClass[c]++;
    if (present.size > 1) multiLabel++;
    objects += s.objects.length;
  }
  writeFileSync(join(setDir, `${opts.split}.txt`), names.length ? `${names.join('\n')}\n` : '');
  writeFileSync(join(out, 'classes.txt'), classesText());
  return { images: opts.images, objects, perClass, multiLabel };
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
