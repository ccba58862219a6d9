/**
 * The GPU side of the evaluation loop, browser-safe: a batch of prepared samples in, per-pair
 * records out.
 *
 * One forward pass per image batch, shared by every analyzer. Each (image, class) pair needs its
 * own relevance pass (its own target), so the relevance runs over pairs, not images: the batch's
 * activations are *replicated* to the pair-expanded batch by GPU buffer copies (pair k gets the
 * activations of its image; runs of consecutive images copy in one go), and each analyzer's
 * relevance pass runs once over the expanded batch with one target per pair. When every image has
 * exactly one pair (ImageNet) the expansion is the identity and the activations are used as they
 * are, with no copy. Replicating costs a memory copy of the stored activations per extra pair,
 * against a whole forward pass per extra pair for the alternative of running the forward on the
 * expanded batch; the forward work stays at one pass per image. Pairs go through the relevance in
 * chunks of at most `relevanceBatch`, so the expanded activations never exceed the batch the
 * forward model was sized for.
 *
 * Non-finite relevance (a model whose weights overflow float32) stops the run with an error naming
 * the image and the layer where it starts (lrp/finite.ts), rather than passing for a degenerate pair.
 *
 * After each relevance pass, masked_sums.wgsl reduces the input relevance against the pairs' masks
 * on the GPU; only R_in, R_tot and S_in per pair come back (and the channel-summed maps when they
 * are to be saved).
 *
 * With region perturbation (`aopc`), the same relevance, still on the GPU, orders the patches of
 * each pair's clean input (the forward pass's input buffer), and the perturbed inputs of every step
 * go through the forward pass in batches of max(relevanceBatch, PERTURB_BATCH), at most the
 * model's maxBatch (region-perturbation.ts); only
 * the class logits come back. The random order's curves are measured once per pair, with the first
 * analyzer's record, which keeps them. The clean logits f(x_0) come from the batch's forward pass.
 */
import { numel, valueInfo } from '../graph/ir.ts';
import type { ForwardModel } from '../forward/model.ts';
import { selectSamples } from '../forward/select.ts';
import { Explainer, type Init, type LayerRules } from '../lrp/explainer.ts';
import { nonFiniteRelevanceError } from '../lrp/finite.ts';
import { pairRecord } from './aggregate.ts';
import { MaskedSums } from './masked-sums.ts';
import { PERTURB_BATCH, RegionPerturbation, type AopcSettings, type PerturbCurves } from './region-perturbation.ts';
import type { AopcRecord, PairRecord, PreparedSample, Skip } from './types.ts';

export interface Analyzer {
  readonly name: string;
  readonly composite: LayerRules;
}

/** Seconds spent per stage, accumulated over batches. */
export type StageTimes = Record<string, number>;

export function addTime(times: StageTimes, stage: string, seconds: number): void {
  times[stage] = (times[stage] ?? 0) + seconds;
}

const now = () => performance.now() / 1000;

export interface BatchOptions {
  readonly init: Init;
  /** Whether (image, classIndex, analyzer) still needs a record (resume); default: all do. */
  readonly need?: (image: string, classIndex: number, analyzer: string) => boolean;
  /** Also return each record's channel-summed H × W relevance map. */
  readonly maps?: boolean;
  readonly times?: StageTimes;
  /** The image index of a sample id, which seeds region perturbation (required with `aopc`). */
  readonly imageIndex?: (image: string) => number;
}

export interface BatchResult {
  readonly records: PairRecord[];
  /** Pairs found unmeasurable here (class outside the model's outputs, empty mask). */
  readonly skips: Skip[];
  /** Parallel to `records` when `maps` was asked. */
  readonly maps: Float32Array[] | null;
  /** Forward passes run (0 when nothing in the batch needed work). */
  readonly forwards: number;
  readonly relevancePasses: number;
}

interface PairWork {
  readonly sample: number;
  readonly image: string;
  readonly classIndex: number;
  readonly className: string;
  readonly mask: Uint8Array;
  readonly analyzers: ReadonlySet<string>;
}

export class Evaluator {
  private constructor(
    readonly forward: ForwardModel,
    readonly analyzers: readonly { readonly name: string; readonly explainer: Explainer }[],
    readonly sums: MaskedSums,
    /** The most pairs per relevance pass. */
    readonly relevanceBatch: number,
    /** Region perturbation, when measured. */
    readonly perturbation: RegionPerturbation | null,
  ) {}

  get classes(): number {
    return numel(valueInfo(this.forward.graph, this.forward.graph.output).shape);
  }

