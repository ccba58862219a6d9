/**
 * Finds and loads a model named on the command line: a built-in architecture (`vgg16:random`)
 * or an ONNX file, with its external data and its preprocessing spec beside it, and canonizes it
 * (src/graph/canonize), keeping what each pass did for `lrp inspect`.
 */
import { existsSync, readFileSync, readSync, closeSync, fstatSync, statSync } from 'node:fs';
import { dirname, resolve, relative } from 'node:path';
import { openRegularFile, readRegularFile, resolveInside } from './contained-path.ts';
import type { Graph } from '../graph/ir.ts';
import { canonize, type Canonized, type PassReport } from '../graph/canonize/index.ts';
import { convertOnnx } from '../graph/onnx/import.ts';
import { BUILTIN_MODELS, builtinModelUncanonized, isBuiltinSpec } from '../graph/zoo.ts';
import { builtinPreprocess } from '../preprocess/presets.ts';
import { parsePreprocessSpecText, type PreprocessSpec } from '../preprocess/spec.ts';

export interface LoadedModel {
  /** The canonized graph every command runs. */
  readonly graph: Graph;
  /** The graph as imported or built, before the canonizer: what `lrp inspect` counts parameters on. */
  readonly original: Graph;
  /** What each canonizer pass did. */
  readonly canonization: readonly PassReport[];
  /** ONNX nodes the importer evaluated as constants, by op type (empty for built-ins). */
  readonly foldedConstants: ReadonlyMap<string, number>;
  /** Null when neither `--preprocess` nor `MODEL.onnx.json` gives one. */
  readonly preprocess: PreprocessSpec | null;
  /** Where the preprocessing came from, for messages. */
  readonly preprocessSource: string | null;
  readonly source: string;
  /** Whether `source` named a built-in architecture rather than a file. */
  readonly builtin: boolean;
  /** The external-data files the model read, as its tensors name them (relative to the model's folder). */
  readonly externalData: readonly string[];
}

export interface LoadModelOptions {
  output?: string;
  preprocess?: string;
}

export function loadModel(spec: string, opts: LoadModelOptions = {}): LoadedModel {
  let original: Graph;
  let foldedConstants: ReadonlyMap<string, number> = new Map();
  let preprocess: PreprocessSpec | null = null;
  let preprocessSource: string | null = null;
  const builtin = isBuiltinSpec(spec) && !existsSync(spec);
  const externalData = new Set<string>();
  if (builtin) {
    original = builtinModelUncanonized(spec);
    if (opts.output && opts.output !== original.output) {
      throw new Error(`${spec}: no output named '${opts.output}' (outputs: ${original.outputs.join(', ')})`);
    }
    preprocess = builtinPreprocess(spec);
    preprocessSource = `${spec} (built-in)`;
  } else {
    if (!existsSync(spec)) {
      throw new Error(`${spec}: no such model file (or built-in model: ${BUILTIN_MODELS.map((m) => `${m}:random`).join(', ')})`);
    }
    if (statSync(spec).isDirectory()) throw new Error(`${spec}: a folder, not an ONNX model file`);
    const bytes = readRegularFile(spec, 'model file');
    const converted = convertOnnx(bytes, { source: spec, output: opts.output, externalData: externalDataReader(spec, externalData) });
    original = converted.graph;
    foldedConstants = converted.stats.foldedConstants;
    const beside = `${spec}.json`;
    if (!opts.preprocess && existsSync(beside)) {
      preprocess = readPreprocessFile(beside);
      preprocessSource = beside;
    }
  }
  if (opts.preprocess) {
    preprocess = readPreprocessFile(opts.preprocess);
    preprocessSource = opts.preprocess;
  }
  let canonized: Canonized;
  try {
    canonized = canonize(original);
  } catch (e) {
    throw new Error(`${spec}: ${(e as Error).message}`);
  }
  return {
    graph: canonized.graph, original, canonization: canonized.reports, foldedConstants,
    preprocess, preprocessSource, source: spec, builtin, externalData: [...externalData],
  };
}

/** A preprocessing spec file; errors name it. */
export function readPreprocessFile(path: string): PreprocessSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the preprocessing spec: ${(e as Error).message}`);
  }
  return parsePreprocessSpecText(text, path);
}

/** Reads ONNX external data relative to the model file, refusing paths that leave its folder (contained-path.ts). */
function externalDataReader(modelPath: string, used: Set<string>) {
  const dir = dirname(resolve(modelPath));
  return (location: string, offset: number, length: number | null): Uint8Array => {
    const path = resolveInside(dir, location, { file: modelPath, what: 'external data location' });
    if (!existsSync(path)) throw new Error(`${modelPath}: external data file '${location}' is missing`);
    used.add(relative(dir, path).split(/[\\/]/).join('/'));
    const fd = openRegularFile(path, `external data of ${modelPath}`);
    try {
      const size = fstatSync(fd).size;
      const n = length ?? size - offset;
      if (offset < 0 || n < 0 || offset + n > size) {
        throw new Error(`${modelPath}: external data '${location}' has ${size} bytes, the model asks for ${n} at offset ${offset}`);
      }
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const got = readSync(fd, out, done, n - done, offset + done);
        if (got === 0) throw new Error(`${modelPath}: external data '${location}' ended after ${offset + done} bytes (was it changed while read?)`);
        done += got;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  };
}
