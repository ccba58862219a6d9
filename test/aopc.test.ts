/**
 * Region perturbation (src/eval/region-perturbation.ts) against a float64 oracle written here from
 * shared/docs/evaluation-protocol.md: patch scores with partial edge patches, MoRF and LeRF orders
 * with the row-major tie rule, the random order, both baselines, the perturbed inputs, the logits
 * they give and AOPC. One tiny dense model on a 2 × 11 × 13 input (patch 4: 3 × 4 patches, the last
 * row 3 pixels high, the last column 1 pixel wide), so that only three new pipelines compile.
 */
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import {
  aopc, checkAopcSettings, parseBaseline, RegionPerturbation, type AopcSettings,
} from '../src/eval/region-perturbation.ts';
import { Rng } from '../src/synth/rng.ts';
import { useGpu } from './helpers/gpu.ts';

const C = 2, H = 11, W = 13, P = 4, CLASSES = 3;
const PER = C * H * W;

// --- The oracle -------------------------------------------------------------------------------

/** MurmurHash3's 32-bit finaliser, written out again. */
function mix(x: number): number {
  let h = x >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Number((BigInt(h) * 0x85ebca6bn) & 0xffffffffn);
  h = (h ^ (h >>> 13)) >>> 0;
  h = Number((BigInt(h) * 0xc2b2ae35n) & 0xffffffffn);
  return (h ^ (h >>> 16)) >>> 0;
}
const keyed = (key: number, i: number) => mix((key ^ mix((i ^ 0x9e3779b9) >>> 0)) >>> 0);
const imageKey = (seed: number, salt: number, image: number) => mix((mix((seed ^ salt) >>> 0) ^ image) >>> 0);
/** The protocol's uniform:SEED value e of image i, per the file header of region-perturbation.ts. */
const uniformValue = (seed: number, image: number, e: number) => (keyed(imageKey(seed, 0x243f6a88, image), e) >>> 8) / 2 ** 23 - 1;
const randomScore = (image: number, q: number) => keyed(imageKey(0, 0x13198a2e, image), q) >>> 8;

/** Patch of pixel (y, x): row-major over ceil(H/P) × ceil(W/P) patches. */
const cols = Math.ceil(W / P);
const PATCHES = Math.ceil(H / P) * cols;
const patchOf = (y: number, x: number) => Math.floor(y / P) * cols + Math.floor(x / P);

function scoresOracle(rel: Float64Array | Float32Array, offset: number): number[] {
  const s = new Array<number>(PATCHES).fill(0);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) s[patchOf(y, x)] += rel[offset + c * H * W + y * W + x];
  return s;
}

/** The order of the patches: highest first (MoRF) or lowest first (LeRF), ties by patch index. */
function orderOracle(scores: readonly number[], most: boolean): number[] {
  return scores.map((s, i) => [s, i] as const).sort((a, b) => (most ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]).map(([, i]) => i);
}

function perturbedOracle(x0: ArrayLike<number>, order: readonly number[], k: number, baseline: string, image: number): Float64Array {
  const gone = new Set(order.slice(0, k));
  const b = parseBaseline(baseline);
  const out = new Float64Array(PER);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const e = c * H * W + y * W + x;
        out[e] = !gone.has(patchOf(y, x)) ? x0[e] : b.kind === 'zero' ? 0 : uniformValue(b.seed, image, e);
      }
    }
  }
  return out;
}

function denseOracle(wt: Float32Array, bias: Float32Array, x: ArrayLike<number>): number[] {
  return Array.from({ length: CLASSES }, (_, o) => {
    let s = bias[o];
    for (let i = 0; i < PER; i++) s += wt[o * PER + i] * x[i];
    return s;
  });
}

// --- Fixtures ---------------------------------------------------------------------------------

const rng = new Rng(7);
const weight = Float32Array.from({ length: CLASSES * PER }, () => rng.next() - 0.5);
const bias = Float32Array.from({ length: CLASSES }, () => rng.next() - 0.5);

function model(): Graph {
  const b = new GraphBuilder('aopc-tiny', 'x', [C, H, W]);
  b.add({ kind: 'flatten', name: 'fl', inputs: ['x'], output: 'fl' });
  b.add({ kind: 'dense', name: 'fc', inputs: ['fl'], output: 'fc', inFeatures: PER, outFeatures: CLASSES, weight, bias });
  return b.build('fc');
}

