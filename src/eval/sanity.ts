/**
 * The model-parameter randomization check (shared/docs/evaluation-protocol.md, "Model-parameter
 * randomization"), browser-safe: the same (input, class) pairs explained by every analyzer on the
 * original model and at every step of the cascade (src/eval/randomize.ts), each randomised map
 * compared with the original's on the GPU (src/eval/map-similarity.ts); per analyzer and step,
 * the mean Spearman rank correlation and mean SSIM with their standard errors.
 *
 * Decisions the protocol left open:
 * - The class of a pair is fixed by the original model: a given class index stays, and
 *   `predicted` is resolved once, to the original model's arg-max, and explained at every step
 *   (a randomised model's own prediction would change the question along the way).
 * - Step 0 explains the original model again and compares it with the maps of the first pass: it
 *   is 1 exactly when the relevance pass is deterministic, and is reported as the baseline row.
 * - Original maps (scaled, with their ranks) stay on the GPU for the whole run, 8 bytes per pixel
 *   per pair and analyzer (64 × 64: 32 KiB; 224 × 224: 392 KiB); each step then runs the batches
 *   again on that step's model, so one randomised model is uploaded at a time.
 * - Means leave out degenerate pairs (a map with no relevance at all, or constant ranks), which
 *   are counted; the standard error is the sample standard deviation over sqrt(n) (null below 2).
 * - Non-finite relevance or logits stop the run with an error naming the analyzer, the step and
 *   the pair, never a similarity.
 * - Composites are resolved once, on the original graph (a randomised copy has the same layers and
 *   names). PatternAttribution keeps the patterns learned on the original model: learning them
 *   again at every step would need the statistics set, which the check does not have.
 * - Every pair runs its own forward pass, also when several pairs share an image: the forward is
 *   cheap beside the relevance passes, and it keeps one batch of pairs one batch of inputs.
 */
import { ForwardModel } from '../forward/model.ts';
import { numel } from '../graph/ir.ts';
import { Explainer, type Init, type Target } from '../lrp/explainer.ts';
import { addTime, type Analyzer, type StageTimes } from './evaluator.ts';
import { MapSimilarity, type MapPairSimilarity, type PreparedMaps } from './map-similarity.ts';
import { cascadeLayers, randomizedGraph } from './randomize.ts';

/** One pair of the check: a model input (C × H × W) and the class to explain. */
export interface SanityPair {
  /** A name for messages and the report (image id, file name). */
  readonly id: string;
  readonly input: Float32Array;
  /** A class index, or `predicted`: the original model's arg-max. */
  readonly target: Target;
}

export interface SanityOptions {
  /** Seeds the random weights (default 0). */
  readonly seed?: number;
  /** Pairs per forward and relevance pass (default 16; at most what the model and analyzers fit). */
  readonly batch?: number;
  readonly init?: Init;
  /** Called after each batch of each pass: pair explanations done of `total` (pairs × (steps + 2)). */
  readonly onProgress?: (done: number, total: number, what: string) => void;
  readonly times?: StageTimes;
}

/** One step of the cascade: how many linear layers are randomised, and the last (lowest) of them. */
export interface SanityStep {
  readonly step: number;
  /** The layer randomised down to; null at step 0. */
  readonly layer: string | null;
}

/** A mean over the pairs of one analyzer and step. */
export interface SanityStat {
  /** Mean over the pairs that are not degenerate; null when none is. */
  readonly mean: number | null;
  /** Standard error of the mean; null with fewer than 2 pairs. */
  readonly stderr: number | null;
  readonly n: number;
}

/** One analyzer at one step: its similarities to the original maps. */
export interface SanityRow {
  readonly analyzer: string;
  readonly step: number;
  readonly layer: string | null;
  readonly spearman: SanityStat;
  readonly ssim: SanityStat;
  /** Pairs left out as degenerate at this step. */
  readonly degenerate: number;
}

/** What the randomization check found: the steps, and per analyzer and step the similarities. */
export interface SanityResult {
  readonly steps: readonly SanityStep[];
  /** Per analyzer (in the order given), per step. */
  readonly rows: readonly SanityRow[];
  /** The pairs, with the class each explained. */
  readonly pairs: readonly { readonly id: string; readonly target: number }[];
  /** Per analyzer, per step, per pair: the similarities (null: degenerate). */
  readonly values: ReadonlyMap<string, readonly (readonly MapPairSimilarity[])[]>;
  readonly seed: number;
}

/** Mean, standard error and count of the non-null values. */
export function meanStat(values: readonly (number | null)[]): SanityStat {
  const v = values.filter((x): x is number => x !== null);
  const n = v.length;
  if (n === 0) return { mean: null, stderr: null, n };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, stderr: null, n };
  const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, stderr: Math.sqrt(ss / (n - 1) / n), n };
}

const now = () => performance.now() / 1000;

/**
 * Runs the check on `forward`'s model (left as it is: randomised steps run on models of their own)
 * for every analyzer over `pairs`.
 */
