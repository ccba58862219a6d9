/**
 * A run knows what it is, and one writer has its folder (issue 14, items 2-4 and the smaller
 * defects of item 5), with the demo model on small `lrp synth` sets:
 * - --resume compares contents, not path spellings: another dataset at the same spelling, a
 *   dataset regenerated in place, another model file at the same path are refused naming the
 *   field; the same labels file by an absolute path is accepted; a finished run says so.
 * - run.lock: a live holder stops a second writer at once, naming it; a dead one's lock is taken
 *   over; the lock goes on success and on error.
 * - duplicate records repaired (identical) or refused (differing); orphan temporary files removed.
 * - options checked before anything is written (--workers -1); --shard auto from Slurm and Kubernetes.
 * (Merge verification and the crash, concurrency and full-disk runs are in reliability.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSynthDataset } from '../src/node/synth-dataset.ts';
import { DEMO_MODEL } from '../src/node/demo/run.ts';
import { JsonlAppender } from '../src/node/eval/files.ts';
import { writeFileNamed } from '../src/node/file-errors.ts';
import { writeNpy } from '../src/node/npy-file.ts';
import { writePng } from '../src/node/png.ts';
import { runEval, type EvalOptions } from '../src/node/eval/run.ts';
import { resolveShard } from '../src/node/eval/shard.ts';
import { useGpu } from './helpers/gpu.ts';

const gpu = useGpu();
let root: string;
let ds: string;
let model: string;
let notes: string[] = [];

function options(out: string, extra: Partial<EvalOptions> = {}): EvalOptions {
  return {
    model, dataset: `voc:${ds}`, labels: join(ds, 'classes.txt'), composites: ['cmp-alpha2-flat,lrp-z'], out, batch: 4,
    workers: 0, progress: false, log: (l) => notes.push(l), gpu: gpu.gpu, ...extra,
  };
}

const text = (p: string) => readFileSync(p, 'utf8');
const refusal = (p: Promise<unknown>) => p.then(() => 'no refusal', (e: Error) => e.message);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lrp-identity-'));
  ds = join(root, 'ds');
  writeSynthDataset(ds, { images: 8, size: 64, seed: 1, split: 'test' });
  // A private copy: one test swaps its content.
  model = join(root, 'demo.onnx');
  copyFileSync(DEMO_MODEL, model);
  copyFileSync(`${DEMO_MODEL}.json`, `${model}.json`);
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('resume checks what it resumes', () => {
  const plain = () => join(root, 'plain');

  it('a plain run, then: a finished run says so; identical path spellings do not matter', async () => {
    await runEval(options(plain()));
    expect(existsSync(join(plain(), 'finished.json'))).toBe(true);
    expect(existsSync(join(plain(), 'run.lock'))).toBe(false);
    const run = JSON.parse(text(join(plain(), 'run.json')));
    expect(run.identity.model.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.identity.dataset).toMatchObject({ kind: 'voc', root: ds, images: 8 });
    expect(run.identity.labels.hash).toMatch(/^sha256:/);
    expect(run.identity.composites.map((c: { name: string }) => c.name)).toEqual(['cmp-alpha2-flat', 'lrp-z']);
    expect(run.identity.composites[0].rules[0]).toEqual(['/features/features.0/Conv', { rule: 'flat', stabilizer: 1e-6 }]);
    expect(run.identity.tool.version).toMatch(/^\d+\.\d+\.\d+/);
    notes = [];
    // The labels by a relative path this time (the run had an absolute one): the same run, finished.
    const again = await runEval(options(plain(), { resume: true, labels: relative(process.cwd(), join(ds, 'classes.txt')) }));
    expect(again.records).toBe(0);
    expect(notes.join('\n')).toMatch(/has finished already \(28 records of 14 pairs, 0 skipped/);
  });

  it('another dataset under the same spelling, a dataset regenerated in place, another model file: refused naming the field', async () => {
    const dir = join(root, 'killed');
    await runEval(options(dir, { stopAfterBatches: 1 }));
    const kept = text(join(dir, 'pairs.jsonl'));
    // Another dataset where the first was (the relative voc:ds from another folder).
    const other = join(root, 'other');
    writeSynthDataset(other, { images: 8, size: 64, seed: 2, split: 'test' });
    const msg = await refusal(runEval(options(dir, { resume: true, dataset: `voc:${other}` })));
    expect(msg).toMatch(/--resume refused: this is another run than the one there: dataset: the dataset's listing differs \(8 images then, 8 now/);
    // Regenerated in place: same ids and sizes, new modification times.
    const img = join(ds, 'JPEGImages', 'synth_000003.png');
    const was = statSync(img);
    const t = new Date(Date.now() + 5000);
    utimesSync(img, t, t);
    expect(await refusal(runEval(options(dir, { resume: true })))).toMatch(/dataset: the dataset's listing differs/);
    utimesSync(img, was.atime, was.mtime);
    // Another model file at the same path.
    const bytes = readFileSync(model);
    const saved = Buffer.from(bytes);
    bytes[bytes.length - 10] ^= 0x01;
    writeFileSync(model, bytes);
    expect(await refusal(runEval(options(dir, { resume: true })))).toMatch(/refused: this is another run than the one there: model: the model's content differs \(sha256:[0-9a-f]{12}…/);
    writeFileSync(model, saved);
    expect(text(join(dir, 'pairs.jsonl'))).toBe(kept);
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    // Composites resolve differently; another labels file with other content.
    expect(await refusal(runEval(options(dir, { resume: true, composites: ['cmp-alpha2-flat,lrp-epsilon'] })))).toMatch(/composites: cmp-alpha2-flat, lrp-z then, cmp-alpha2-flat, lrp-epsilon now/);
    rmSync(dir, { recursive: true });
  });

  it('duplicate records: identical copies repaired, differing ones refused with what to do; orphan temp files removed', async () => {
    const dir = join(root, 'dups');
    await runEval(options(dir, { dataset: `voc:${join(root, 'other')}`, stopAfterBatches: 1 }));
    const lines = text(join(dir, 'pairs.jsonl'));
    appendFileSync(join(dir, 'pairs.jsonl'), lines); // a second writer's identical copies
    writeFileSync(join(dir, 'curve.csv.tmp-999999'), 'half a curve');
    notes = [];
    await runEval(options(dir, { dataset: `voc:${join(root, 'other')}`, resume: true }));
    const all = notes.join('\n');
    expect(all).toMatch(/removed \d+ duplicate records \(identical copies/);
    expect(all).toMatch(/removed 1 temporary file\(s\) a killed run left \(curve\.csv\.tmp-999999\)/);
    expect(existsSync(join(dir, 'curve.csv.tmp-999999'))).toBe(false);
    const plainOther = join(root, 'plain-other');
    await runEval(options(plainOther, { dataset: `voc:${join(root, 'other')}` }));
    expect(text(join(dir, 'pairs.jsonl'))).toBe(text(join(plainOther, 'pairs.jsonl')));
    // A differing copy of a record cannot be told from the original.
    const first = JSON.parse(text(join(dir, 'pairs.jsonl')).split('\n')[0]);
    appendFileSync(join(dir, 'pairs.jsonl'), `${JSON.stringify({ ...first, R_in: first.R_in + 1 })}\n`);
    rmSync(join(dir, 'finished.json'));
    expect(await refusal(runEval(options(dir, { dataset: `voc:${join(root, 'other')}`, resume: true }))))
      .toMatch(/lines 1 and \d+ are two different records of synth_\d+ .* Rerun into a new --out, or delete .* and rerun/);
  });

  it('options are checked before anything is written: --workers -1, then the corrected command runs', async () => {
    const dir = join(root, 'workers');
    expect(await refusal(runEval(options(dir, { workers: -1 })))).toBe('--workers must be a whole number >= 0, got -1');
    expect(await refusal(runEval(options(dir, { batch: 1.5 })))).toBe('--batch must be a whole number >= 1, got 1.5');
    expect(existsSync(dir)).toBe(false);
    // A run that failed after run.json but before a record does not block the corrected command either.
    mkdirSync(dir);
    writeFileSync(join(dir, 'run.json'), text(join(plain(), 'run.json')));
    await runEval(options(dir, { limit: 2 }));
    expect(JSON.parse(text(join(dir, 'report.json'))).images).toBe(2);
  });
});

describe('one writer per folder', () => {
  it('a live holder stops the second writer at once, naming it; a dead holder\'s lock is taken over', async () => {
    const dir = join(root, 'locked');
    mkdirSync(dir);
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const lock = (pid: number) => JSON.stringify({
      format: 'webgpu-lrp/lock@1', pid, host: hostname(), bootId: null, procStart: null, task: null, attempt: null,
      startedAt: '2026-01-01T00:00:00.000Z', command: 'lrp eval', token: 't',
    });
    try {
      writeFileSync(join(dir, 'run.lock'), lock(sleeper.pid!));
      const t0 = performance.now();
      const msg = await refusal(runEval(options(dir)));
      expect(msg).toBe(`${dir} is in use: lrp eval (pid ${sleeper.pid} on ${hostname()}, since 2026-01-01T00:00:00.000Z) holds ${join(dir, 'run.lock')}; lrp eval stops so as not to write the folder twice. Wait for it to finish.`);
      expect(performance.now() - t0).toBeLessThan(500); // before loading anything
      // Another host's lock cannot be checked: the message says which file to delete.
      writeFileSync(join(dir, 'run.lock'), lock(1).replace(hostname(), 'node17'));
      expect(await refusal(runEval(options(dir)))).toMatch(/pid 1 on node17.*or if that process is gone \(it ran on node17, which cannot be checked from here\), delete .*run\.lock/);
      // An earlier attempt of this Slurm task on another node is over: taken over.
      writeFileSync(join(dir, 'run.lock'), JSON.stringify({ ...JSON.parse(lock(1)), host: 'node17', task: 'slurm:77_3', attempt: 0 }));
      process.env.SLURM_ARRAY_JOB_ID = '77';
      process.env.SLURM_ARRAY_TASK_ID = '3';
      process.env.SLURM_RESTART_COUNT = '1';
      notes = [];
      try {
        await runEval(options(dir, { limit: 1 }));
      } finally {
        delete process.env.SLURM_ARRAY_JOB_ID;
        delete process.env.SLURM_ARRAY_TASK_ID;
        delete process.env.SLURM_RESTART_COUNT;
      }
      expect(notes.join('\n')).toMatch(/took over the lock of lrp eval \(pid 1 on node17, task slurm:77_3, since .*\): it is an earlier attempt of this scheduler task \(slurm:77_3\)/);
    } finally {
      sleeper.kill();
    }
    // A dead process's lock.
    const dead = spawnSync('true').pid!;
    writeFileSync(join(dir, 'run.lock'), lock(dead));
    notes = [];
    await runEval(options(dir, { limit: 1, resume: true }));
    expect(notes.join('\n')).toMatch(new RegExp(`took over the lock .*process ${dead} is not running|has finished already`));
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
  });
});

describe.skipIf(!existsSync('/dev/full'))('I/O errors name the file', () => {
  it('a full disk (/dev/full) while appending records, writing a .npy, a PNG or any file', async () => {
    const full = /^\/dev\/full: cannot (write|append): ENOSPC: no space left on device, write \(the disk is full: what was written before is kept/;
    expect(() => new JsonlAppender('/dev/full').append([{ image: 'x' }])).toThrow(full);
    await expect(writeNpy('/dev/full', [2], new Float32Array(2))).rejects.toThrow(full);
    await expect(writePng('/dev/full', { width: 1, height: 1, data: new Uint8Array(4) })).rejects.toThrow(full);
    expect(() => writeFileNamed('/dev/full', 'x')).toThrow(full);
  });
});

describe('--shard auto', () => {
  it('from Slurm (with TASK_MIN offsets) and Kubernetes, saying which; broken arrays refused', () => {
    const slurm = { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_STEP: '1' };
    expect(resolveShard('auto', slurm)).toEqual({
      shard: { index: 2, count: 4 }, source: 'shard 2/4 from Slurm (SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_COUNT=4)',
    });
    expect(resolveShard('auto/4', slurm).shard).toEqual({ index: 2, count: 4 });
    expect(() => resolveShard('auto/5', slurm)).toThrow(/the Slurm array has 4 tasks/);
    expect(() => resolveShard('auto', { ...slurm, SLURM_ARRAY_TASK_MAX: '6' })).toThrow(/not one unbroken range \(tasks 1\.\.6, 4 of them\)/);
    expect(() => resolveShard('auto', { ...slurm, SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_MAX: '7' })).toThrow(/step 2/);
    expect(resolveShard('auto/8', { JOB_COMPLETION_INDEX: '5' })).toEqual({ shard: { index: 5, count: 8 }, source: 'shard 5/8 from Kubernetes (JOB_COMPLETION_INDEX=5, --shard auto/8)' });
    expect(resolveShard('auto', { JOB_COMPLETION_INDEX: '0', LRP_SHARD_COUNT: '2' }).shard).toEqual({ index: 0, count: 2 });
    expect(() => resolveShard('auto', { JOB_COMPLETION_INDEX: '0' })).toThrow(/give --shard auto\/N with N the Job's completions/);
    expect(() => resolveShard('auto/2', { JOB_COMPLETION_INDEX: '2' })).toThrow(/JOB_COMPLETION_INDEX=2 is not below the shard count 2/);
    expect(() => resolveShard('auto', {})).toThrow(/neither SLURM_ARRAY_TASK_ID .* nor JOB_COMPLETION_INDEX/);
    expect(resolveShard('1/3', {})).toEqual({ shard: { index: 1, count: 3 }, source: 'shard 1/3 (--shard)' });
    expect(() => resolveShard('3/3', {})).toThrow(/0 <= i < n/);
  });
});
