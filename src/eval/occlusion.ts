/**
 * The occlusion check of the paper's Fig. 2 (shared/docs/evaluation-protocol.md): per pair, f is
 * the true class's logit on the clean input; the object (the class mask) or its context (the
 * complement) is occluded by setting those pixels to 0 in every channel of the normalised input,
 * i.e. to the training mean; delta = (f_occluded - f) / |f|. Forward passes only.
 *
 * Decisions: a pair with f = 0 has no delta (left out of the means, counted as degenerate). The
 * occluded area fraction is S_in / S_tot for the object and (S_tot - S_in) / S_tot for the
 * context, binned like the Fig. 3 curve (100 bins, (lo, hi], bin 0 includes 0; see aggregate.ts).
 */
import type { ForwardModel } from '../forward/model.ts';
import { numel, valueInfo } from '../graph/ir.ts';
import { BINS, sizeBin, sortRecords, Sum } from './aggregate.ts';
import { addTime, type StageTimes } from './evaluator.ts';
import { csvField, linePlotSvg } from './plot.ts';
import type { PreparedSample, Skip } from './types.ts';

export interface OcclusionRecord {
  readonly image: string;
  readonly class: string;
  readonly classIndex: number;
  readonly S_in: number;
  readonly S_tot: number;
  /** The true class's logit: clean, object occluded, context occluded. */
  readonly f: number;
  readonly f_object: number;
  readonly f_context: number;
  /** (f_occluded - f) / |f|; null when f = 0. */
  readonly delta_object: number | null;
  readonly delta_context: number | null;
}

/** A copy of a C × H × W input with the mask's pixels (`object`) or the others (`context`) set to 0 in every channel. */
export function occlude(input: Float32Array, channels: number, mask: Uint8Array, what: 'object' | 'context'): Float32Array {
  const plane = mask.length;
  if (input.length !== channels * plane) throw new Error(`occlude: input of ${input.length} values for ${channels}×${plane}`);
  const out = new Float32Array(input);
  const hit = what === 'object' ? 1 : 0;
  for (let i = 0; i < plane; i++) {
    if ((mask[i] ? 1 : 0) === hit) for (let c = 0; c < channels; c++) out[c * plane + i] = 0;
  }
  return out;
}

/**
 * The occlusion records of a batch: the clean inputs and two occluded inputs per pair go through
 * the forward pass in batches of at most `batch`; only the logits come back.
 */
export async function occlusionBatch(
  fm: ForwardModel, samples: readonly PreparedSample[], opts: { batch: number; times?: StageTimes },
): Promise<{ records: OcclusionRecord[]; skips: Skip[] }> {
  const { graph } = fm;
  const shape = graph.input.shape;
  if (shape.length !== 3) throw new Error(`occlusion needs a C×H×W model input, got ${shape.join('×')}`);
  const [channels, h, w] = shape;
  const plane = h * w;
  const per = channels * plane;
  const classes = numel(valueInfo(graph, graph.output).shape);
  const skips: Skip[] = [];
  const inputs: Float32Array[] = [];
  const work: { n: number; image: string; className: string; classIndex: number; S_in: number; obj: number; ctx: number }[] = [];
  const times = opts.times ?? {};
  let t = performance.now() / 1000;
  for (const s of samples) {
    if (s.input.length !== per) throw new Error(`${s.sample.id}: input has ${s.input.length} values, the model takes ${shape.join('×')}`);
    const clean = inputs.length;
    let used = false;
    for (const p of s.pairs) {
      if (!Number.isInteger(p.classIndex) || p.classIndex < 0 || p.classIndex >= classes) {
        skips.push({ id: s.sample.id, classIndex: p.classIndex, className: p.className, reason: `class ${p.classIndex} (${p.className}) is not one of the model's ${classes} outputs` });
        continue;
      }
      let sIn = 0;
      for (let i = 0; i < plane; i++) if (p.mask[i]) sIn++;
      if (sIn === 0) {
        skips.push({ id: s.sample.id, classIndex: p.classIndex, className: p.className, reason: 'the box covers no pixel centre of the model input (empty mask)' });
        continue;
      }
      if (!used) inputs.push(s.input);
      used = true;
      inputs.push(occlude(s.input, channels, p.mask, 'object'), occlude(s.input, channels, p.mask, 'context'));
      work.push({ n: clean, image: s.sample.id, className: p.className, classIndex: p.classIndex, S_in: sIn, obj: inputs.length - 2, ctx: inputs.length - 1 });
    }
  }
  addTime(times, 'occlude', performance.now() / 1000 - t);
  if (work.length === 0) return { records: [], skips };
  const logits = new Float32Array(inputs.length * classes);
  const step = Math.max(1, Math.min(opts.batch, fm.maxBatch));
  for (let i0 = 0; i0 < inputs.length; i0 += step) {
    const n = Math.min(step, inputs.length - i0);
    const x = new Float32Array(n * per);
    for (let k = 0; k < n; k++) x.set(inputs[i0 + k], k * per);
    t = performance.now() / 1000;
    const acts = await fm.forward(x, n);
    try {
      logits.set(await acts.read(graph.output), i0 * classes);
    } finally {
      acts.release();
    }
    addTime(times, 'forward', performance.now() / 1000 - t);
  }
  const records = work.map((p): OcclusionRecord => {
    const f = logits[p.n * classes + p.classIndex];
    const fo = logits[p.obj * classes + p.classIndex];
    const fc = logits[p.ctx * classes + p.classIndex];
    const d = (v: number) => (f === 0 || !Number.isFinite(f) ? null : (v - f) / Math.abs(f));
    return { image: p.image, class: p.className, classIndex: p.classIndex, S_in: p.S_in, S_tot: plane, f, f_object: fo, f_context: fc, delta_object: d(fo), delta_context: d(fc) };
  });
  return { records, skips };
}

