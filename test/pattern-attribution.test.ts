/**
 * PatternAttribution end to end: `lrp patterns` and `lrp explain --composite pattern-attribution
 * --patterns DIR` as a user runs them reproduce every folder of ../shared/testvectors/pattern/ (its
 * patterns and its maps, with our patterns and with the reference's own); a resumed `lrp patterns`
 * writes the very files of an uninterrupted one; maps on a model with LRN and average pooling
 * against the float64 reference; and the errors that stop a run before anything runs (no
 * patterns, another model's, a missing node, a wrong shape).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { Graph, LinearLayer } from '../src/graph/ir.ts';
import { isLinear, numel } from '../src/graph/ir.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { Rng } from '../src/graph/zoo.ts';
import { encodeNpy, npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { acquireLock } from '../src/node/eval/lock.ts';
import { readPatterns, writePatterns } from '../src/node/patterns/files.ts';
import { loadPatterns, Lrp, savePatterns } from '../src/node/index.ts';
import { runPatterns } from '../src/node/patterns/run.ts';
import { bindPatterns, patternsDigest, sourceWeightShape, weightsDigest, type PatternSet } from '../src/patterns/pattern-set.ts';
import { PatternStatistics } from '../src/patterns/statistics.ts';
import { patternFromSums } from '../src/patterns/sums.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import { referencePatternSums } from './reference/patterns.ts';
import { referenceExplain } from './reference/relevance.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'bin', 'lrp.js');
const tmp = mkdtempSync(join(tmpdir(), 'lrp-patterns-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Result { code: number; stdout: string; stderr: string }

/** Runs `node bin/lrp.js ...args`; never rejects. */
function lrp(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 570_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}
const show = (r: Result): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

const npy = (path: string) => {
  const a = parseNpy(new Uint8Array(readFileSync(path)), path);
  return { shape: a.shape, data: npyToFloat32(a) };
};

interface PatternCases {
  model: string;
  input: string;
  train: string;
  patterns: Record<string, string>;
  pattern_tolerance: number;
  cases: { name: string; composite: unknown; target: number[]; init: 'logit' | 'onehot'; expected: string; tolerance: number }[];
}

const INDEX = 'testvectors/pattern/index.json';
const folders: string[] = haveShared('PatternAttribution reference vectors', INDEX) ? JSON.parse(readFileSync(sharedPath(INDEX), 'utf8')) : [];

