/**
 * `openDataset('voc:DIR' | 'imagenet:DIR', opts)`: the evaluation's entry to the dataset readers.
 * Reading never throws for one bad file (it becomes a Skip); it throws for what makes the whole
 * run meaningless: an unknown kind, a missing folder, a missing or unusable label list.
 */
import { existsSync, statSync } from 'node:fs';
import type { Dataset } from './annotation.ts';
import { readImageNet } from './imagenet.ts';
import { readVoc } from './voc.ts';

export type { Dataset } from './annotation.ts';
export { readVoc, VOC_CLASSES, type VocOptions } from './voc.ts';
export { readImageNet, readSynsets, type ImageNetOptions } from './imagenet.ts';
export { parseAnnotation, type Annotation, type AnnotationObject } from './annotation.ts';

/** The dataset layouts `openDataset` reads. */
export const DATASET_KINDS = ['voc', 'imagenet'] as const;
/** `'voc'` (Pascal VOC: JPEGImages/, Annotations/, ImageSets/Main/) or `'imagenet'` (images/ and annotations/ folders). */
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** Options of `openDataset`. */
export interface OpenDatasetOptions {
  /** VOC only: ImageSets/Main split(s), default "test"; "trainval+test" for the paper's whole VOC 2007. */
  readonly split?: string;
  /** Class list file: VOC's class names (default: the standard 20); ImageNet's synsets (required). */
  readonly labels?: string;
  /** Leave out boxes marked difficult (default: kept, as in the paper). */
  readonly skipDifficult?: boolean;
}

/** Splits 'KIND:DIR'; throws naming the known kinds. */
export function parseDatasetSpec(spec: string): { kind: DatasetKind; dir: string } {
  const colon = spec.indexOf(':');
  const kind = colon > 0 ? spec.slice(0, colon) : '';
  const dir = colon > 0 ? spec.slice(colon + 1) : '';
  if (!(DATASET_KINDS as readonly string[]).includes(kind)) {
    const what = colon > 0 ? `unknown dataset kind "${kind}"` : 'no dataset kind';
    throw new Error(`${what} in "${spec}": expected KIND:DIR with KIND one of ${DATASET_KINDS.join(', ')} (e.g. voc:VOCdevkit/VOC2007)`);
  }
  if (!dir) throw new Error(`"${spec}": no folder after "${kind}:"`);
  return { kind: kind as DatasetKind, dir };
}

/**
 * Reads a dataset's annotations (not its images) into samples: `'voc:VOCdevkit/VOC2007'` or
 * `'imagenet:ILSVRC2012_val'`. Bad files become skips; a missing folder or label list throws.
 */
export async function openDataset(spec: string, opts: OpenDatasetOptions = {}): Promise<Dataset> {
  const { kind, dir } = parseDatasetSpec(spec);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: dataset folder not found (from "${spec}")`);
  if (kind === 'voc') return readVoc(dir, opts);
  const ds = await readImageNet(dir, opts);
  if (opts.split !== undefined) ds.notes.push(`split "${opts.split}" ignored: it applies to VOC; ImageNet reads every annotated image`);
  return ds;
}
