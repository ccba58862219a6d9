/** Turns command-line inputs (one `.npy` batch, or image files) into one float32 NCHW batch. */
import { extname, basename } from 'node:path';
import { checkPreprocessFits } from '../api/input.ts';
import type { Graph } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { npyToFloat32 } from '../io/npy.ts';
import { preprocessImage } from '../preprocess/image.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { readImage } from './image-decode.ts';
import { readNpy } from './npy-file.ts';

export interface InputBatch {
  readonly data: Float32Array;
  readonly count: number;
  /** One name per sample, for printing. */
  readonly names: string[];
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
    return { data: npyToFloat32(arr), count, names: Array.from({ length: count }, (_, i) => `${basename(paths[0])}[${i}]`) };
  }
  if (!preprocess) {
    throw new Error(`images need a preprocessing spec: ${preprocessHint}`);
  }
  checkPreprocessFits(graph, preprocess, graph.name);
  const data = new Float32Array(paths.length * per);
  for (let i = 0; i < paths.length; i++) {
    data.set(preprocessImage(await readImage(paths[i]), preprocess), i * per);
  }
  return { data, count: paths.length, names: paths.map((p) => basename(p)) };
}
