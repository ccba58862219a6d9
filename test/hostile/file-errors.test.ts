// Hostile files (issue 25, findings 11 and 12), all on the CPU: a folder where a pattern file, a
// checkpoint, a labels file or a model should be is named as a folder (it was a bare EISDIR);
// patterns.json with an unknown pattern_type or "samples": 0 is refused (it was applied);
// `patterns` on a VOC folder whose classes are not the model's, without --labels, is refused up
// front as eval refuses it (it skipped every image, then said "no sample could be read").
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLinear, numel } from '../../src/graph/ir.ts';
import { readLabels } from '../../src/node/labels.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { CHECKPOINT_FILE, PATTERNS_JSON, patternFileNames, readCheckpoint, readPatterns, writePatterns } from '../../src/node/patterns/files.ts';
import { runPatterns } from '../../src/node/patterns/run.ts';
import { writeSynthDataset } from '../../src/node/synth-dataset.ts';
import { sourceWeightShape, weightsDigest } from '../../src/patterns/pattern-set.ts';

const DEMO = 'models/demo/demo.onnx';
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const tmp = mkdtempSync(join(tmpdir(), 'lrp-hostile-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const { graph } = loadModel(DEMO);

/** A patterns folder as lrp patterns writes it (zero patterns: their values play no part here). */
function patternsFolder(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const zeros = new Map(graph.layers.filter(isLinear).map((l) => [l.name, new Float32Array(numel(sourceWeightShape(l)))]));
  writePatterns(dir, graph, zeros, {
    model: 'demo.onnx', weights: weightsDigest(graph), statistics: { input: 's.npy', limit: null }, samples: 8, skipped: 0, batch: 4, preprocess: null, rows: new Map(),
  });
  return dir;
}

function editJson(dir: string, edit: (f: Record<string, unknown>) => void): void {
  const path = join(dir, PATTERNS_JSON);
  const f = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(f);
  writeFileSync(path, JSON.stringify(f));
}

describe('patterns.json that would mean nothing', () => {
  it('an intact folder reads; an unknown pattern_type or samples 0 is refused naming the file', () => {
    expect(readPatterns(patternsFolder('ok'), graph).set.byLayer.size).toBe(graph.layers.filter(isLinear).length);
    const type = patternsFolder('type');
    editJson(type, (f) => { f.pattern_type = 'linear'; });
    expect(() => readPatterns(type, graph)).toThrow(new RegExp(`^${esc(join(type, PATTERNS_JSON))}: pattern_type "linear" is not one this tool applies`));
    const none = patternsFolder('none');
    editJson(none, (f) => { f.samples = 0; });
    expect(() => readPatterns(none, graph)).toThrow(new RegExp(`^${esc(join(none, PATTERNS_JSON))}: "samples" is 0: patterns are learned from at least one sample`));
    editJson(none, (f) => { f.samples = null; });
    expect(() => readPatterns(none, graph)).not.toThrow();
  });
});

describe('a folder where a file should be', () => {
  it('a pattern file, patterns.json, a checkpoint, a labels file, a model: each named, and said to be a folder', () => {
    const dir = patternsFolder('folders');
    const first = [...patternFileNames(graph).values()][0];
    rmSync(join(dir, first));
    mkdirSync(join(dir, first));
    expect(() => readPatterns(dir, graph)).toThrow(new RegExp(`^${esc(join(dir, first))}: the pattern file of node '.*' is a folder, not a regular file$`));
    const json = join(tmp, 'json-folder');
    mkdirSync(join(json, PATTERNS_JSON), { recursive: true });
    expect(() => readPatterns(json, graph)).toThrow(new RegExp(`^${esc(join(json, PATTERNS_JSON))}: the patterns.json is a folder, not a regular file$`));
    mkdirSync(join(dir, CHECKPOINT_FILE));
    expect(() => readCheckpoint(dir)).toThrow(new RegExp(`^${esc(join(dir, CHECKPOINT_FILE))}: a folder, not a patterns checkpoint`));
    expect(() => readLabels(tmp)).toThrow(new RegExp(`^${esc(tmp)}: cannot read the labels file: EISDIR.*\\(a folder is there, not a file\\)$`));
    expect(() => loadModel(tmp)).toThrow(new RegExp(`^${esc(tmp)}: a folder, not an ONNX model file$`));
  });
});

describe('patterns on a dataset of other classes', () => {
  it('without --labels it is refused before any work, as eval refuses it', async () => {
    const voc = join(tmp, 'voc');
    writeSynthDataset(voc, { images: 2, size: 64, seed: 5, split: 'test' });
    const lines: string[] = [];
    await expect(runPatterns({ model: DEMO, dataset: `voc:${esc(voc)}`, out: join(tmp, 'p'), log: (l) => lines.push(l) }))
      .rejects.toThrow(new RegExp(`^voc:${esc(voc)}: the label list has 20 classes but ${esc(DEMO)} has 6 outputs \\(give --labels FILE\\)$`));
    expect(lines.filter((l) => /skipped/.test(l))).toEqual([]);
  });
});
