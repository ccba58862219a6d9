/**
 * The backward executor: one relevance pass over a batch, each layer through the kernels of the
 * rule its composite assigned. The per-layer plan (which kernels, which pipelines, which
 * re-laid-out weights) is built once per (model, composite) and reused for every batch.
 */
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { BufferLease } from '../gpu/buffer-pool.ts';
import type { Graph, Layer } from '../graph/ir.ts';
import { numel, valueInfo } from '../graph/ir.ts';
import { graphKind } from '../graph/kinds.ts';
import { firstNonFinite, nonFiniteForwardError } from '../forward/finite.ts';
import type { Activations, ForwardModel } from '../forward/model.ts';
import type { TensorRef } from '../forward/tensor.ts';
import type { BackwardIO, BackwardOp } from './backward-op.ts';
import { createAdd, createTimesInput, type AddKernel, type TimesInputKernel } from './ops/elementwise.ts';
import { createBackwardOp, isPassThrough } from './ops/index.ts';
import { nonFiniteRelevanceError } from './finite.ts';
import type { LayerRule, Method } from './rule-spec.ts';
import { ruleLabel } from './rule-spec.ts';
export { ruleLabel };

export type Init = 'logit' | 'onehot';
export type Target = number | 'predicted';

/** The composite as the executor needs it: a rule per layer name, or a gradient method. */
export interface LayerRules {
  readonly name: string;
  readonly method: Method | null;
  readonly rules: ReadonlyMap<string, LayerRule>;
}

export interface ExplainOptions {
  /** One target per sample, or one for all; `predicted` takes each sample's arg-max. */
  targets: readonly Target[] | Target;
  init?: Init;
  profile?: boolean;
}

export interface Explanation {
  readonly batch: number;
  /** N × classes. */
  readonly logits: Float32Array;
  readonly targets: number[];
  readonly targetLogits: number[];
  /** N × input shape, float32 NCHW. */
  readonly relevance: Float32Array;
  /** Per sample: the sum of input relevance (conservation at a glance). */
  readonly relevanceSums: number[];
  /** Per-dispatch timings of the relevance pass, when profiled. */
  readonly timings: import('../gpu/profiler.ts').KernelTiming[] | null;
}

/**
 * Values known to be >= 0 without looking at them, by each kind's `nonneg` (src/graph/kinds.ts):
 * ReLU views and ReLU6, and what keeps the sign of non-negative inputs (pooling, copying,
 * concatenation, the sum of two, zero padding). A BatchNorm may shift any value below zero.
 */
export function nonnegativeValues(graph: Graph): Set<string> {
  const nonneg = new Set<string>();
  for (const l of graph.layers) {
    const keeps = graphKind(l).nonneg(l);
    if (keeps === 'always' || (keeps === 'if-inputs' && l.inputs.every((i) => nonneg.has(i)))) nonneg.add(l.output);
  }
  return nonneg;
}

/**
 * Per layer that runs kernels: per input, whether relevance is already there when the layer's
 * turn comes (another consumer of the value wrote first), so the layer adds into it. The same
 * walk as relevanceOnGpu's, done once on the graph: ops then compile only the variants they use.
 */
export function accumulation(graph: Graph, runsKernels: (layer: Layer) => boolean): Map<Layer, boolean[]> {
  return relevanceWalk(graph, runsKernels).accumulate;
}

/**
 * The layers relevance reaches, from the output back: a pass-through layer hands it to its first
 * input only (a gate under LRP: its branch is never reached), a layer with kernels to every input.
 * With accumulation's map for the reached layers that run kernels.
 */
function relevanceWalk(graph: Graph, runsKernels: (layer: Layer) => boolean): { reachedLayers: Set<Layer>; accumulate: Map<Layer, boolean[]> } {
  const reached = new Set<string>([graph.output]);
  const reachedLayers = new Set<Layer>();
  const out = new Map<Layer, boolean[]>();
  for (let li = graph.layers.length - 1; li >= 0; li--) {
    const layer = graph.layers[li];
    if (!reached.has(layer.output)) continue;
    reachedLayers.add(layer);
    if (!runsKernels(layer)) {
      reached.add(layer.inputs[0]);
      continue;
    }
    out.set(layer, layer.inputs.map((i) => reached.has(i)));
    for (const i of layer.inputs) reached.add(i);
  }
  return { reachedLayers, accumulate: out };
}

/** Input relevance of a batch, still on the GPU. */
export interface GpuRelevance {
  /** N × input shape, float32 NCHW. */
  readonly buffer: GPUBuffer;
  readonly count: number;
  readonly logits: Float32Array;
  readonly targets: number[];
  readonly targetLogits: number[];
  readonly timings: import('../gpu/profiler.ts').KernelTiming[] | null;
  /** The relevance at every value it reached (valid until release), for diagnostics (lrp/finite.ts). */
  readonly perValue: ReadonlyMap<string, GPUBuffer>;
  release(): void;
}