export interface OcclusionSummary {
  readonly pairs: number;
  /** Pairs with f = 0 (no delta). */
  readonly degenerate: number;
  readonly meanDeltaObject: number | null;
  readonly meanDeltaContext: number | null;
  /** Pairs whose object occlusion lowered the logit more than the context occlusion. */
  readonly objectBelowContext: number;
  readonly curve: {
    readonly bins: number;
    readonly lo: number[];
    readonly hi: number[];
    /** Mean delta per occluded-area bin and its pair count. */
    readonly object: { readonly mean: (number | null)[]; readonly count: number[] };
    readonly context: { readonly mean: (number | null)[]; readonly count: number[] };
  };
}

export function summarizeOcclusion(records: readonly OcclusionRecord[], bins = BINS): OcclusionSummary {
  const sorted = sortRecords(records.map((r) => ({ ...r, analyzer: 'occlusion', R_in: 0, R_tot: 0, mu: null, mu_w: null })), ['occlusion']);
  const obj = new Sum(), ctx = new Sum();
  const objBins = Array.from({ length: bins }, () => new Sum());
  const ctxBins = Array.from({ length: bins }, () => new Sum());
  let degenerate = 0;
  let below = 0;
  for (const r of sorted) {
    if (r.delta_object === null || r.delta_context === null) {
      degenerate++;
      continue;
    }
    obj.add(r.delta_object);
    ctx.add(r.delta_context);
    if (r.delta_object < r.delta_context) below++;
    objBins[sizeBin(r.S_in, r.S_tot, bins)].add(r.delta_object);
    ctxBins[sizeBin(r.S_tot - r.S_in, r.S_tot, bins)].add(r.delta_context);
  }
  return {
    pairs: records.length, degenerate, meanDeltaObject: obj.mean, meanDeltaContext: ctx.mean, objectBelowContext: below,
    curve: {
      bins,
      lo: Array.from({ length: bins }, (_, k) => k / bins),
      hi: Array.from({ length: bins }, (_, k) => (k + 1) / bins),
      object: { mean: objBins.map((s) => s.mean), count: objBins.map((s) => s.n) },
      context: { mean: ctxBins.map((s) => s.mean), count: ctxBins.map((s) => s.n) },
    },
  };
}

export function occlusionCsv(s: OcclusionSummary): string {
  const c = s.curve;
  const lines = [['bin', 'lo', 'hi', 'object mean_delta', 'object n', 'context mean_delta', 'context n'].map(csvField).join(',')];
  const v = (x: number | null) => (x === null ? '' : String(x));
  for (let k = 0; k < c.bins; k++) {
    lines.push([k, c.lo[k], c.hi[k], v(c.object.mean[k]), c.object.count[k], v(c.context.mean[k]), c.context.count[k]].join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function occlusionSvg(s: OcclusionSummary): string {
  const c = s.curve;
  const mid = (k: number) => (c.lo[k] + c.hi[k]) / 2;
  return linePlotSvg({
    title: 'Occluding the object vs its context',
    xLabel: 'occluded area (fraction of the input)',
    yLabel: 'mean (f_occluded - f) / |f|',
    xRange: [0, 1],
    yZero: true,
    series: [
      { name: 'object occluded', points: c.object.mean.map((m, k) => [mid(k), m] as const) },
      { name: 'context occluded', points: c.context.mean.map((m, k) => [mid(k), m] as const) },
    ],
  });
}
