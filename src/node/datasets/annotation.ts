/**
 * VOC-format annotation XML (Pascal VOC and the ILSVRC bounding-box files share it) to Samples and
 * Skips, and the plumbing both dataset readers share: file listings, bounded parallel reads.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Box } from '../../preprocess/geometry.ts';
import { fitVocBox } from '../../eval/pairs.ts';
import type { ClassBoxes, Sample, Skip } from '../../eval/types.ts';

/** What a dataset reader hands the evaluation. */
export interface Dataset {
  readonly kind: 'voc' | 'imagenet';
  /** The folder the files were read from (absolute). */
  readonly root: string;
  /** Sorted by id. */
  readonly samples: Sample[];
  /** Images and pairs left out while reading, sorted by id. */
  readonly skips: Skip[];
  /** Dataset-wide remarks the user should see (no split file, mixed labels, ...). */
  readonly notes: string[];
  /** Class index → the name pairs are recorded under (VOC: "aeroplane"...; ImageNet: the synset "n01440764"...). */
  readonly classNames: string[];
  /** Class index → a name for people ("tench"); the same as classNames for VOC. */
  readonly displayNames: string[];
}

export interface AnnotationObject {
  /** 1-based position among the file's <object> elements, for messages. */
  readonly index: number;
  readonly name: string;
  readonly difficult: boolean;
  /** null when <bndbox> or one of its coordinates is missing or not a number; `boxError` says which. */
  readonly box: Box | null;
  readonly boxError?: string;
}

export interface Annotation {
  readonly filename: string | null;
  /** 0 when the file has no usable <size>: the decoded image's size is used then. */
  readonly width: number;
  readonly height: number;
  readonly objects: AnnotationObject[];
}

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });

const asArray = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');

function num(v: unknown): number {
  const s = text(v);
  return s === '' ? NaN : Number(s);
}

/** Parses one annotation file's text; throws an Error (without the path) when it is not a VOC annotation. */
export function parseAnnotation(xml: string): Annotation {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`malformed XML (line ${valid.err.line}: ${valid.err.msg})`);
  const doc = parser.parse(xml) as Record<string, unknown>;
  const ann = doc.annotation;
  if (ann === null || typeof ann !== 'object' || Array.isArray(ann)) throw new Error('no <annotation> root element');
  const a = ann as Record<string, unknown>;
  const size = (a.size ?? {}) as Record<string, unknown>;
  let width = num(size.width), height = num(size.height);
  if (!(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0)) width = height = 0;
  const objects = asArray(a.object).map((o, i): AnnotationObject => {
    const obj = (o !== null && typeof o === 'object' ? o : {}) as Record<string, unknown>;
    const name = text(obj.name);
    const difficult = text(obj.difficult) === '1';
    const bb = obj.bndbox;
    if (bb === null || typeof bb !== 'object' || Array.isArray(bb)) {
      return { index: i + 1, name, difficult, box: null, boxError: Array.isArray(bb) ? 'several <bndbox> elements' : 'no <bndbox>' };
    }
    const r = bb as Record<string, unknown>;
    const box = { xmin: num(r.xmin), ymin: num(r.ymin), xmax: num(r.xmax), ymax: num(r.ymax) };
    const missing = (Object.keys(box) as (keyof Box)[]).filter((k) => !Number.isFinite(box[k]));
    if (missing.length) {
      return { index: i + 1, name, difficult, box: null, boxError: `<bndbox> ${missing.map((k) => `<${k}>`).join(', ')} missing or not a number` };
    }
    return { index: i + 1, name, difficult, box };
  });
  const filename = text(a.filename);
  return { filename: filename || null, width, height, objects };
}

export interface BuildOptions {
  /** Leave out boxes marked <difficult>1</difficult>. */
  readonly skipDifficult?: boolean;
  /** Only this object name is measured (ImageNet: the image's label); other objects are ignored. */
  readonly only?: string;
}

/**
 * One image's Sample (null when no pair is left) and Skips. Objects are grouped by class: one
 * ClassBoxes per distinct known class, its boxes all that class's boxes. A class whose name is
 * not in `classIndex`, or one of whose boxes is bad, is skipped as a pair; an object without a
 * name makes every mask of the image doubtful, so it skips the image. `clipped` counts the boxes
 * that reached one pixel past the image and were clipped to it (see fitVocBox).
 */