/** Three clean inputs. */
const inputs = Float32Array.from({ length: 3 * PER }, () => 2 * rng.next() - 1);
/**
 * Two relevance maps of small whole numbers, so float32 patch sums are exact and ties real: map 0
 * has patches 2, 5 and 9 all zero (tied) and a tie between patches 0 and 7 (both 6); map 1 is
 * zero everywhere (every patch tied: both orders row-major).
 */
function relevanceMaps(): Float32Array {
  const rel = new Float32Array(2 * PER);
  for (let e = 0; e < PER; e++) {
    const y = Math.floor((e % (H * W)) / W), x = e % W;
    const q = patchOf(y, x);
    rel[e] = [2, 5, 9, 0, 7].includes(q) ? 0 : Math.floor(rng.next() * 7) - 3;
  }
  // Patches 0 and 7 get exactly 6 each (patch 0: 4 × 4 × 2 values, patch 7: 4 × 1 × 2).
  for (const q of [0, 7]) {
    let first = true;
    for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      if (patchOf(y, x) !== q) continue;
      rel[c * H * W + y * W + x] = first ? 6 : 0;
      first = false;
    }
  }
  return rel;
}

// --- CPU ---------------------------------------------------------------------------------------

describe('region perturbation settings', () => {
  const ok: AopcSettings = { steps: 12, patch: 4, baseline: 'zero' };
  it('reads both baselines and refuses others, naming --baseline', () => {
    expect(parseBaseline('zero')).toEqual({ kind: 'zero' });
    expect(parseBaseline('uniform:42')).toEqual({ kind: 'uniform', seed: 42 });
    for (const bad of ['mean', 'uniform', 'uniform:-1', 'uniform:1.5', 'uniform:4294967296', 'blur:3']) {
      expect(() => parseBaseline(bad)).toThrow(/--baseline must be zero or uniform:SEED/);
    }
  });
  it('refuses a patch larger than the image, steps beyond the patches, and non-whole numbers, naming the flag', () => {
    expect(() => checkAopcSettings(ok, [C, H, W])).not.toThrow();
    expect(() => checkAopcSettings({ ...ok, patch: 12 }, [C, H, W])).toThrow(/--patch 12 is larger than the model's 11×13 input/);
    expect(() => checkAopcSettings({ ...ok, steps: 13 }, [C, H, W])).toThrow(/--steps 13 is more than the 12 patches/);
    expect(() => checkAopcSettings({ ...ok, steps: 0 }, [C, H, W])).toThrow(/--steps must be a whole number >= 1, got 0/);
    expect(() => checkAopcSettings({ ...ok, patch: 2.5 }, [C, H, W])).toThrow(/--patch must be a whole number >= 1, got 2.5/);
    expect(() => checkAopcSettings({ ...ok, baseline: 'noise' }, [C, H, W])).toThrow(/--baseline/);
  });
  it('AOPC is the mean of f(x_0) - f(x_k) over k = 0..L', () => {
    const curve = [2, 1.5, 0.25, -1];
    expect(aopc(curve)).toBeCloseTo((0 + 0.5 + 1.75 + 3) / 4, 15);
    expect(aopc([3])).toBe(0);
  });
});

// --- GPU ---------------------------------------------------------------------------------------

describe('region perturbation on the GPU against the float64 oracle', () => {
  const gpu = useGpu();
  const rel = relevanceMaps();
  // Rows: map 0 on input 1 (image 5), map 1 on input 0 (image 0), the random order on input 2 (image 9).
  const rows = [
    { input: 1, image: 5, order: 0 as const, classIndex: 2 },
    { input: 0, image: 0, order: 1 as const, classIndex: 0 },
    { input: 2, image: 9, order: 'random' as const, classIndex: 1 },
  ];

  async function setup(settings: AopcSettings, batch: number) {
    const { ctx } = gpu;
    const fm = await ForwardModel.create(ctx, model());
    const rp = await RegionPerturbation.create(fm, settings, { batch });
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const inBuf = ctx.pool.acquire(inputs.byteLength, usage, 'test inputs');
    const relBuf = ctx.pool.acquire(rel.byteLength, usage, 'test relevance');
    ctx.writeBuffer(inBuf, 0, inputs);
    ctx.writeBuffer(relBuf, 0, rel);
    return {
      fm, rp, inBuf, relBuf,
      done: () => {
        ctx.pool.release(inBuf);
        ctx.pool.release(relBuf);
        rp.destroy();
        fm.destroy();
      },
    };
  }

  /** Each row's scores and orders by the oracle. */
  const oracleRows = () => rows.map((r) => {
    const s = r.order === 'random' ? Array.from({ length: PATCHES }, (_, q) => randomScore(r.image, q)) : scoresOracle(rel, r.order * PER);
    return { scores: s, morf: orderOracle(s, true), lerf: orderOracle(s, false) };
  });

  for (const baseline of ['zero', 'uniform:3']) {
    it(`scores, orders (ties row-major) and every perturbed input equal the oracle's, baseline ${baseline}`, async () => {
      const L = 12;
      const t = await setup({ steps: L, patch: P, baseline }, 64);
      try {
        const got = await t.rp.debugRows(t.inBuf, t.relBuf, rows);
        const want = oracleRows();
        // The hand-made ties are there.
        expect(want[0].scores[2]).toBe(0);
        expect(want[0].scores[0]).toBe(6);
        expect(want[0].scores[7]).toBe(6);
        rows.forEach((r, k) => {
          expect(Array.from(got.scores.subarray(k * PATCHES, (k + 1) * PATCHES))).toEqual(want[k].scores);
          const rank = (o: number) => Array.from(got.ranks.subarray((2 * k + o) * PATCHES, (2 * k + o + 1) * PATCHES));
          // ranks -> order: the patch at position j.
          const order = (rk: number[]) => rk.map((_, j) => rk.indexOf(j));
          expect(order(rank(0))).toEqual(want[k].morf);
          expect(order(rank(1))).toEqual(want[k].lerf);
          for (let o = 0; o < 2; o++) {
            for (let step = 1; step <= L; step++) {
              const s = (2 * k + o) * L + (step - 1);
              const x = got.inputs.subarray(s * PER, (s + 1) * PER);
              const ref = perturbedOracle(inputs.subarray(r.input * PER, (r.input + 1) * PER), o === 0 ? want[k].morf : want[k].lerf, step, baseline, r.image);
              expect(Array.from(x)).toEqual(Array.from(ref));
            }
          }
        });
        // The all-zero map: both orders are row-major.
        expect(want[1].morf).toEqual(Array.from({ length: PATCHES }, (_, i) => i));
        expect(want[1].lerf).toEqual(want[1].morf);
        // The random order is a permutation, and not the row-major one.
        expect([...want[2].morf].sort((a, b) => a - b)).toEqual(Array.from({ length: PATCHES }, (_, i) => i));
        expect(want[2].morf).not.toEqual(want[1].morf);
        // The uniform baseline's values lie in [-1, 1) and differ between images.
        if (baseline !== 'zero') {
          const vals = Array.from({ length: PER }, (_, e) => uniformValue(3, 5, e));
          expect(Math.min(...vals)).toBeGreaterThanOrEqual(-1);
          expect(Math.max(...vals)).toBeLessThan(1);
          expect(uniformValue(3, 5, 0)).not.toBe(uniformValue(3, 6, 0));
        }
      } finally {
        t.done();
      }
    });
  }

  it('the logits of every step and the AOPC equal the oracle\'s (perturbed inputs in forward batches of 5)', async () => {
    const L = 7;
    const baseline = 'uniform:11';
    const t = await setup({ steps: L, patch: P, baseline }, 5);
    try {
      const curves = await t.rp.curves(t.inBuf, t.relBuf, rows);
      const want = oracleRows();
      rows.forEach((r, k) => {
        const x0 = inputs.subarray(r.input * PER, (r.input + 1) * PER);
        const f0 = denseOracle(weight, bias, x0)[r.classIndex];
        for (const [o, got] of [[want[k].morf, curves[k].morf], [want[k].lerf, curves[k].lerf]] as const) {
          const ref = Array.from({ length: L }, (_, j) => denseOracle(weight, bias, perturbedOracle(x0, o, j + 1, baseline, r.image))[r.classIndex]);
          for (let j = 0; j < L; j++) expect(Math.abs(got[j] - ref[j])).toBeLessThan(1e-5 * (1 + Math.abs(ref[j])));
          const a = aopc([f0, ...got]);
          let s = 0;
          for (const v of [f0, ...ref]) s += f0 - v;
          expect(Math.abs(a - s / (L + 1))).toBeLessThan(1e-5);
        }
      });
    } finally {
      t.done();
    }
  });
});
