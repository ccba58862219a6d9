/**
 * Silent corruption (issue 25, findings 7 to 9), each now refused naming the file and what to do:
 *
 * - a `patterns.checkpoint` with a flipped byte (in its sums, in an exponent, in its header), cut
 *   short, or of the format without a checksum: refused by its SHA-256 checksum before a resume
 *   believes any of it (it used to resume into other patterns, or NaN pattern files);
 * - `patterns --resume` over another statistics set (other data of the same shape, fewer
 *   samples): refused by the set's identity in the checkpoint (it used to mix the two);
 * - NaN or Infinity in a statistics set (`patterns --input`, `learnPatterns`), in an `explain` or
 *   `predict` batch (the CLI's .npy, the library's tensors) and in pattern files: refused naming the
 *   file or argument and the first bad index as N, C, H, W (it used to give NaN patterns, or
 *   relevance 0, with exit status 0).
 *
 * One tiny model (Flatten → Gemm 32→3 → ReLU → Gemm 3→2) keeps the GPU work to a few small pipelines.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../cli/app.ts';
import { assertFinite, firstNonFinite } from '../../src/io/finite.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { Lrp, loadPatterns } from '../../src/node/index.ts';
import { statisticsDifference } from '../../src/node/patterns/identity.ts';
import { runPatterns } from '../../src/node/patterns/run.ts';
import { Rng } from '../../src/graph/zoo.ts';
import { useGpu } from '../helpers/gpu.ts';
import { modelProto, node } from '../helpers/onnx-writer.ts';

const shared = useGpu();
const tmp = mkdtempSync(join(tmpdir(), 'lrp-corruption-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

const SHAPE = [2, 4, 4];
const PER = 32;
const N = 60;

function randoms(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  new Rng(seed).fillNormal(a, 1);
  return a;
}

const modelBytes = modelProto({
  nodes: [
    node('Flatten', ['x'], ['f'], {}, 'flat'),
    node('Gemm', ['f', 'W1', 'B1'], ['h'], { transB: { i: 1 } }, 'fc1'),
    node('Relu', ['h'], ['r'], {}, 'relu'),
    node('Gemm', ['r', 'W2', 'B2'], ['y'], { transB: { i: 1 } }, 'fc2'),
  ],
  inputs: [{ name: 'x', dims: [1, ...SHAPE] }],
  outputs: [{ name: 'y', dims: [1, 2] }],
  initializers: [
    { name: 'W1', dims: [3, PER], data: randoms(3 * PER, 1) }, { name: 'B1', dims: [3], data: [0.1, -0.1, 0.2] },
    { name: 'W2', dims: [2, 3], data: randoms(6, 2) }, { name: 'B2', dims: [2], data: [0, 0.1] },
  ],
});
const MODEL = join(tmp, 'tiny.onnx');
writeFileSync(MODEL, modelBytes);

const STATS = join(tmp, 'stats.npy');
const statsData = randoms(N * PER, 3);
writeFileSync(STATS, encodeNpy([N, ...SHAPE], statsData));

const quiet = { progress: false, log: () => undefined } as const;
const common = () => ({ model: MODEL, input: STATS, batch: 20, gpu: shared.gpu, ...quiet });

/** Runs `lrp ...argv` in this process: exit status and stderr. */
async function cli(argv: string[]): Promise<{ code: number; stderr: string }> {
  const errors: string[] = [];
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { errors.push(a.map(String).join(' ')); });
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    return { code: await runCli(argv), stderr: errors.join('\n') };
  } finally {
    err.mockRestore();
    log.mockRestore();
  }
}

/** A folder holding a checkpoint after the first of three batches, as a killed run leaves it. */
async function interrupted(name: string): Promise<string> {
  const out = join(tmp, name);
  const r = await runPatterns({ ...common(), out, checkpointSeconds: 0, stopAfterBatches: 1 });
  expect(r.file).toBeNull();
  return out;
}

