/**
 * Turns command-line inputs (one `.npy` batch, or image files) into one float32 NCHW batch.
 *
 * An image that cannot be read (missing, corrupt, not an image) does not end the run: it is
 * reported in `failures` and left out, and the command exits with status 1 after doing the rest.
 * A bad `.npy` batch, or every image failing, is an error.
 */
import { basename, dirname, extname, resolve, sep } from 'node:path';
import { checkPreprocessFits } from '../api/input.ts';
import type { Graph } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { assertFinite } from '../io/finite.ts';
import { npyToFloat32 } from '../io/npy.ts';
import { preprocessImage } from '../preprocess/image.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { readImage } from './image-decode.ts';
import { readNpy } from './npy-file.ts';
import { uniqueStems } from './output-plan.ts';

export interface InputBatch {
  readonly data: Float32Array;
  readonly count: number;
  /** One name per sample for printing: the file name, with folders where two share it. */
  readonly names: string[];
  /** One unique name per sample for output files (no extension; see uniqueNames). */
  readonly stems: string[];
  /** The image file of each sample; null for samples of a `.npy` batch. */
  readonly paths: (string | null)[];
  /** Images that could not be read, with why; left out of the batch. */
  readonly failures: { readonly path: string; readonly message: string }[];
}

/**
 * A name per path for output files: the file name without its extension, and where two paths
 * share it, enough of their folders to tell them apart (`a/x/img.jpg`, `b/x/img.jpg` → `a_x_img`,
 * `b_x_img`); a path given twice gets `-2`, `-3`, ... Characters other than letters, digits,
 * `.`, `_` and `-` become `_`; two files of one folder that this makes one name (`a+b.png`,
 * `a=b.png`) get a stable hash suffix (output-plan.ts uniqueStems).
 */
export function uniqueNames(paths: readonly string[]): string[] {
  const parts = paths.map((p) => {
    const full = resolve(p);
    const dirs = dirname(full).split(sep).filter(Boolean);
    return { stem: basename(full, extname(full)), dirs };
  });
  const depth = parts.map(() => 0);
  const rawName = (i: number) => [...parts[i].dirs.slice(parts[i].dirs.length - depth[i]), parts[i].stem].join('_');
  for (;;) {
    const groups = new Map<string, number[]>();
    parts.forEach((_, i) => {
      const n = rawName(i);
      groups.set(n, [...(groups.get(n) ?? []), i]);
    });
    let grew = false;
    for (const idx of groups.values()) {
      // A file given twice is not a collision a folder could resolve (it is numbered below).
      if (new Set(idx.map((i) => resolve(paths[i]))).size < 2) continue;
      for (const i of idx) {
        if (depth[i] < parts[i].dirs.length) {
          depth[i]++;
          grew = true;
        }
      }
    }
    if (!grew) break;
  }
  // Names the sanitiser makes one (`a+b`, `a=b`) get hash suffixes; what is still equal is the
  // same file given twice (or folders whose names joined with `_` read alike): number the repeats.
  const seen = new Map<string, number>();
  return uniqueStems(parts.map((_, i) => rawName(i))).map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return k === 1 ? n : `${n}-${k}`;
  });
}

export async function loadInputs(paths: readonly string[], graph: Graph, preprocess: PreprocessSpec | null, preprocessHint: string): Promise<InputBatch> {
  if (paths.length === 0) throw new Error('no input given (a .npy file or image files)');
  const per = numel(graph.input.shape);
  const npys = paths.filter((p) => extname(p).toLowerCase() === '.npy');
  if (npys.length) {
    if (paths.length !== 1) throw new Error('give either one .npy batch or image files, not both');
    const arr = await readNpy(paths[0]);
    const want = graph.input.shape;
    const shapeOk = arr.shape.length === want.length + 1 && want.every((d, i) => arr.shape[i + 1] === d);
    if (!shapeOk) {
      throw new Error(`${paths[0]}: shape [${arr.shape.join(', ')}] does not match the model input N×${want.join('×')}`);
    }
    const count = arr.shape[0];
    const stem = uniqueNames(paths)[0];
    const data = npyToFloat32(arr);
    assertFinite(data, arr.shape, paths[0]);
    return {
      data, count, failures: [],
      names: Array.from({ length: count }, (_, i) => `${basename(paths[0])}[${i}]`),
      stems: Array.from({ length: count }, (_, i) => (count === 1 ? stem : `${stem}_${i}`)),
      paths: new Array<string | null>(count).fill(null),
    };
  }
  if (!preprocess) {
    throw new Error(`images need a preprocessing spec: ${preprocessHint}`);
  }
  checkPreprocessFits(graph, preprocess, graph.name);
  const stems = uniqueNames(paths);
  const bases = paths.map((p) => basename(p));
  const names = paths.map((p, i) => (bases.filter((b) => b === bases[i]).length > 1 ? `${stems[i]}${extname(p)}` : bases[i]));
  const chunks: Float32Array[] = [];
  const kept: number[] = [];
  const failures: { path: string; message: string }[] = [];
  for (let i = 0; i < paths.length; i++) {
    try {
      chunks.push(preprocessImage(await readImage(paths[i]), preprocess));
      kept.push(i);
    } catch (e) {
      const message = (e as Error).message;
      failures.push({ path: paths[i], message: message.includes(paths[i]) ? message : `${paths[i]}: ${message}` });
    }
  }
  if (kept.length === 0) {
    throw new Error(failures.length === 1 ? failures[0].message : `no input could be read:\n  ${failures.map((f) => f.message).join('\n  ')}`);
  }
  const data = new Float32Array(kept.length * per);
  chunks.forEach((x, k) => data.set(x, k * per));
  return { data, count: kept.length, names: kept.map((i) => names[i]), stems: kept.map((i) => stems[i]), paths: kept.map((i) => paths[i]), failures };
}