export class Explainer {
  /**
   * The largest batch one relevance pass takes on this device: the forward model's, or less where
   * a rule's scratch outgrows one binding (alpha-beta's two s slices of VGG-16's first layers:
   * 25.7 MB a sample, so 5 samples in lavapipe's and browsers' 128 MiB bindings).
   */
  readonly maxBatch: number;

  private constructor(
    readonly forward: ForwardModel,
    readonly composite: LayerRules,
    private readonly ops: Map<Layer, BackwardOp>,
    /** The layers relevance reaches (the others, a gate's branch under LRP, run nothing). */
    private readonly reached: ReadonlySet<Layer>,
    private readonly add: AddKernel,
    private readonly timesInput: TimesInputKernel | null,
  ) {
    const scratch = Math.max(0, ...[...ops.values()].map((op) => op.scratchPerSample ?? 0));
    this.maxBatch = scratch > 0 ? Math.min(forward.maxBatch, Math.floor(forward.ctx.maxBinding / scratch)) : forward.maxBatch;
  }

  /** The largest batch that a forward pass shared by `explainers` may take. */
  static maxBatchOf(forward: ForwardModel, explainers: readonly Explainer[]): number {
    return Math.min(forward.maxBatch, ...explainers.map((e) => e.maxBatch));
  }

  get ctx(): GpuContext {
    return this.forward.ctx;
  }

  get graph(): Graph {
    return this.forward.graph;
  }