describe('patterns.checkpoint carries a checksum (finding 7)', () => {
  let whole: string;
  let pristine: Buffer;
  let dir: string;
  const ckpt = () => join(dir, 'patterns.checkpoint');

  it('an intact checkpoint resumes to the files of an uninterrupted run', async () => {
    whole = join(tmp, 'whole');
    await runPatterns({ ...common(), out: whole });
    dir = await interrupted('ckpt');
    pristine = readFileSync(ckpt());
    const copy = join(tmp, 'ckpt-intact');
    mkdirSync(copy);
    copyFileSync(ckpt(), join(copy, 'patterns.checkpoint'));
    await runPatterns({ ...common(), out: copy, resume: true });
    for (const f of ['fc1.npy', 'fc2.npy']) expect(Buffer.compare(readFileSync(join(copy, f)), readFileSync(join(whole, f))), f).toBe(0);
  });

  /** The checkpoint with `edit` applied, and the error a resume from it gives. */
  async function resumeFrom(edit: (b: Buffer) => Buffer): Promise<string> {
    writeFileSync(ckpt(), edit(Buffer.from(pristine)));
    const err = await runPatterns({ ...common(), out: dir, resume: true }).then(() => null, (e: Error) => e.message);
    writeFileSync(ckpt(), pristine);
    expect(err, 'the resume should have been refused').not.toBeNull();
    return err!;
  }
  const sumsAt = (b: Buffer) => b.length - 32 - 4 * 7; // inside the last array, before the checksum

  it('a flipped bit in the sums is refused, naming the file and how to proceed', async () => {
    const msg = await resumeFrom((b) => { b[sumsAt(b)] ^= 0x01; return b; });
    expect(msg).toContain(`${ckpt()}: the checkpoint is damaged (its SHA-256 checksum does not match its contents)`);
    expect(msg).toMatch(/delete .*patterns\.checkpoint to learn the patterns from the start \(lrp patterns without --resume\), or choose another --out/);
  });

  it('a corrupted exponent (a float turned NaN) is refused', async () => {
    const msg = await resumeFrom((b) => { b[sumsAt(b) + 3] |= 0x7f; b[sumsAt(b) + 2] |= 0x80; return b; });
    expect(msg).toMatch(/the checkpoint is damaged/);
  });

  it('a changed digit in the header (the position in the set) is refused', async () => {
    const msg = await resumeFrom((b) => {
      const at = b.indexOf('"position":20');
      expect(at).toBeGreaterThan(0);
      b[at + '"position":'.length] = '4'.charCodeAt(0);
      return b;
    });
    expect(msg).toMatch(/the checkpoint is damaged/);
  });

  it('a truncated checkpoint, and one of the format without a checksum, are refused', async () => {
    expect(await resumeFrom((b) => b.subarray(0, b.length - 100))).toMatch(/the checkpoint is damaged|truncated checkpoint/);
    expect(await resumeFrom((b) => b.subarray(0, 20))).toMatch(/truncated checkpoint \(20 bytes\)/);
    expect(await resumeFrom((b) => { b.write('LRPPATT1', 0, 'latin1'); return b; }))
      .toMatch(/a checkpoint of an older version of lrp patterns, without a checksum, so it cannot be verified; finish the run with the version that wrote it, or delete/);
    // Without --resume, a damaged checkpoint is named too (not "an unfinished run").
    writeFileSync(ckpt(), Buffer.concat([pristine.subarray(0, 40), Buffer.from('x'), pristine.subarray(41)]));
    await expect(runPatterns({ ...common(), out: dir })).rejects.toThrow(/the checkpoint is damaged/);
    writeFileSync(ckpt(), pristine);
  });
});

