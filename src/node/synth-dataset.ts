/** Writes the synthetic boxes dataset (src/synth/) as a VOC-format folder: `lrp synth` and `lrp demo`. */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { synthesize } from '../synth/generate.ts';
import { SYNTH_CLASSES } from '../synth/shapes.ts';
import { classesText, vocXml } from '../synth/voc.ts';
import { writeFileNamed } from './file-errors.ts';
import { checkFolderWritable } from './output-plan.ts';
import { encodePng } from './png.ts';

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
  // Only a new or empty folder, or one this writer filled (its classes.txt), may receive the set: in
  // a real dataset's folder it would replace ImageSets/Main/SPLIT.txt and classes.txt.
  checkFolderWritable(out, '--out');
  if (existsSync(out) && readdirSync(out).length > 0) {
    const classes = join(out, 'classes.txt');
    if (!existsSync(classes) || !statSync(classes).isFile() || readFileSync(classes, 'utf8') !== classesText()) {
      throw new Error(`--out ${out} holds files that are not a synthetic set (no classes.txt of the synthetic classes): give a new or empty folder`);
    }
  }
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
    writeFileNamed(join(imgDir, file), encodePng(s.image));
    writeFileNamed(join(annDir, `${s.name}.xml`), vocXml(s, file));
    names.push(s.name);
    const present = new Set(s.objects.map((o) => o.classIndex));
    for (const c of present) perClass[c]++;
    if (present.size > 1) multiLabel++;
    objects += s.objects.length;
  }
  writeFileNamed(join(setDir, `${opts.split}.txt`), names.length ? `${names.join('\n')}\n` : '');
  writeFileNamed(join(out, 'classes.txt'), classesText());
  return { images: opts.images, objects, perClass, multiLabel };
}
