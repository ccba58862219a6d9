/**
 * ImageNet 2012 validation with its ILSVRC bounding-box XML (VOC format, `<name>` the synset):
 * `DIR/images/*.JPEG` + `DIR/annotations/*.xml`, or images and XML side by side in DIR.
 * One measurement per image: its label's class, the mask the union of that synset's boxes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { clippedNote, cmp, listAnnotations, listImages, readSamples, some, type Dataset } from './annotation.ts';

export interface ImageNetOptions {
  /**
   * The synsets (required, the CLI's `--labels`): `synset_words.txt` ("n01440764 tench, Tinca tinca"
   * per line), a plain list of synset ids, or Keras' `imagenet_class_index.json`.
   */
  readonly labels?: string;
  /** Leave out boxes marked difficult (ILSVRC marks none). */
  readonly skipDifficult?: boolean;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const SYNSET = /^n\d{8}$/;

/** Synset ids and their names, in the file's order. */
export function readSynsets(path: string): { synsets: string[]; names: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the synset list: ${(e as Error).message}`);
  }
  const synsets: string[] = [];
  const names: string[] = [];
  if (path.toLowerCase().endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new Error(`${path}: expected imagenet_class_index.json's {"0": ["n01440764", "tench"], ...}`);
    }
    const entries = Object.entries(json as Record<string, unknown>).sort((a, b) => Number(a[0]) - Number(b[0]));
    entries.forEach(([k, v], i) => {
      if (Number(k) !== i || !Array.isArray(v) || !SYNSET.test(String(v[0]))) {
        throw new Error(`${path}: entry "${k}" is not index ${i} → ["nXXXXXXXX", name]`);
      }
      synsets.push(String(v[0]));
      names.push(v.length > 1 ? String(v[1]) : String(v[0]));
    });
  } else {
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      const m = /^(\S+)\s*(.*)$/.exec(line)!;
      if (!SYNSET.test(m[1])) throw new Error(`${path}:${i + 1}: "${m[1]}" is not a synset id (nXXXXXXXX); ImageNet needs a synset list such as synset_words.txt`);
      synsets.push(m[1]);
      names.push(m[2] ? m[2].split(',')[0].trim() : m[1]);
    });
  }
  if (synsets.length === 0) throw new Error(`${path}: no synsets`);
  const seen = new Set<string>();
  for (const s of synsets) {
    if (seen.has(s)) throw new Error(`${path}: synset ${s} is listed twice`);
    seen.add(s);
  }
  return { synsets, names };
}

export async function readImageNet(dir: string, opts: ImageNetOptions = {}): Promise<Dataset> {
  if (!opts.labels) {
    throw new Error('ImageNet needs the synset list: give --labels synset_words.txt (or imagenet_class_index.json)');
  }
  const root = resolve(dir);
  if (!isDir(root)) throw new Error(`${dir}: ImageNet folder not found`);
  const notes: string[] = [];
  const split = isDir(join(root, 'images')) && isDir(join(root, 'annotations'));
  const imageDir = split ? join(root, 'images') : root;
  const annotationDir = split ? join(root, 'annotations') : root;
  const ids = await listAnnotations(annotationDir);
  if (ids.length === 0) {
    throw new Error(`${annotationDir}: no annotation XML (expected images/ and annotations/, or *.JPEG and *.xml side by side)`);
  }

  // The protocol: a synset's class index is its position in the sorted list of the synsets.
  const { synsets, names } = readSynsets(opts.labels);
  const order = synsets.map((_, i) => i).sort((a, b) => cmp(synsets[a], synsets[b]));
  if (order.some((j, i) => j !== i)) {
    notes.push(`${opts.labels} is not in sorted synset order; class indices follow the protocol (position in the sorted list), not the file's lines`);
  }
  const classNames = order.map((j) => synsets[j]);
  const displayNames = order.map((j) => names[j]);
  if (classNames.length !== 1000) notes.push(`${opts.labels} lists ${classNames.length} synsets, not ImageNet's 1,000`);
  const classIndex = new Map(classNames.map((n, i) => [n, i]));

  const images = await listImages(imageDir);
  const annotated = new Set(ids);
  const mixed: string[] = [];
  const read = await readSamples(ids, annotationDir, imageDir, images, classIndex, {
    skipDifficult: opts.skipDifficult,
    imageExt: '.JPEG',
    // The label is the first object's synset; ILSVRC validation files hold only the label's boxes.
    onlyFor: (ann, id) => {
      const label = ann.objects[0]?.name;
      if (ann.objects.some((o) => o.name !== label)) mixed.push(id);
      return label || undefined;
    },
  });
  const skips = read.skips;
  const orphans = [...images.keys()].filter((id) => !annotated.has(id)).sort(cmp);
  for (const id of orphans) skips.push({ id, reason: `${join(imageDir, images.get(id)!)}: no annotation ${join(annotationDir, `${id}.xml`)}` });
  skips.sort((a, b) => cmp(a.id, b.id));
  if (mixed.length) {
    mixed.sort(cmp);
    notes.push(`${mixed.length} annotation(s) name several synsets; each is measured for its first object's synset only: ${some(mixed)}`);
  }
  notes.push(...clippedNote(read));
  if (!split) notes.push(`${root}: images and annotations side by side`);
  return { kind: 'imagenet', root, samples: read.samples, skips, notes, classNames, displayNames };
}