export function buildSample(
  id: string, imagePath: string, annotationPath: string, ann: Annotation,
  classIndex: ReadonlyMap<string, number>, opts: BuildOptions = {},
): { sample: Sample | null; skips: Skip[]; clipped: number } {
  const skips: Skip[] = [];
  const imageSkip = (reason: string) => ({ sample: null, skips: [{ id, reason: `${annotationPath}: ${reason}` }], clipped: 0 });
  if (ann.objects.length === 0) return imageSkip('no <object> in the annotation');
  const nameless = ann.objects.find((o) => o.name === '');
  if (nameless) return imageSkip(`object #${nameless.index} has no <name>`);

  interface Group { name: string; index: number | undefined; boxes: Box[]; problem: string | null; difficult: number }
  const groups = new Map<string, Group>();
  let clipped = 0;
  for (const o of ann.objects) {
    if (opts.only !== undefined && o.name !== opts.only) continue;
    let g = groups.get(o.name);
    if (!g) groups.set(o.name, (g = { name: o.name, index: classIndex.get(o.name), boxes: [], problem: null, difficult: 0 }));
    if (g.index === undefined || g.problem) continue;
    if (opts.skipDifficult && o.difficult) {
      g.difficult++;
      continue;
    }
    const fit = o.box ? fitVocBox(o.box, ann.width, ann.height) : { problem: o.boxError! };
    if ('problem' in fit) {
      g.problem = `object #${o.index} (${o.name}): ${fit.problem}`;
    } else {
      g.boxes.push(fit.box);
      if (fit.clipped) clipped++;
    }
  }

  const classes: ClassBoxes[] = [];
  for (const g of groups.values()) {
    if (g.index === undefined) {
      skips.push({ id, className: g.name, reason: `${annotationPath}: class "${g.name}" is not in the label list` });
    } else if (g.problem) {
      skips.push({ id, classIndex: g.index, className: g.name, reason: `${annotationPath}: ${g.problem}` });
    } else if (g.boxes.length === 0) {
      skips.push({ id, classIndex: g.index, className: g.name, reason: `${annotationPath}: ${g.name}: only difficult boxes (${g.difficult}), which skipDifficult leaves out` });
    } else {
      classes.push({ classIndex: g.index, className: g.name, boxes: g.boxes });
    }
  }
  classes.sort((p, q) => p.classIndex - q.classIndex);
  skips.sort((p, q) => ((p.classIndex ?? Infinity) - (q.classIndex ?? Infinity)) || cmp(p.className ?? '', q.className ?? ''));
  const sample = classes.length ? { id, imagePath, annotationPath, width: ann.width, height: ann.height, classes } : null;
  return { sample, skips, clipped };
}

/** Code-unit order: the same on every machine and locale. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png']; // preference order when one id has several files

/** id → file name of the images in `dir` (JPEG or PNG, any letter case). */
export async function listImages(dir: string): Promise<Map<string, string>> {
  const rank = (f: string) => IMAGE_EXTENSIONS.indexOf(extname(f).toLowerCase());
  const files = (await readdir(dir)).filter((f) => rank(f) >= 0).sort((a, b) => rank(a) - rank(b) || cmp(a, b));
  const out = new Map<string, string>();
  for (const f of files) {
    const id = f.slice(0, f.length - extname(f).length);
    if (!out.has(id)) out.set(id, f);
  }
  return out;
}

/** Sorted ids of the `.xml` files in `dir`. */
export async function listAnnotations(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => extname(f).toLowerCase() === '.xml').map((f) => f.slice(0, -4)).sort(cmp);
}

/** `fn` over `items` with at most `limit` promises pending, results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** Reads and parses one annotation; a failure is the reason, naming the file. */
export async function readAnnotation(path: string): Promise<Annotation | string> {
  let xml: string;
  try {
    xml = await readFile(path, 'utf8');
  } catch (e) {
    return `${path}: cannot read the annotation: ${(e as Error).message}`;
  }
  try {
    return parseAnnotation(xml);
  } catch (e) {
    return `${path}: ${(e as Error).message}`;
  }
}

/** Reads every annotation of `ids` and builds the samples, sorted by id. */
export async function readSamples(
  ids: readonly string[], annotationDir: string, imageDir: string, images: ReadonlyMap<string, string>,
  classIndex: ReadonlyMap<string, number>, opts: BuildOptions & {
    /** The usual image extension, for the message when an image is missing. */
    imageExt: string;
    onlyFor?: (ann: Annotation, id: string) => string | undefined;
  },
): Promise<{ samples: Sample[]; skips: Skip[]; clippedIds: string[]; clippedBoxes: number }> {
  const sorted = [...ids].sort(cmp);
  const per = await mapLimit(sorted, 32, async (id) => {
    const annotationPath = join(annotationDir, `${id}.xml`);
    const ann = await readAnnotation(annotationPath);
    if (typeof ann === 'string') return { sample: null, skips: [{ id, reason: ann }], clipped: 0 };
    const imageFile = images.get(id);
    if (imageFile === undefined) {
      return { sample: null, skips: [{ id, reason: `${join(imageDir, `${id}${opts.imageExt}`)}: image file not found (annotation ${annotationPath})` }], clipped: 0 };
    }
    const imagePath = join(imageDir, imageFile);
    return buildSample(id, imagePath, annotationPath, ann, classIndex, { ...opts, only: opts.onlyFor?.(ann, id) });
  });
  const samples: Sample[] = [];
  const skips: Skip[] = [];
  const clippedIds: string[] = [];
  let clippedBoxes = 0;
  per.forEach((r, i) => {
    if (r.sample) samples.push(r.sample);
    skips.push(...r.skips);
    if (r.clipped) clippedIds.push(sorted[i]);
    clippedBoxes += r.clipped;
  });
  return { samples, skips, clippedIds, clippedBoxes };
}

/** "a, b, c and 7 more" */
export function some(items: readonly string[], n = 8): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}

/** The note on boxes clipped by one pixel, or nothing. */
export function clippedNote(r: { clippedIds: string[]; clippedBoxes: number }): string[] {
  if (r.clippedBoxes === 0) return [];
  return [`${r.clippedBoxes} box(es) in ${r.clippedIds.length} image(s) reach one pixel past the image (coordinate 0 or size + 1: 0-based annotations) and were clipped to it: ${some(r.clippedIds)}`];
}
