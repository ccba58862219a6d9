/**
 * Finds and loads a model named on the command line: a built-in architecture (`vgg16:random`)
 * or an ONNX file, with its external data and its preprocessing spec beside it.
 */
import { existsSync, openSync, readFileSync, readSync, closeSync, statSync } from 'node:fs';
import { dirname, resolve, isAbsolute, normalize, relative } from 'node:path';
import type { Graph } from '../graph/ir.ts';
import { importOnnx } from '../graph/onnx/import.ts';
import { builtinModel, isBuiltinSpec } from '../graph/zoo.ts';
import { builtinPreprocess } from '../preprocess/presets.ts';
import { parsePreprocessSpecText, type PreprocessSpec } from '../preprocess/spec.ts';

export interface LoadedModel {
  readonly graph: Graph;
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
  let graph: Graph;
  let preprocess: PreprocessSpec | null = null;
  let preprocessSource: string | null = null;
  const builtin = isBuiltinSpec(spec) && !existsSync(spec);
  const externalData = new Set<string>();
  if (builtin) {
    graph = builtinModel(spec);
    if (opts.output && opts.output !== graph.output) {
      throw new Error(`${spec}: no output named '${opts.output}' (outputs: ${graph.outputs.join(', ')})`);
    }
    preprocess = builtinPreprocess(spec);
    preprocessSource = `${spec} (built-in)`;
  } else {
    if (!existsSync(spec)) throw new Error(`${spec}: no such model file (or built-in model: vgg16:random, vgg11:random, alexnet:random, caffenet:random)`);
    const bytes = new Uint8Array(readFileSync(spec));
    graph = importOnnx(bytes, { source: spec, output: opts.output, externalData: externalDataReader(spec, externalData) });
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
  return { graph, preprocess, preprocessSource, source: spec, builtin, externalData: [...externalData] };
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

/** Reads ONNX external data relative to the model file, refusing paths that leave its folder. */
function externalDataReader(modelPath: string, used: Set<string>) {
  const dir = dirname(resolve(modelPath));
  return (location: string, offset: number, length: number | null): Uint8Array => {
    const path = resolve(dir, normalize(location));
    const rel = relative(dir, path);
    if (isAbsolute(location) || rel.startsWith('..')) {
      throw new Error(`${modelPath}: external data location '${location}' lies outside the model's folder`);
    }
    if (!existsSync(path)) throw new Error(`${modelPath}: external data file '${location}' is missing`);
    used.add(rel.split(/[\\/]/).join('/'));
    const size = statSync(path).size;
    const n = length ?? size - offset;
    if (offset < 0 || n < 0 || offset + n > size) {
      throw new Error(`${modelPath}: external data '${location}' has ${size} bytes, the model asks for ${n} at offset ${offset}`);
    }
    const out = new Uint8Array(n);
    const fd = openSync(path, 'r');
    try {
      let done = 0;
      while (done < n) done += readSync(fd, out, done, n - done, offset + done);
    } finally {
      closeSync(fd);
    }
    return out;
  };
}
