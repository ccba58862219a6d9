/**
 * `lrp eval --metrics mu,aopc` end to end with the demo model on a few images of the demo's
 * synthetic data (64 × 64): one pair's curves against an oracle built here (relevance read back,
 * patch scores and orders in float64, perturbed inputs built on the CPU, the same model's forward
 * pass), the report recomputed from the records, a stopped and resumed run, and one killed with
 * kill -9 and resumed, equal to the uninterrupted one, shards merged into it, a resume with other aopc options refused, bad options
 * refused before anything is written, and `lrp explain --aopc-out`'s file.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RANDOM_ROW } from '../src/eval/aopc-report.ts';
import { isPrepared } from '../src/eval/pairs.ts';
import { aopcOfBatch, parseBaseline } from '../src/eval/region-perturbation.ts';
import { loadInputs } from '../src/node/inputs.ts';
import type { EvalReport } from '../src/eval/report.ts';
import type { PairRecord } from '../src/eval/types.ts';
import { ForwardModel } from '../src/forward/model.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { openDataset } from '../src/node/datasets/index.ts';
import { DEMO_MODEL } from '../src/node/demo/run.ts';
import { readJsonl } from '../src/node/eval/files.ts';
import { mergeRuns } from '../src/node/eval/merge.ts';
import { runEval, type EvalOptions } from '../src/node/eval/run.ts';
import { loadAnalyzers, loadEvalModel, selectItems } from '../src/node/eval/setup.ts';
import { prepareSample } from '../src/node/prepare/index.ts';
import { writeSynthDataset } from '../src/node/synth-dataset.ts';
import { useGpu } from './helpers/gpu.ts';
import { patchOrder, perturbedInput } from './helpers/aopc-oracle.ts';

const G = { C: 3, H: 64, W: 64, P: 16 };

const gpu = useGpu();
const S = 64, PATCH = 16, STEPS = 4;
let root: string;
let data: string;

function options(out: string, extra: Partial<EvalOptions> = {}): EvalOptions {
  return {
    model: DEMO_MODEL, dataset: `voc:${data}`, labels: join(data, 'classes.txt'), composites: ['cmp-alpha2-flat'], out, batch: 2,
    metrics: ['mu', 'aopc'], steps: STEPS, patch: PATCH, baseline: 'uniform:5',
    workers: 0, progress: false, log: () => {}, gpu: gpu.gpu, ...extra,
  };
}

function stable(dir: string): Omit<EvalReport, 'timing'> {
  const { timing: _t, ...rest } = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as EvalReport;
  return rest;
}
const records = (dir: string) => readJsonl<PairRecord>(join(dir, 'pairs.jsonl')).items;
const text = (dir: string) => readFileSync(join(dir, 'pairs.jsonl'), 'utf8');

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lrp-aopc-eval-'));
  data = join(root, 'data');
  writeSynthDataset(data, { images: 4, size: S, seed: 1, split: 'test' });
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('lrp eval --metrics mu,aopc (demo model, 4 synthetic images)', () => {
  const plain = () => join(root, 'plain');

  it('refuses bad region-perturbation options before writing anything, naming the flag', async () => {
    const out = join(root, 'bad');
    const cases: [Partial<EvalOptions>, RegExp][] = [
      [{ patch: 65 }, /--patch 65 is larger than the model's 64×64 input/],
      [{ steps: 17 }, /--steps 17 is more than the 16 patches/],
      [{ baseline: 'gauss' }, /--baseline must be zero or uniform:SEED/],
      [{ steps: 2.5 }, /--steps must be a whole number >= 1, got 2.5/],
      [{ patch: 0 }, /--patch must be a whole number >= 1, got 0/],
      [{ metrics: ['mu', 'aopx'] }, /--metrics: unknown metric 'aopx'/],
      [{ metrics: ['mu'] }, /--steps, --patch, --baseline set region perturbation.*--metrics mu,aopc/],
    ];
    for (const [extra, msg] of cases) {
      await expect(runEval(options(out, { ...extra, gpu: undefined }))).rejects.toThrow(msg);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('records f(x_0) and L + 1 logits per order; a pair\'s curves equal the oracle\'s; the report is recomputed from them', async () => {
    const res = await runEval(options(plain()));
    const report = res.report!;
    const recs = records(plain());
    expect(recs.length).toBe(report.pairs);
    for (const r of recs) {
      expect(r.aopc!.morf).toHaveLength(STEPS + 1);
      expect(r.aopc!.lerf).toHaveLength(STEPS + 1);
      expect(r.aopc!.morf[0]).toBe(r.aopc!.f0);
      expect(r.aopc!.random!.morf).toHaveLength(STEPS + 1);
    }
    for (const f of ['aopc.svg', 'aopc.csv']) expect(existsSync(join(plain(), f)), f).toBe(true);
    const svg = readFileSync(join(plain(), 'aopc.svg'), 'utf8');
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('#7f7f7f');
    expect(readFileSync(join(plain(), 'report.md'), 'utf8')).toContain('| analyzer | AOPC-MoRF | AOPC-LeRF | ABPC | pairs |');

    // The report's means from the records, in float64 here.
    const aopcOf = (c: readonly number[]) => c.reduce((s, v) => s + (c[0] - v), 0) / c.length;
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    const table = report.aopc!;
    expect(Object.keys(table)).toEqual(['cmp-alpha2-flat', RANDOM_ROW]);
    const m = recs.map((r) => aopcOf(r.aopc!.morf)), l = recs.map((r) => aopcOf(r.aopc!.lerf));
    expect(table['cmp-alpha2-flat'].morf.mean).toBeCloseTo(mean(m), 12);
    expect(table['cmp-alpha2-flat'].lerf.mean).toBeCloseTo(mean(l), 12);
    expect(table['cmp-alpha2-flat'].abpc.mean).toBeCloseTo(mean(m) - mean(l), 12);
    expect(table[RANDOM_ROW].morf.mean).toBeCloseTo(mean(recs.map((r) => aopcOf(r.aopc!.random!.morf))), 12);
    for (const row of Object.values(table)) {
      for (const s of [row.morf, row.lerf, row.abpc]) {
        expect(s.stderr).toBeGreaterThan(0);
        expect(s.ci95![0]).toBeLessThanOrEqual(s.mean!);
        expect(s.ci95![1]).toBeGreaterThanOrEqual(s.mean!);
      }
      expect(row.curve.morf[0]).toBe(0);
    }

    // One pair by the oracle: the relevance of its class, the orders of its 16 patches, its
    // perturbed inputs built here, through the same model.
    const model = loadEvalModel(DEMO_MODEL);
    const ds = await openDataset(`voc:${data}`, { labels: join(data, 'classes.txt') });
    const items = selectItems(ds.samples, ds.skips, {});
    const item = items[2];
    const prepared = await prepareSample(item.sample!, model.preprocess);
    if (!isPrepared(prepared)) throw new Error('not prepared');
    const pair = prepared.pairs[0];
    const rec = recs.find((r) => r.image === item.id && r.classIndex === pair.classIndex)!;
    const [an] = loadAnalyzers(['cmp-alpha2-flat'], model.graph, model.preprocess);
    const fm = await ForwardModel.create(gpu.ctx, model.graph);
    const ex = await Explainer.create(fm, an.composite);
    try {
      const e = await ex.explain(prepared.input, 1, { targets: [pair.classIndex], init: 'logit' });
      for (const [order, got] of [[patchOrder(G, e.relevance, 0, true), rec.aopc!.morf], [patchOrder(G, e.relevance, 0, false), rec.aopc!.lerf]] as const) {
        const xs = new Float32Array(STEPS * 3 * S * S);
        for (let k = 1; k <= STEPS; k++) xs.set(perturbedInput(G, prepared.input, order, k, 'uniform:5', item.index), (k - 1) * 3 * S * S);
        const acts = await fm.forward(xs, STEPS);
        const logits = await acts.read();
        acts.release();
        const classes = logits.length / STEPS;
        expect(Math.abs(got[0] - e.targetLogits[0])).toBeLessThan(1e-4 * (1 + Math.abs(e.targetLogits[0])));
        for (let k = 1; k <= STEPS; k++) {
          const want = logits[(k - 1) * classes + pair.classIndex];
          expect(Math.abs(got[k] - want), `k = ${k}`).toBeLessThan(1e-4 * (1 + Math.abs(want)));
        }
      }
    } finally {
      ex.destroy();
      fm.destroy();
    }
    expect(parseBaseline('uniform:5')).toEqual({ kind: 'uniform', seed: 5 });
  });

  it('a killed run resumes to exactly the uninterrupted one; a resume with other aopc options is refused', async () => {
    const dir = join(root, 'killed');
    const stopped = await runEval(options(dir, { stopAfterBatches: 1 }));
    expect(stopped.report).toBeNull();
    await expect(runEval(options(dir, { resume: true, steps: 3 }))).rejects.toThrow(/aopc: --steps 4 --patch 16 --baseline uniform:5 then, --steps 3/);
    await expect(runEval(options(dir, { resume: true, baseline: 'zero' }))).rejects.toThrow(/aopc/);
    await expect(runEval(options(dir, { resume: true, metrics: ['mu'], steps: undefined, patch: undefined, baseline: undefined }))).rejects.toThrow(/aopc: .* then, not measured now/);
    const resumed = await runEval(options(dir, { resume: true }));
    expect(resumed.images).toBeLessThan(4);
    expect(text(dir)).toBe(text(plain()));
    expect(stable(dir)).toEqual(stable(plain()));
  });

  it('kill -9 of lrp eval --metrics mu,aopc after its first records, then --resume: the records end byte-identical', async () => {
    const dir = join(root, 'kill9');
    const bin = fileURLToPath(new URL('../bin/lrp.js', import.meta.url));
    const args = [bin, 'eval', '--model', DEMO_MODEL, '--dataset', `voc:${data}`, '--labels', join(data, 'classes.txt'),
      '--composite', 'cmp-alpha2-flat', '--metrics', 'mu,aopc', '--steps', String(STEPS), '--patch', String(PATCH), '--baseline', 'uniform:5',
      '--batch', '1', '--workers', '0', '--out', dir];
    const lines = () => (existsSync(join(dir, 'pairs.jsonl')) ? text(dir).split('\n').filter(Boolean).length : 0);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    let exited = false;
    void done.then(() => (exited = true));
    const end = Date.now() + 240_000;
    while (!exited && lines() < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal, `the run ended before it could be killed:\n${stderr}`).toBe('SIGKILL');
    expect(lines()).toBeLessThan(text(plain()).split('\n').filter(Boolean).length);
    await promisify(execFile)(process.execPath, [...args, '--resume'], { encoding: 'utf8', timeout: 300_000 });
    expect(text(dir)).toBe(text(plain()));
    expect(stable(dir)).toEqual(stable(plain()));
  });

  it('shards 0/2 and 1/2 merge into the uninterrupted run\'s records and report', async () => {
    const s0 = join(root, 's0'), s1 = join(root, 's1'), merged = join(root, 'merged');
    await runEval(options(s0, { shard: { index: 0, count: 2 } }));
    await runEval(options(s1, { shard: { index: 1, count: 2 } }));
    await mergeRuns([s0, s1], merged, { log: () => {} });
    expect(text(merged)).toBe(text(plain()));
    expect(stable(merged)).toEqual(stable(plain()));
  });

  it('lrp explain --aopc-out writes every sample\'s curves and AOPC, the image index being its position', async () => {
    const out = join(root, 'explain-aopc.json');
    const pngs = [2, 1].map((n) => join(data, 'JPEGImages', `synth_00000${n}.png`));
    const bin = fileURLToPath(new URL('../bin/lrp.js', import.meta.url));
    await promisify(execFile)(process.execPath, [bin, 'explain', '--model', DEMO_MODEL, '--input', ...pngs, '--target', '3',
      '--aopc-out', out, '--steps', '3', '--patch', '16', '--baseline', 'uniform:4', '--no-heatmap'], { encoding: 'utf8', timeout: 300_000 });
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(file.samples).toHaveLength(2);
    // The same through the library's path: the explainer's relevance of class 3, region perturbation of it.
    const model = loadEvalModel(DEMO_MODEL);
    const inputs = await loadInputs(pngs, model.graph, model.preprocess, '');
    const [an] = loadAnalyzers(['cmp-alpha2-flat'], model.graph, model.preprocess);
    const fm = await ForwardModel.create(gpu.ctx, model.graph);
    const ex = await Explainer.create(fm, an.composite);
    try {
      const e = await ex.explain(inputs.data, 2, { targets: [3], init: 'logit' });
      const want = await aopcOfBatch(fm, { inputs: inputs.data, relevance: e.relevance, targets: e.targets, f0: e.targetLogits }, { steps: 3, patch: 16, baseline: 'uniform:4' });
      file.samples.forEach((s: { target: number; morf: number[]; lerf: number[]; aopc_morf: number; aopc_lerf: number }, n: number) => {
        expect(s.target).toBe(3);
        expect(s.morf).toHaveLength(4);
        for (const k of [0, 1, 2, 3]) {
          expect(Math.abs(s.morf[k] - want[n].morf[k])).toBeLessThan(1e-4 * (1 + Math.abs(want[n].morf[k])));
          expect(Math.abs(s.lerf[k] - want[n].lerf[k])).toBeLessThan(1e-4 * (1 + Math.abs(want[n].lerf[k])));
        }
        expect(Math.abs(s.aopc_morf - want[n].aopc_morf)).toBeLessThan(1e-4 * (1 + Math.abs(want[n].aopc_morf)));
      });
      // The second sample's baseline is seeded by position 1, not 0.
      expect(file.samples[0].morf[3]).not.toBe(file.samples[1].morf[3]);
    } finally {
      ex.destroy();
      fm.destroy();
    }
  });
});
