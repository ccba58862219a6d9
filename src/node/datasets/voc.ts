/**
 * Pascal VOC folders (`VOCdevkit/VOC2007`: JPEGImages/, Annotations/*.xml, ImageSets/Main/{split}.txt).
 * Multi-label: one Sample per image, one ClassBoxes per distinct class in it (the protocol's
 * unique (class, image) pairs), the mask of a pair the union of all that class's boxes.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { resolveInside } from '../contained-path.ts';
import { readLabels } from '../labels.ts';
import { clippedNote, cmp, listAnnotations, listImages, readSamples, type Dataset } from './annotation.ts';

/** The 20 classes in the standard order (the order of the 20 outputs of VOC models). */
export const VOC_CLASSES: readonly string[] = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

export interface VocOptions {
  /**
   * ImageSets/Main split(s): "test" (default), "trainval", or several joined by "+" or ","
   * ("trainval+test", the paper's 9,963 images). Ignored, with a note, when there is no ImageSets/Main.
   */
  readonly split?: string;
  /** Class names in model-output order: a labels file (one name per line, or JSON) or the list itself. Default VOC_CLASSES. */
  readonly labels?: string | readonly string[];
  /** Leave out boxes marked difficult (default: included, as in the paper). */
  readonly skipDifficult?: boolean;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** Class names from a file or a list, checked: no empty list, no duplicate. */
export function classList(labels: string | readonly string[] | undefined, fallback: readonly string[], what: string): string[] {
  const names = labels === undefined ? [...fallback] : typeof labels === 'string' ? readLabels(labels) : [...labels];
  const source = typeof labels === 'string' ? labels : what;
  if (names.length === 0) throw new Error(`${source}: the class list is empty`);
  const seen = new Set<string>();
  for (const n of names) {
    if (!n) throw new Error(`${source}: the class list has an empty name`);
    if (seen.has(n)) throw new Error(`${source}: class "${n}" is listed twice`);
    seen.add(n);
  }
  return names;
}

/** The VOC20xx folder under `dir`: `dir` itself, or its only `VOC*` subfolder with Annotations/ (a VOCdevkit). */
function findVocRoot(dir: string, notes: string[]): string {
  if (isDir(join(dir, 'Annotations'))) return dir;
  const subs = isDir(dir) ? readdirSync(dir).filter((d) => /^VOC/i.test(d) && isDir(join(dir, d, 'Annotations'))).sort(cmp) : [];
  if (subs.length === 1) {
    notes.push(`${dir} is a VOCdevkit: reading ${join(dir, subs[0])}`);
    return join(dir, subs[0]);
  }
  if (subs.length > 1) throw new Error(`${dir} holds several VOC folders (${subs.join(', ')}); give one of them`);
  throw new Error(`${dir}: no Annotations/ folder (expected a VOC folder such as VOCdevkit/VOC2007)`);
}

async function splitIds(root: string, split: string): Promise<string[]> {
  const main = join(root, 'ImageSets', 'Main');
  const names = split.split(/[+,]/).map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error(`split "${split}" names no split`);
  const ids = new Set<string>();
  for (const name of names) {
    const file = join(main, `${name}.txt`);
    if (!existsSync(file)) {
      const known = readdirSync(main).filter((f) => f.endsWith('.txt') && !f.includes('_')).map((f) => f.slice(0, -4)).sort(cmp);
      throw new Error(`${file}: no such split (${known.length ? `known: ${known.join(', ')}` : 'ImageSets/Main has no split files'})`);
    }
    for (const line of (await readFile(file, 'utf8')).split(/\r?\n/)) {
      const id = line.trim().split(/\s+/)[0];
      if (!id) continue;
      // An id names Annotations/ID.xml and JPEGImages/ID.*: it must stay in those folders (contained-path.ts).
      const named = { file, what: 'image id' };
      resolveInside(join(root, 'Annotations'), id, named, { links: 'any' });
      if (/[\\/]/.test(id)) throw new Error(`${file}: image id ${JSON.stringify(id)} names a path, not a file of Annotations/ and JPEGImages/`);
      ids.add(id);
    }
  }
  return [...ids].sort(cmp);
}

export async function readVoc(dir: string, opts: VocOptions = {}): Promise<Dataset> {
  const notes: string[] = [];
  const absolute = resolve(dir);
  if (!isDir(absolute)) throw new Error(`${dir}: VOC folder not found`);
  const root = findVocRoot(absolute, notes);
  const annotationDir = join(root, 'Annotations');
  const imageDir = join(root, 'JPEGImages');
  if (!isDir(imageDir)) throw new Error(`${imageDir}: folder not found (VOC images go in JPEGImages/)`);
  const classNames = classList(opts.labels, VOC_CLASSES, 'labels');
  const classIndex = new Map(classNames.map((n, i) => [n, i]));

  const split = opts.split ?? 'test';
  let ids: string[];
  if (isDir(join(root, 'ImageSets', 'Main'))) {
    ids = await splitIds(root, split);
  } else {
    ids = await listAnnotations(annotationDir);
    notes.push(`${root} has no ImageSets/Main: using all ${ids.length} annotations in Annotations/, sorted (split "${split}" not applied)`);
  }
  const images = await listImages(imageDir);
  const read = await readSamples(ids, annotationDir, imageDir, images, classIndex, {
    skipDifficult: opts.skipDifficult, imageExt: '.jpg',
  });
  notes.push(...clippedNote(read));
  if (opts.skipDifficult) notes.push('boxes marked difficult are left out (skipDifficult)');
  return { kind: 'voc', root, samples: read.samples, skips: read.skips, notes, classNames, displayNames: classNames };
}