describe.skipIf(folders.length === 0)('the reference of ../shared/testvectors/pattern/', () => {
  const shared = useGpu();
  for (const f of folders) {
    const dir = sharedPath(`testvectors/pattern/${f}/`);
    const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as PatternCases;

    it(`${f}: lrp patterns, then lrp explain --composite pattern-attribution --patterns DIR, as a user runs them`, async () => {
      const out = join(tmp, `${f}-cli`);
      const learn = await lrp(['patterns', '--model', dir + spec.model, '--input', dir + spec.train, '--out', out, '--batch', '40']);
      expect(learn.code, show(learn)).toBe(0);
      for (const [node, file] of Object.entries(spec.patterns)) {
        const err = relL2(npy(join(out, `${node}.npy`)).data, npy(dir + file).data);
        expect(err, `${f}/${node}: pattern`).toBeLessThanOrEqual(spec.pattern_tolerance);
      }
      for (const c of spec.cases) {
        const rel = join(out, `map-${c.init}.npy`);
        const r = await lrp(['explain', '--model', dir + spec.model, '--input', dir + spec.input, '--composite', JSON.stringify(c.composite),
          '--patterns', out, '--target', c.target.join(','), '--init', c.init, '--relevance-out', rel]);
        expect(r.code, show(r)).toBe(0);
        const err = relL2(npy(rel).data, npy(dir + c.expected).data);
        console.log(`${f}: ${c.name} (${c.init}) from our patterns: relative L2 ${err.toExponential(2)} (tolerance ${c.tolerance})`);
        expect(err).toBeLessThanOrEqual(c.tolerance);
      }
    });

    it(`${f}: the maps from the reference's own patterns (a folder without patterns.json)`, async () => {
      const graph = importOnnx(new Uint8Array(readFileSync(dir + spec.model)), { source: dir + spec.model });
      const { set, notes } = readPatterns(`${dir}patterns`, graph);
      expect(notes.join('\n')).toMatch(/no patterns\.json/);
      const input = npy(dir + spec.input);
      const fm = await ForwardModel.create(shared.ctx, graph);
      const acts = await fm.forward(input.data, input.shape[0]);
      try {
        for (const c of spec.cases) {
          const composite = resolveComposite(parseComposite(c.composite, `${f}/cases.json`), graph, { patterns: set });
          const ex = await Explainer.create(fm, composite);
          try {
            const r = await ex.explainActivations(acts, { targets: c.target, init: c.init });
            expect(relL2(r.relevance, npy(dir + c.expected).data), `${c.name} (${c.init})`).toBeLessThanOrEqual(c.tolerance);
          } finally {
            ex.destroy();
          }
        }
      } finally {
        acts.release();
        fm.destroy();
      }
    });

    it(`${f}: the library: model.learnPatterns over a stream, an explainer with the patterns, savePatterns and loadPatterns`, async () => {
      const lrp = await Lrp.create({ device: shared.gpu.device });
      try {
        const model = await lrp.loadModel(dir + spec.model);
        const train = npy(dir + spec.train);
        const per = numel(model.inputShape);
        const n = train.shape[0];
        async function* parts() {
          // Two uneven parts, as a stream of a large set would come.
          yield { data: train.data.subarray(0, 37 * per), shape: [37, ...model.inputShape] };
          yield { data: train.data.subarray(37 * per), shape: [n - 37, ...model.inputShape] };
        }
        const patterns = await model.learnPatterns(parts(), { batchSize: 20 });
        expect(patterns.samples).toBe(n);
        expect([...patterns.nodes].sort()).toEqual(Object.keys(spec.patterns).sort());
        for (const [node, file] of Object.entries(spec.patterns)) {
          const ref = npy(dir + file);
          const got = patterns.pattern(node);
          expect(got.shape).toEqual(ref.shape);
          expect(relL2(got.data, ref.data), node).toBeLessThanOrEqual(spec.pattern_tolerance);
        }
        await expect(model.explainer('pattern-attribution')).rejects.toThrow(/needs the model's learned patterns: .*the patterns option/);
        const explainer = await model.explainer('pattern-attribution', { patterns });
        const input = npy(dir + spec.input);
        for (const c of spec.cases) {
          const ex = await explainer.explain({ data: input.data, shape: input.shape }, { target: c.target, init: c.init });
          expect(relL2(ex.relevance.data, npy(dir + c.expected).data), `${c.name} (${c.init})`).toBeLessThanOrEqual(c.tolerance);
        }
        const out = join(tmp, `${f}-library`);
        savePatterns(out, patterns, model);
        const back = loadPatterns(out, model);
        expect(back.digest).toBe(patterns.digest);
        expect(JSON.parse(readFileSync(join(out, 'patterns.json'), 'utf8')).samples).toBe(n);
      } finally {
        lrp.destroy();
      }
    });

    it(`${f}: a resumed lrp patterns writes the files of an uninterrupted one`, async () => {
      const whole = join(tmp, `${f}-whole`);
      const resumed = join(tmp, `${f}-resumed`);
      const common = { model: dir + spec.model, input: dir + spec.train, batch: 20, gpu: shared.gpu, progress: false, log: () => undefined };
      await runPatterns({ ...common, out: whole });
      // Killed after 2 of 5 batches, with a checkpoint after each batch...
      const stopped = await runPatterns({ ...common, out: resumed, checkpointSeconds: 0, stopAfterBatches: 2 });
      expect(stopped.file).toBeNull();
      expect(readdirSync(resumed)).toEqual(['patterns.checkpoint']);
      // ... a plain rerun refuses, a resume with another batch size too, then it finishes.
      await expect(runPatterns({ ...common, out: resumed })).rejects.toThrow(/unfinished run.*--resume/);
      await expect(runPatterns({ ...common, out: resumed, batch: 16, resume: true })).rejects.toThrow(/batch differ/);
      const lines: string[] = [];
      const r = await runPatterns({ ...common, out: resumed, resume: true, log: (l) => lines.push(l) });
      expect(lines.join('\n')).toMatch(/resuming: 40 samples in 2 batches/);
      expect(r.samples).toBe(56);
      for (const file of readdirSync(whole).filter((n) => n.endsWith('.npy'))) {
        expect(Buffer.compare(readFileSync(join(resumed, file)), readFileSync(join(whole, file))), file).toBe(0);
      }
      const json = (d: string) => ({ ...JSON.parse(readFileSync(join(d, 'patterns.json'), 'utf8')), finished: null });
      expect(json(resumed)).toEqual(json(whole));
      await expect(runPatterns({ ...common, out: whole })).rejects.toThrow(/already holds learned patterns/);
      // One writer per folder: a live holder of the lock stops a second run before it loads anything.
      const lock = acquireLock(resumed, 'another lrp patterns', () => undefined);
      try {
        await expect(runPatterns({ ...common, out: resumed, resume: true })).rejects.toThrow(/is in use: .* holds .*run\.lock; lrp patterns stops/);
      } finally {
        lock.release();
      }
    });
  }
});

function randomF32(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
}

/** Conv (stride 2, groups) → ReLU → LRN → AveragePool → MatMul-style dense ([in, out] in the file) → ReLU → dense. */
function lrnAvgModel(): Graph {
  const rng = new Rng(5);
  const b = new GraphBuilder('lrn-avg', 'x', [4, 12, 10]);
  b.add({
    kind: 'conv', name: 'c1', inputs: ['x'], output: 'c1', inChannels: 4, outChannels: 6, kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1],
    dilation: [1, 1], groups: 2, weight: randomF32(rng, 6 * 2 * 9, 0.5), bias: randomF32(rng, 6, 0.1),
  });
  b.add({ kind: 'relu', name: 'r1', inputs: ['c1'], output: 'r1' });
  b.add({ kind: 'lrn', name: 'n1', inputs: ['r1'], output: 'n1', size: 3, alpha: 0.3, beta: 0.75, bias: 1 });
  b.add({ kind: 'avgpool', name: 'a1', inputs: ['n1'], output: 'a1', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], ceilMode: false, countIncludePad: false });
  b.add({ kind: 'flatten', name: 'f', inputs: ['a1'], output: 'f' });
  const inF = numel(b.shapeOf('f'));
  b.add({ kind: 'dense', name: 'd1', inputs: ['f'], output: 'd1', inFeatures: inF, outFeatures: 9, weight: randomF32(rng, 9 * inF, 0.3), bias: randomF32(rng, 9, 0.1), sourceLayout: 'in-out' });
  b.add({ kind: 'relu', name: 'r2', inputs: ['d1'], output: 'r2' });
  b.add({ kind: 'dense', name: 'd2', inputs: ['r2'], output: 'd2', inFeatures: 9, outFeatures: 4, weight: randomF32(rng, 36, 0.4), bias: randomF32(rng, 4, 0.1) });
  return b.build('d2');
}