  static async create(forward: ForwardModel, analyzers: readonly Analyzer[], opts: { relevanceBatch: number; aopc?: AopcSettings | null }): Promise<Evaluator> {
    const names = new Set<string>();
    for (const a of analyzers) {
      if (names.has(a.name)) throw new Error(`analyzer '${a.name}' is given twice`);
      names.add(a.name);
    }
    const built: { name: string; explainer: Explainer }[] = [];
    try {
      for (const a of analyzers) built.push({ name: a.name, explainer: await Explainer.create(forward, a.composite) });
      const sums = await MaskedSums.create(forward.ctx, forward.graph.input.shape);
      // The expanded activations must fit the forward's bindings; an analyzer whose scratch takes
      // fewer samples splits the pass itself (Explainer.relevanceOnGpu).
      const rb = Math.max(1, Math.min(Math.floor(opts.relevanceBatch), forward.maxBatch));
      // Perturbed inputs go through the forward pass at least PERTURB_BATCH at a time where the model fits
      // them: small models' passes cost mostly their fixed overhead.
      const rp = opts.aopc ? await RegionPerturbation.create(forward, opts.aopc, { batch: Math.max(rb, PERTURB_BATCH) }) : null;
      return new Evaluator(forward, built, sums, rb, rp);
    } catch (e) {
      for (const b of built) b.explainer.destroy();
      throw e;
    }
  }