describe('patterns --resume checks the statistics set (finding 8)', () => {
  it('other data of the same shape is refused, naming what changed', async () => {
    const other = join(tmp, 'other.npy');
    const dir = await interrupted('other-data');
    writeFileSync(other, encodeNpy([N, ...SHAPE], randoms(N * PER, 4)));
    // The same path, rewritten with other samples: the path alone used to pass.
    const moved = join(tmp, 'stats-moved.npy');
    copyFileSync(STATS, moved);
    copyFileSync(other, STATS);
    try {
      await expect(runPatterns({ ...common(), out: dir, resume: true }))
        .rejects.toThrow(/--resume with another statistics set than the run there: the \.npy's content differs \(sha256:[0-9a-f]{12}…, 60 samples then; sha256:[0-9a-f]{12}…, 60 samples now; .*stats\.npy\); .*delete .*patterns\.checkpoint to start over/);
    } finally {
      copyFileSync(moved, STATS);
    }
    // The original data resumes.
    const r = await runPatterns({ ...common(), out: dir, resume: true });
    expect(r.file!.samples).toBe(N);
  });

  it('fewer samples are refused, with both counts', async () => {
    const dir = await interrupted('fewer');
    const saved = readFileSync(STATS);
    writeFileSync(STATS, encodeNpy([50, ...SHAPE], statsData.subarray(0, 50 * PER)));
    try {
      await expect(runPatterns({ ...common(), out: dir, resume: true })).rejects.toThrow(/60 samples then; .* 50 samples now/);
    } finally {
      writeFileSync(STATS, saved);
    }
  });

  it('a dataset compares by eval\'s dataset identity; an .npy and a dataset differ by kind', () => {
    const ds = (fingerprint: string, images: number) => ({ kind: 'dataset' as const, dataset: { kind: 'voc', root: '/d', images, fingerprint } });
    expect(statisticsDifference(ds('sha256:a', 10), ds('sha256:a', 10))).toBeNull();
    expect(statisticsDifference(ds('sha256:a', 10), ds('sha256:b', 9))).toMatch(/the dataset's listing differs \(10 images then, 9 now/);
    expect(statisticsDifference({ kind: 'npy', path: '/s.npy', hash: 'sha256:x', bytes: 1, samples: 1 }, ds('sha256:a', 1)))
      .toBe('an .npy (/s.npy) then, a dataset (/d) now');
  });
});

describe('non-finite inputs are refused naming the file and the index (finding 9)', () => {
  it('firstNonFinite and assertFinite: the index along every axis, N shifted by the batch start', () => {
    const a = new Float32Array(2 * 3 * 4 * 5);
    expect(firstNonFinite(a, [2, 3, 4, 5])).toBeNull();
    a[1 * 60 + 2 * 20 + 3 * 5 + 4] = Infinity;
    expect(firstNonFinite(a, [2, 3, 4, 5])).toEqual({ index: [1, 2, 3, 4], value: Infinity });
    expect(() => assertFinite(a, [2, 3, 4, 5], 'x.npy', 40)).toThrow('x.npy: a non-finite value (Infinity) at index [41, 2, 3, 4] (N, C, H, W); every value must be a finite number');
  });

  const withNaN = (n: number, c: number, h: number, w: number) => {
    const d = Float32Array.from(statsData);
    d[n * PER + c * 16 + h * 4 + w] = NaN;
    return d;
  };

  it('lrp patterns --input with a NaN sample exits 1 naming the file and [n, c, h, w]', async () => {
    const bad = join(tmp, 'nan-stats.npy');
    writeFileSync(bad, encodeNpy([N, ...SHAPE], withNaN(47, 1, 2, 3)));
    await expect(runPatterns({ ...common(), input: bad, out: join(tmp, 'nan-patterns') }))
      .rejects.toThrow(`${bad}: a non-finite value (NaN) at index [47, 1, 2, 3] (N, C, H, W)`);
  });

  it('learnPatterns and explain in the library name the argument', async () => {
    const lrp = await Lrp.create({ device: shared.gpu.device });
    try {
      const model = await lrp.loadModel(modelBytes, { name: 'tiny.onnx' });
      await expect(model.learnPatterns({ data: withNaN(5, 0, 3, 1), shape: [N, ...SHAPE] }))
        .rejects.toThrow('learnPatterns: input: a non-finite value (NaN) at index [5, 0, 3, 1] (N, C, H, W)');
      async function* parts() {
        yield { data: statsData.subarray(0, 10 * PER), shape: [10, ...SHAPE] };
        yield { data: withNaN(2, 1, 0, 0).subarray(0, 10 * PER), shape: [10, ...SHAPE] };
      }
      await expect(model.learnPatterns(parts())).rejects.toThrow('learnPatterns: input item 1: a non-finite value (NaN) at index [2, 1, 0, 0]');
      const explainer = await model.explainer('lrp-epsilon');
      const x = Float32Array.from(statsData.subarray(0, 2 * PER));
      x[PER + 5] = -Infinity;
      await expect(explainer.explain(x, { target: 0 })).rejects.toThrow('input: a non-finite value (-Infinity) at index [1, 0, 1, 1] (N, C, H, W)');
    } finally {
      lrp.destroy();
    }
  });

  it('lrp explain and lrp predict on an .npy with NaN exit 1 naming the file and the index', async () => {
    const bad = join(tmp, 'nan-batch.npy');
    writeFileSync(bad, encodeNpy([3, ...SHAPE], withNaN(2, 0, 1, 2).subarray(0, 3 * PER)));
    for (const command of ['explain', 'predict']) {
      const r = await cli([command, '--model', MODEL, '--input', bad, ...(command === 'explain' ? ['--no-heatmap'] : [])]);
      expect(r.code, command).toBe(1);
      expect(r.stderr, command).toContain(`${bad}: a non-finite value (NaN) at index [2, 0, 1, 2] (N, C, H, W)`);
    }
  });

  it('a pattern file with a non-finite value is refused when loaded, naming the file and the index', async () => {
    const out = join(tmp, 'patterns-ok');
    await runPatterns({ ...common(), out });
    const lrp = await Lrp.create({ device: shared.gpu.device });
    try {
      const model = await lrp.loadModel(MODEL);
      expect(loadPatterns(out, model).nodes).toEqual(['fc1', 'fc2']);
      const file = join(out, 'fc1.npy');
      const p = new Float32Array(3 * PER);
      p[PER + 7] = NaN;
      writeFileSync(file, encodeNpy([3, PER], p));
      expect(() => loadPatterns(out, model)).toThrow(`${file}: the pattern for node 'fc1': a non-finite value (NaN) at index [1, 7]`);
    } finally {
      lrp.destroy();
    }
  });
});