describe('pattern-attribution maps and errors', () => {
  const shared = useGpu();
  const graph = lrnAvgModel();
  const linear = graph.layers.filter(isLinear) as LinearLayer[];

  /** Patterns as files would hold them: random values in each node's source shape. */
  const entries = (g: Graph, seed: number) => {
    const rng = new Rng(seed);
    return (g.layers.filter(isLinear) as LinearLayer[]).map((l) => ({
      node: l.name, shape: sourceWeightShape(l), data: randomF32(rng, l.weight.length, 1), file: `${l.name}.npy`,
    }));
  };

  it('statistics past LRN and average pooling, and maps through them (their true derivatives), a grouped strided conv and an [in, out] dense, match the float64 reference', async () => {
    expect(sourceWeightShape(linear[1])).toEqual([numel(graph.values.get('f')!.shape), 9]);
    const N = 3;
    const input = randomF32(new Rng(9), N * numel(graph.input.shape), 1);
    const targets = [0, 3, 2];
    const fm = await ForwardModel.create(shared.ctx, graph);
    const stats = await PatternStatistics.create(fm);
    const acts = await fm.forward(input, N);
    try {
      await stats.accumulate(acts);
    } finally {
      acts.release();
    }
    const oracle = referencePatternSums(graph, Float64Array.from(input), N);
    const learned = new Map<string, Float32Array>();
    for (const l of linear) {
      const sums = await stats.readLayer(l.name);
      const ref = oracle.get(l.name)!;
      expect(Math.max(relL2(sums.sx, ref.sx), relL2(sums.sxy, ref.sxy), relL2(sums.sy, ref.sy), relL2(sums.count, ref.count)), l.name).toBeLessThan(2e-6);
      learned.set(l.name, patternFromSums(l.weight, sums));
    }
    stats.destroy();
    // Learned patterns and random ones (any A is a valid backward weight).
    const learnedSet: PatternSet = { graph, source: 'learned', byLayer: learned, digest: patternsDigest(learned) };
    const randomSet = bindPatterns(graph, entries(graph, 3), { source: 'random', digest: weightsDigest(graph) });
    for (const set of [learnedSet, randomSet]) {
      const composite = resolveComposite(parseComposite('pattern-attribution', '--composite'), graph, { patterns: set });
      const ex = await Explainer.create(fm, composite);
      try {
        for (const init of ['onehot', 'logit'] as const) {
          const got = await ex.explain(input, N, { targets, init });
          const ref = referenceExplain(graph, composite.rules, composite.method, Float64Array.from(input), N, targets, init);
          expect(relL2(got.relevance, ref), `${set.source} patterns, ${init}`).toBeLessThan(1e-5);
        }
      } finally {
        ex.destroy();
      }
    }
    fm.destroy();
  });

  it('stops before anything runs: no patterns, another model\'s, a missing node, a wrong shape, a stray file', () => {
    const spec = parseComposite({ method: 'pattern-attribution' }, 'c.json');
    expect(() => resolveComposite(spec, graph)).toThrow(/c\.json: pattern-attribution needs the model's learned patterns: give --patterns DIR/);
    expect(() => parseComposite({ rules: [{ layers: 'conv', rule: 'pattern' }] }, 'c.json')).toThrow(/only available through \{"method": "pattern-attribution"\}/);
    const good = entries(graph, 3);
    expect(() => bindPatterns(graph, good, { source: 'P', digest: '0123456789abcdef' }))
      .toThrow(/P: these patterns were learned for another model \(weights digest 0123456789abcdef; lrn-avg has [0-9a-f]{16}\)/);
    expect(() => bindPatterns(graph, good.filter((e) => e.node !== 'd1'), { source: 'P', digest: null })).toThrow(/P: no pattern for node 'd1' of lrn-avg/);
    expect(() => bindPatterns(graph, good.map((e) => (e.node === 'c1' ? { ...e, shape: [6, 4, 3, 3] } : e)), { source: 'P', digest: null }))
      .toThrow(/c1\.npy: the pattern for node 'c1' has shape \[6, 4, 3, 3\], its weight \[6, 2, 3, 3\]/);
    expect(() => bindPatterns(graph, [...good, { ...good[0], node: 'conv9' }], { source: 'P', digest: null })).toThrow(/a pattern for node 'conv9', which is not a Conv, Gemm or MatMul of lrn-avg/);
    // Patterns bound to one model do not resolve for another object of the same model.
    const set = bindPatterns(graph, good, { source: 'P', digest: null });
    expect(() => resolveComposite(spec, lrnAvgModel(), { patterns: set })).toThrow(/checked against another model/);
    // The digest sees the weights.
    const other = lrnAvgModel();
    (other.layers[0] as LinearLayer).weight[5] += 1e-3;
    expect(weightsDigest(other)).not.toBe(weightsDigest(graph));
    expect(weightsDigest(lrnAvgModel())).toBe(weightsDigest(graph));
  });

  it('reads a folder by its patterns.json and refuses one learned for another model', () => {
    const dir = join(tmp, 'folder');
    mkdirSync(dir, { recursive: true });
    for (const e of entries(graph, 4)) writeFileSync(join(dir, `${e.node}.npy`), encodeNpy(e.shape, e.data));
    const layers = linear.map((l) => ({ node: l.name, file: `${l.name}.npy`, shape: sourceWeightShape(l), rows: 1 }));
    const meta = (weights: string) => JSON.stringify({ format: 'webgpu-lrp/patterns@1', weights, layers });
    writeFileSync(join(dir, 'patterns.json'), meta(weightsDigest(graph)));
    const { set, notes } = readPatterns(dir, graph);
    expect(notes).toEqual([]);
    expect([...set.byLayer.keys()]).toEqual(['c1', 'd1', 'd2']);
    writeFileSync(join(dir, 'patterns.json'), meta('ffffffffffffffff'));
    expect(() => readPatterns(dir, graph)).toThrow(/learned for another model/);
    rmSync(join(dir, 'patterns.json'));
    copyFileSync(join(dir, 'd2.npy'), join(dir, 'fc9.npy'));
    expect(() => readPatterns(dir, graph)).toThrow(/fc9\.npy: a pattern for no Conv, Gemm or MatMul node of lrn-avg/);
  });

  it('writes patterns in the ONNX weight\'s layout ([in, out] for a MatMul) and reads them back', () => {
    const dir = join(tmp, 'written');
    mkdirSync(dir, { recursive: true });
    const rng = new Rng(6);
    const ir = new Map(linear.map((l) => [l.name, randomF32(rng, l.weight.length, 1)]));
    writePatterns(dir, graph, ir, {
      model: 'lrn-avg', weights: weightsDigest(graph), statistics: { input: 'x.npy', limit: null }, samples: 1, skipped: 0, batch: 1,
      preprocess: null, rows: new Map(linear.map((l) => [l.name, 1])),
    });
    const d1 = npy(join(dir, 'd1.npy'));
    const inF = numel(graph.values.get('f')!.shape);
    expect(d1.shape).toEqual([inF, 9]);
    // File element [i, o] is the IR's [o, i].
    expect(d1.data[5 * 9 + 2]).toBe(ir.get('d1')![2 * inF + 5]);
    const { set } = readPatterns(dir, graph);
    for (const l of linear) expect(set.byLayer.get(l.name), l.name).toEqual(ir.get(l.name));
  });
});