  /** Runs the forward pass of the batch, the relevance of every pair by every analyzer, and the metrics. */
  async evaluate(batch: readonly PreparedSample[], opts: BatchOptions): Promise<BatchResult> {
    const times = opts.times ?? {};
    const need = opts.need ?? (() => true);
    const classes = this.classes;
    const skips: Skip[] = [];
    const samples: PreparedSample[] = [];
    const work: PairWork[] = [];
    const plane = this.sums.plane;
    for (const s of batch) {
      const id = s.sample.id;
      let any = false;
      for (const p of s.pairs) {
        const wanted = new Set(this.analyzers.map((a) => a.name).filter((a) => need(id, p.classIndex, a)));
        if (wanted.size === 0) continue;
        if (!Number.isInteger(p.classIndex) || p.classIndex < 0 || p.classIndex >= classes) {
          skips.push({ id, classIndex: p.classIndex, className: p.className, reason: `class ${p.classIndex} (${p.className}) is not one of the model's ${classes} outputs` });
          continue;
        }
        if (p.mask.length !== plane) throw new Error(`${id}: mask of ${p.className} has ${p.mask.length} pixels, the model input has ${plane}`);
        let sIn = 0;
        for (let i = 0; i < plane; i++) if (p.mask[i]) sIn++;
        if (sIn === 0) {
          skips.push({ id, classIndex: p.classIndex, className: p.className, reason: 'the box covers no pixel centre of the model input (empty mask)' });
          continue;
        }
        if (!any) samples.push(s);
        any = true;
        work.push({ sample: samples.length - 1, image: id, classIndex: p.classIndex, className: p.className, mask: p.mask, analyzers: wanted });
      }
    }
    if (work.length === 0) return { records: [], skips, maps: opts.maps ? [] : null, forwards: 0, relevancePasses: 0 };

    const fm = this.forward;
    const rp = this.perturbation;
    const imageIndex = opts.imageIndex;
    if (rp && !imageIndex) throw new Error('region perturbation needs the image index of every sample (BatchOptions.imageIndex)');
    const per = numel(fm.graph.input.shape);
    const input = new Float32Array(samples.length * per);
    samples.forEach((s, n) => {
      if (s.input.length !== per) throw new Error(`${s.sample.id}: input has ${s.input.length} values, the model takes ${fm.graph.input.shape.join('×')}`);
      input.set(s.input, n * per);
    });

    const records: PairRecord[] = [];
    const maps: Float32Array[] | null = opts.maps ? [] : null;
    let passes = 0;
    let forwards = 0;
    // The forward may need splitting when the batch exceeds what the model was sized for.
    for (let n0 = 0; n0 < samples.length; n0 += fm.maxBatch) {
      const n1 = Math.min(samples.length, n0 + fm.maxBatch);
      let t = now();
      const acts = await fm.forward(input.subarray(n0 * per, n1 * per), n1 - n0);
      forwards++;
      addTime(times, 'forward', now() - t);
      try {
        const mine = work.filter((w) => w.sample >= n0 && w.sample < n1);
        // The clean logits f(x_0) and inputs of region perturbation.
        const clean = rp ? await acts.read(fm.graph.output) : null;
        const inputs = acts.get(fm.graph.input.name).buffer;
        const classes = this.classes;
        const rowsOf = (chunk: readonly PairWork[], order: (k: number) => number | 'random') => chunk.map((w, k) => ({
          input: w.sample - n0, classIndex: w.classIndex, image: imageIndex!(w.image), order: order(k),
        }));
        for (let k0 = 0; k0 < mine.length; k0 += this.relevanceBatch) {
          const chunk = mine.slice(k0, k0 + this.relevanceBatch);
          // The random order's curves, for the pairs whose first analyzer's record is to be written.
          const randomCurves = new Map<number, PerturbCurves>();
          if (rp) {
            t = now();
            const first = this.analyzers[0].name;
            const idx = chunk.flatMap((w, k) => (w.analyzers.has(first) ? [k] : []));
            const cs = await rp.curves(inputs, null, rowsOf(idx.map((k) => chunk[k]), () => 'random'));
            idx.forEach((k, i) => randomCurves.set(k, cs[i]));
            addTime(times, 'aopc', now() - t);
          }
          t = now();
          const expanded = await selectSamples(fm.ctx, acts, chunk.map((w) => w.sample - n0));
          addTime(times, 'expand', now() - t);
          try {
            for (const a of this.analyzers) {
              if (!chunk.some((w) => w.analyzers.has(a.name))) continue;
              t = now();
              const rel = await a.explainer.relevanceOnGpu(expanded, { targets: chunk.map((w) => w.classIndex), init: opts.init });
              passes++;
              addTime(times, 'relevance', now() - t);
              try {
                t = now();
                const sums = await this.sums.compute(rel.buffer, chunk.map((w, k) => ({ sample: k, mask: w.mask })));
                addTime(times, 'metrics', now() - t);
                const bad = sums.findIndex((x) => !Number.isFinite(x.R_in) || !Number.isFinite(x.R_tot));
                if (bad >= 0) {
                  const w = chunk[bad];
                  throw await nonFiniteRelevanceError(a.explainer, expanded, { targets: chunk.map((c) => c.classIndex), init: opts.init },
                    `image ${w.image}, class ${w.className}`);
                }
                let chMaps: Float32Array | null = null;
                if (maps) {
                  t = now();
                  chMaps = await this.sums.channelSums(rel.buffer, chunk.length);
                  addTime(times, 'maps', now() - t);
                }
                const curves = new Map<number, PerturbCurves>();
                if (rp) {
                  t = now();
                  const idx = chunk.flatMap((w, k) => (w.analyzers.has(a.name) ? [k] : []));
                  const cs = await rp.curves(inputs, rel.buffer, rowsOf(idx.map((k) => chunk[k]), (i) => idx[i]));
                  idx.forEach((k, i) => curves.set(k, cs[i]));
                  addTime(times, 'aopc', now() - t);
                }
                chunk.forEach((w, k) => {
                  if (!w.analyzers.has(a.name)) return;
                  const rec = pairRecord({ image: w.image, class: w.className, classIndex: w.classIndex, analyzer: a.name }, sums[k]);
                  if (rp && clean) {
                    const f0 = clean[(w.sample - n0) * classes + w.classIndex];
                    const c = curves.get(k)!;
                    const r = a === this.analyzers[0] ? randomCurves.get(k)! : null;
                    records.push({ ...rec, aopc: aopcRecord(f0, c, r) });
                  } else {
                    records.push(rec);
                  }
                  if (maps && chMaps) maps.push(chMaps.slice(k * plane, (k + 1) * plane));
                });
              } finally {
                rel.release();
              }
            }
          } finally {
            if (expanded !== acts) expanded.release();
          }
        }
      } finally {
        acts.release();
      }
    }
    return { records, skips, maps, forwards, relevancePasses: passes };
  }

  destroy(): void {
    for (const a of this.analyzers) a.explainer.destroy();
    this.sums.destroy();
    this.perturbation?.destroy();
  }
}

/** A float32 value in 9 significant digits, always enough to give the float32 back. */
const f32Text = (v: number) => Number(Math.fround(v).toPrecision(9));

/** The record's curves: f(x_0) then the L logits of each order, as numbers that round-trip float32. */
export function aopcRecord(f0: number, c: PerturbCurves, random: PerturbCurves | null): AopcRecord {
  const f = f32Text(f0);
  const curve = (xs: Float32Array) => [f, ...Array.from(xs, f32Text)];
  return {
    f0: f, morf: curve(c.morf), lerf: curve(c.lerf),
    ...(random ? { random: { morf: curve(random.morf), lerf: curve(random.lerf) } } : {}),
  };
}