  static async create(forward: ForwardModel, composite: LayerRules): Promise<Explainer> {
    const { ctx, graph } = forward;
    const nonneg = nonnegativeValues(graph);
    const { reachedLayers, accumulate: accumulates } = relevanceWalk(graph, (l) => !isPassThrough(l, composite.rules.get(l.name) ?? null));
    const ops = new Map<Layer, BackwardOp>();
    try {
      await ctx.guard(`building the relevance plan of '${graph.name}' for ${composite.name}`, async () => {
        for (const layer of graph.layers) {
          const rule = composite.rules.get(layer.name) ?? null;
          // No op where relevance passes through, nor where none arrives (a gate's branch under
          // LRP, a branch to another output): its pipelines would compile and never run.
          const accumulate = accumulates.get(layer);
          if (isPassThrough(layer, rule) || !accumulate) continue;
          ops.set(layer, await createBackwardOp({
            ctx, weights: forward.weights, layer, rule, accumulate,
            inputs: layer.inputs.map((i) => forward.info.get(i)!),
            nonneg: layer.inputs.map((i) => nonneg.has(i)),
            output: forward.info.get(layer.output)!,
            outShape: valueInfo(graph, layer.output).shape,
          }));
        }
      });
    } catch (e) {
      for (const op of ops.values()) op.destroy();
      throw e;
    }
    // Gradient × input is the gradient at the input, times the input: one step at the very end.
    const timesInput = composite.method === 'gradient-x-input' ? await createTimesInput(ctx, forward.info.get(graph.input.name)!) : null;
    const explainer = new Explainer(forward, composite, ops, reachedLayers, await createAdd(ctx), timesInput);
    if (explainer.maxBatch < 1) {
      explainer.destroy();
      throw new GpuError(`one sample's relevance scratch exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits',
        `relevance plan of '${graph.name}' for ${composite.name}`);
    }
    return explainer;
  }

  /** The passes each layer costs, for `--verbose` and the docs. */
  describe(): { layer: string; kind: string; rule: string; passes: string }[] {
    return this.graph.layers.map((l) => {
      const rule = this.composite.rules.get(l.name);
      return {
        layer: l.name, kind: l.kind, rule: rule ? ruleLabel(rule) : '-',
        passes: this.ops.get(l)?.passes
          ?? (this.reached.has(l) ? 'none (relevance passes through as is)' : 'none (no relevance reaches it)'),
      };
    });
  }

  async explain(input: Float32Array, batch: number, opts: ExplainOptions): Promise<Explanation> {
    const acts = await this.forward.forward(input, batch);
    try {
      return await this.explainActivations(acts, opts);
    } finally {
      acts.release();
    }
  }

  /** The relevance pass over a batch whose forward pass has run (one forward can serve many composites). */
  async explainActivations(acts: Activations, opts: ExplainOptions): Promise<Explanation> {
    const r = await this.relevanceOnGpu(acts, opts);
    try {
      const relevance = await this.ctx.readF32(r.buffer, 0, r.count, 'reading the input relevance');
      if (firstNonFinite(relevance) >= 0) throw await nonFiniteRelevanceError(this, acts, opts);
      const per = numel(this.graph.input.shape);
      const relevanceSums = r.targets.map((_, n) => {
        let s = 0;
        for (let i = n * per; i < (n + 1) * per; i++) s += relevance[i];
        return s;
      });
      return { batch: acts.batch, logits: r.logits, targets: r.targets, targetLogits: r.targetLogits, relevance, relevanceSums, timings: r.timings };
    } finally {
      r.release();
    }
  }

  /**
   * The relevance pass, leaving the input relevance on the GPU (N × input shape, float32) for
   * kernels that reduce it there (the evaluation metrics); release() returns its buffers.
   */
  async relevanceOnGpu(acts: Activations, opts: ExplainOptions): Promise<GpuRelevance> {
    const { ctx, graph } = this;
    const batch = acts.batch;
    if (batch > this.maxBatch) {
      throw new Error(`${graph.name}: batch ${batch} exceeds ${this.maxBatch}, the largest whose relevance pass under ${this.composite.name} `
        + `fits this adapter's ${ctx.maxBinding}-byte bindings; split it (Explainer.maxBatchOf)`);
    }
    const logits = await acts.read(graph.output);
    if (firstNonFinite(logits) >= 0) throw await nonFiniteForwardError(acts);
    const classes = numel(valueInfo(graph, graph.output).shape);
    const targets = resolveTargets(opts.targets, logits, batch, classes);
    const init = opts.init ?? 'logit';
    const targetLogits = targets.map((t, n) => logits[n * classes + t]);
    const seed = new Float32Array(batch * classes);
    targets.forEach((t, n) => (seed[n * classes + t] = init === 'logit' ? targetLogits[n] : 1));

    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const lease = new BufferLease(ctx.pool, usage);
    const alloc = (bytes: number, label: string) => lease.acquire(bytes, label);
    try {
      const rel = new Map<string, GPUBuffer>();
      const seedBuf = alloc(seed.byteLength, `relevance seed`);
      ctx.writeBuffer(seedBuf, 0, seed);
      rel.set(graph.output, seedBuf);
      const dispatches: Dispatch[] = [];
      const sizeOf = (value: string) => 4 * batch * numel(valueInfo(graph, value).shape);

      for (let li = graph.layers.length - 1; li >= 0; li--) {
        const layer = graph.layers[li];
        const relOut = rel.get(layer.output);
        if (!relOut) continue; // no relevance reaches this layer (a branch to another output)
        const op = this.ops.get(layer);
        if (!op) {
          // Pass-through: the input's relevance is the output's, shared, unless another consumer
          // already wrote there, in which case the two add.
          const into = rel.get(layer.inputs[0]);
          if (!into) {
            rel.set(layer.inputs[0], relOut);
          } else if (into !== relOut) {
            dispatches.push(this.add.dispatch(sizeOf(layer.inputs[0]) / 4, relOut, into, { layer: layer.name }));
          }
          continue;
        }
        // An input repeated (add(x, x), concat(x, x)) shares one buffer: the later ones add into it.
        const accumulate = layer.inputs.map((i, k) => rel.has(i) || layer.inputs.indexOf(i) < k);
        const relIn: GPUBuffer[] = [];
        layer.inputs.forEach((i, k) => {
          const first = layer.inputs.indexOf(i);
          relIn.push(first < k ? relIn[first] : rel.get(i) ?? alloc(sizeOf(i), `relevance at ${i}`));
          rel.set(i, relIn[k]);
        });
        const io: BackwardIO = {
          inputs: layer.inputs.map((i) => acts.get(i)),
          output: acts.get(layer.output),
          relOut, relIn, accumulate,
          scratch: (bytes, label) => alloc(bytes, label),
        };
        dispatches.push(...op.dispatches(batch, io));
      }

      let relInput = rel.get(graph.input.name);
      if (!relInput) {
        relInput = alloc(sizeOf(graph.input.name), 'relevance at the input (none reached it)');
        ctx.device.queue.writeBuffer(relInput, 0, new Float32Array(sizeOf(graph.input.name) / 4));
      }
      if (this.timesInput) {
        const out = alloc(sizeOf(graph.input.name), 'gradient x input');
        dispatches.push(this.timesInput.dispatch(batch, acts.get(graph.input.name), relInput, out, { layer: graph.input.name }));
        relInput = out;
      }
      const timings = await ctx.run(`relevance pass of '${graph.name}' with ${this.composite.name} (batch ${batch})`, dispatches, { profile: opts.profile });
      return {
        buffer: relInput, count: sizeOf(graph.input.name) / 4, logits, targets, targetLogits, timings, perValue: rel,
        release: () => lease.release(),
      };
    } catch (e) {
      lease.release();
      throw e;
    }
  }

  destroy(): void {
    for (const op of this.ops.values()) op.destroy();
    this.ops.clear();
    this.add.destroy();
    this.timesInput?.destroy();
  }
}

function resolveTargets(targets: readonly Target[] | Target, logits: Float32Array, batch: number, classes: number): number[] {
  const list = Array.isArray(targets) ? targets : [targets as Target];
  if (list.length !== 1 && list.length !== batch) {
    throw new Error(`${list.length} targets given for a batch of ${batch} (give one per sample, or one for all)`);
  }
  return Array.from({ length: batch }, (_, n) => {
    const t = list.length === 1 ? list[0] : list[n];
    if (t === 'predicted') {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[n * classes + c] > logits[n * classes + best]) best = c;
      return best;
    }
    if (!Number.isInteger(t) || t < 0 || t >= classes) throw new Error(`target ${t} is not a class index in 0..${classes - 1}`);
    return t;
  });
}