export async function sanityCheck(forward: ForwardModel, analyzers: readonly Analyzer[], pairs: readonly SanityPair[], opts: SanityOptions = {}): Promise<SanityResult> {
  const { ctx, graph } = forward;
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a whole number >= 0, got ${seed}`);
  if (analyzers.length === 0) throw new Error('the randomization check needs at least one analyzer');
  if (new Set(analyzers.map((a) => a.name)).size !== analyzers.length) throw new Error('two analyzers share a name');
  if (pairs.length === 0) throw new Error('the randomization check needs at least one input');
  const per = numel(graph.input.shape);
  pairs.forEach((p) => {
    if (p.input.length !== per) throw new Error(`${p.id}: input has ${p.input.length} values, the model takes ${graph.input.shape.join('×')}`);
  });
  const cascade = cascadeLayers(graph);
  if (cascade.length === 0) throw new Error(`${graph.name} has no convolution or dense layer to randomise`);
  const steps: SanityStep[] = [{ step: 0, layer: null }, ...cascade.map((l, k) => ({ step: k + 1, layer: l.name }))];
  const times = opts.times ?? {};
  const init = opts.init ?? 'logit';

  const sim = await MapSimilarity.create(ctx, graph.input.shape);
  const originals: PreparedMaps[][] = []; // [batch][analyzer]
  let explainers: Explainer[] = [];
  try {
    explainers = await Promise.all(analyzers.map((a) => Explainer.create(forward, a.composite)));
    const batch = Math.max(1, Math.min(opts.batch ?? 16, Explainer.maxBatchOf(forward, explainers), 65535));
    const batches = Math.ceil(pairs.length / batch);
    const total = (steps.length + 1) * pairs.length;
    let done = 0;
    const targets: Target[] = pairs.map((p) => p.target);
    const values = new Map(analyzers.map((a) => [a.name, steps.map(() => [] as MapPairSimilarity[])]));

    /**
     * One pass over every batch on `fm` with `exs`: `use` gets each analyzer's prepared maps. The
     * original pass (`fixTargets`) records the classes each pair explained, `predicted` resolved.
     */
    const pass = async (fm: ForwardModel, exs: readonly Explainer[], what: string, fixTargets: boolean, use: (b: number, a: number, maps: PreparedMaps) => Promise<void>) => {
      for (let b = 0; b < batches; b++) {
        const n0 = b * batch;
        const n = Math.min(batch, pairs.length - n0);
        const input = new Float32Array(n * per);
        for (let k = 0; k < n; k++) input.set(pairs[n0 + k].input, k * per);
        let t = now();
        const acts = await fm.forward(input, n);
        addTime(times, 'forward', now() - t);
        try {
          for (let a = 0; a < exs.length; a++) {
            t = now();
            const rel = await exs[a].relevanceOnGpu(acts, { targets: targets.slice(n0, n0 + n), init });
            addTime(times, 'relevance', now() - t);
            let maps: PreparedMaps | null = null;
            try {
              t = now();
              if (fixTargets) rel.targets.forEach((c, k) => (targets[n0 + k] = c));
              maps = await sim.prepare(rel.buffer, n);
              const bad = maps.nonFinite.findIndex((c) => c > 0);
              if (bad >= 0) {
                throw new Error(`${analyzers[a].name}: the relevance of ${pairs[n0 + bad].id} (class ${targets[n0 + bad]}) has ${maps.nonFinite[bad]} non-finite values on ${what}`);
              }
              await use(b, a, maps);
              addTime(times, 'similarity', now() - t);
            } catch (e) {
              maps?.release();
              throw e;
            } finally {
              rel.release();
            }
          }
        } finally {
          acts.release();
        }
        done += n;
        opts.onProgress?.(done, total, what);
      }
    };

    // The original maps, kept on the GPU; the classes of `predicted` pairs are fixed here.
    await pass(forward, explainers, 'the original model', true, async (b, a, maps) => {
      (originals[b] ??= [])[a] = maps;
    });
    // Each step adds one randomised layer to the previous step's graph (randomizedGraph).
    let randomised = graph;
    for (const s of steps) {
      let fm = forward;
      let exs = explainers;
      if (s.step > 0) {
        const t = now();
        randomised = randomizedGraph(graph, s.step, seed, randomised);
        fm = await ForwardModel.create(ctx, randomised);
        exs = [];
        try {
          for (const a of analyzers) exs.push(await Explainer.create(fm, a.composite));
        } catch (e) {
          exs.forEach((x) => x.destroy());
          fm.destroy();
          throw e;
        }
        addTime(times, 'randomise', now() - t);
      }
      const what = s.step === 0 ? 'step 0 (nothing randomised)' : `step ${s.step} (randomised down to ${s.layer})`;
      try {
        await pass(fm, exs, what, false, async (b, a, maps) => {
          try {
            const sims = await sim.compare(originals[b][a], maps);
            values.get(analyzers[a].name)![s.step].push(...sims);
          } finally {
            maps.release();
          }
        });
      } finally {
        if (fm !== forward) {
          exs.forEach((x) => x.destroy());
          fm.destroy();
        }
      }
    }

    const rows: SanityRow[] = [];
    for (const a of analyzers) {
      for (const s of steps) {
        const v = values.get(a.name)![s.step];
        rows.push({
          analyzer: a.name, step: s.step, layer: s.layer,
          spearman: meanStat(v.map((x) => x.spearman)), ssim: meanStat(v.map((x) => x.ssim)),
          degenerate: v.filter((x) => x.spearman === null || x.ssim === null).length,
        });
      }
    }
    return { steps, rows, pairs: pairs.map((p, i) => ({ id: p.id, target: targets[i] as number })), values, seed };
  } finally {
    for (const byA of originals) for (const m of byA ?? []) m?.release();
    explainers.forEach((x) => x.destroy());
    sim.destroy();
  }
}
