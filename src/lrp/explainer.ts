/**
 * The backward executor: one relevance pass over a batch, each layer through the kernels of the
 * rule its composite assigned. The per-layer plan (which kernels, which pipelines, which
 * re-laid-out weights) is built once per (model, composite) and reused for every batch.
 *
 * A batch larger than `maxBatch` (a rule's scratch outgrows one binding) runs as consecutive
 * chunks of at most `maxBatch` samples, as even as they come, and the results are concatenated:
 * the same values as explaining each chunk alone (the kernels do not mix samples). `explain`
 * runs the forward pass per chunk; the passes over activations copy each chunk's activations out
 * (forward/select.ts) and, on the GPU, copy each chunk's input relevance into one buffer, which
 * fits a binding because the activations it came from did.
 */
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { BufferLease, ScratchArena } from '../gpu/buffer-pool.ts';
import type { Graph, Layer } from '../graph/ir.ts';
import { numel, valueInfo } from '../graph/ir.ts';
import { graphKind } from '../graph/kinds.ts';
import { firstNonFinite, nonFiniteForwardError } from '../forward/finite.ts';
import type { Activations, ForwardModel } from '../forward/model.ts';
import { selectSamples } from '../forward/select.ts';
import type { TensorRef } from '../forward/tensor.ts';
import type { BackwardIO, BackwardOp } from './backward-op.ts';
import { createAdd, createTimesInput, type AddKernel, type TimesInputKernel } from './ops/elementwise.ts';
import { createBackwardOp, isPassThrough } from './ops/index.ts';
import { nonFiniteRelevanceError } from './finite.ts';
import type { LayerRule, Method } from './rule-spec.ts';
import { ruleLabel } from './rule-spec.ts';
export { ruleLabel };

export type Init = 'logit' | 'onehot';
import { targetsOf, type Target } from './targets.ts';
export { targetsOf, type Target };

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
  /** Told after each GPU batch: samples done so far of the whole batch. */
  onProgress?: (done: number, total: number) => void;
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
    // An input repeated (add(x, x), matmul(x, x)) shares one buffer: the later ones add into it, as relevanceOnce does.
    out.set(layer, layer.inputs.map((i, k) => reached.has(i) || layer.inputs.indexOf(i) < k));
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
            forwardOptions: forward.options,
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

  /** Consecutive sample ranges [first, count] of at most `maxBatch` samples covering `batch`. */
  chunks(batch: number): [number, number][] {
    return chunksOf(batch, this.maxBatch);
  }

  /** The forward and relevance passes over `batch` samples, in chunks of at most `maxBatch`. */
  async explain(input: Float32Array, batch: number, opts: ExplainOptions): Promise<Explanation> {
    const per = numel(this.graph.input.shape);
    if (Number.isInteger(batch) && batch >= 1 && input.length !== batch * per) {
      throw new Error(`${this.graph.name}: input has ${input.length} values, expected ${batch}×${this.graph.input.shape.join('×')} = ${batch * per}`);
    }
    checkTargetCount(opts.targets, batch);
    const parts: Explanation[] = [];
    const ranges = Number.isInteger(batch) && batch >= 1 ? this.chunks(batch) : [[0, batch] as [number, number]];
    for (const [n0, n] of ranges) {
      const acts = await this.forward.forward(input.subarray(n0 * per, (n0 + n) * per), n);
      try {
        const mine = { ...opts, targets: targetsOf(opts.targets, n0, n, batch) };
        parts.push(await this.explainOnce(acts, mine, () => nonFiniteRelevanceError(this, acts, mine, '', n0)));
      } finally {
        acts.release();
      }
      opts.onProgress?.(n0 + n, batch);
    }
    return joinExplanations(parts);
  }

  /**
   * The relevance pass over a batch whose forward pass has run (one forward can serve many
   * composites); a batch over `maxBatch` runs in chunks.
   */
  async explainActivations(acts: Activations, opts: ExplainOptions): Promise<Explanation> {
    checkTargetCount(opts.targets, acts.batch);
    const parts: Explanation[] = [];
    for (const [n0, n] of this.chunks(acts.batch)) {
      const sub = await selectSamples(this.ctx, acts, range(n0, n));
      try {
        parts.push(await this.explainOnce(sub, { ...opts, targets: targetsOf(opts.targets, n0, n, acts.batch) }, () => nonFiniteRelevanceError(this, acts, opts)));
      } finally {
        if (sub !== acts) sub.release();
      }
      opts.onProgress?.(n0 + n, acts.batch);
    }
    return joinExplanations(parts);
  }

  /** One relevance pass read back; `diagnose` names the layer if it is not finite. */
  private async explainOnce(acts: Activations, opts: ExplainOptions, diagnose: () => Promise<Error>): Promise<Explanation> {
    const r = await this.relevanceOnce(acts, opts);
    try {
      const relevance = await this.ctx.readF32(r.buffer, 0, r.count, 'reading the input relevance');
      if (firstNonFinite(relevance) >= 0) throw await diagnose();
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
   * The relevance pass, leaving the input relevance on the GPU (N × input shape, float32, one
   * buffer) for kernels that reduce it there (the evaluation metrics); release() returns its
   * buffers. A batch over `maxBatch` runs in chunks whose relevance is copied into one buffer;
   * its `perValue` is then empty (lrp/finite.ts diagnoses per chunk).
   */
  async relevanceOnGpu(acts: Activations, opts: ExplainOptions): Promise<GpuRelevance> {
    if (acts.batch <= this.maxBatch) {
      const r = await this.relevanceOnce(acts, opts);
      opts.onProgress?.(acts.batch, acts.batch);
      return r;
    }
    return this.joined(acts.batch, opts, async (n0, n, mine) => {
      const sub = await selectSamples(this.ctx, acts, range(n0, n));
      try {
        return await this.relevanceOnce(sub, mine);
      } finally {
        sub.release();
      }
    });
  }

  /**
   * The forward and relevance passes over `batch` samples of `input`, the input relevance left on
   * the GPU in one buffer: the forward pass runs per chunk of at most `maxBatch`, each chunk's
   * relevance copied into the one buffer. That buffer must fit one binding (so that a kernel can
   * bind it whole): a batch whose input relevance is larger is refused, naming how many fit.
   */
  async relevanceOfInput(input: Float32Array, batch: number, opts: ExplainOptions): Promise<GpuRelevance> {
    const { ctx, graph } = this;
    const per = numel(graph.input.shape);
    if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`${graph.name}: batch must be a positive whole number, not ${batch}`);
    if (input.length !== batch * per) {
      throw new Error(`${graph.name}: input has ${input.length} values, expected ${batch}×${graph.input.shape.join('×')} = ${batch * per}`);
    }
    const most = Math.floor(ctx.maxBinding / (4 * per));
    if (batch > most) {
      throw new Error(`${graph.name}: the input relevance of ${batch} samples (${4 * batch * per} bytes) exceeds one ${ctx.maxBinding}-byte binding of this adapter; `
        + `at most ${most} samples lie in one GPU buffer here: explain the rest in another call, or read the relevance back (explain)`);
    }
    checkTargetCount(opts.targets, batch);
    const run = async (n0: number, n: number, mine: ExplainOptions) => {
      const acts = await this.forward.forward(input.subarray(n0 * per, (n0 + n) * per), n);
      try {
        const r = await this.relevanceOnce(acts, mine);
        return { ...r, release: () => { r.release(); acts.release(); } };
      } catch (e) {
        acts.release();
        throw e;
      }
    };
    if (batch <= this.maxBatch) {
      const r = await run(0, batch, opts);
      opts.onProgress?.(batch, batch);
      return r;
    }
    return this.joined(batch, opts, run);
  }

  /** Runs `pass` over the chunks of `batch` and copies each chunk's input relevance into one buffer. */
  private async joined(batch: number, opts: ExplainOptions, pass: (n0: number, n: number, opts: ExplainOptions) => Promise<GpuRelevance>): Promise<GpuRelevance> {
    const { ctx, graph } = this;
    checkTargetCount(opts.targets, batch);
    const per = numel(graph.input.shape);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const out = ctx.pool.acquire(4 * batch * per, usage, 'input relevance (chunks joined)');
    const parts: GpuRelevance[] = [];
    try {
      for (const [n0, n] of this.chunks(batch)) {
        const r = await pass(n0, n, { ...opts, targets: targetsOf(opts.targets, n0, n, batch) });
        try {
          await ctx.guard(`joining the input relevance of samples ${n0} to ${n0 + n - 1} of ${batch}`, () => {
            const enc = ctx.device.createCommandEncoder({ label: 'join input relevance' });
            enc.copyBufferToBuffer(r.buffer, 0, out, 4 * n0 * per, 4 * n * per);
            ctx.device.queue.submit([enc.finish()]);
          });
          parts.push(r);
        } finally {
          r.release();
        }
        opts.onProgress?.(n0 + n, batch);
      }
    } catch (e) {
      ctx.pool.release(out);
      throw e;
    }
    let released = false;
    return {
      buffer: out, count: batch * per, logits: concatF32(parts.map((p) => p.logits)),
      targets: parts.flatMap((p) => p.targets), targetLogits: parts.flatMap((p) => p.targetLogits),
      timings: parts.every((p) => p.timings) ? parts.flatMap((p) => p.timings!) : null, perValue: new Map(),
      release: () => {
        if (!released) ctx.pool.release(out);
        released = true;
      },
    };
  }

  /** One relevance pass of at most `maxBatch` samples. */
  private async relevanceOnce(acts: Activations, opts: ExplainOptions): Promise<GpuRelevance> {
    const { ctx, graph } = this;
    const batch = acts.batch;
    if (batch > this.maxBatch) {
      throw new Error(`${graph.name}: batch ${batch} exceeds ${this.maxBatch}, the largest whose relevance pass under ${this.composite.name} `
        + `fits this adapter's ${ctx.maxBinding}-byte bindings (internal: relevanceOnGpu splits larger batches)`);
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
    const scratch = new ScratchArena(lease);
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
          scratch: (bytes, label) => scratch.acquire(bytes, label),
        };
        dispatches.push(...op.dispatches(batch, io));
        scratch.recycle();
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

/** Consecutive sample ranges [first, count] of at most `max` covering `batch`, as even as they come (8 under a cap of 5: 4 + 4). */
export function chunksOf(batch: number, max: number): [number, number][] {
  const k = Math.ceil(batch / max);
  const size = Math.ceil(batch / k);
  const out: [number, number][] = [];
  for (let n0 = 0; n0 < batch; n0 += size) out.push([n0, Math.min(size, batch - n0)]);
  return out;
}

function checkTargetCount(targets: readonly Target[] | Target, batch: number): void {
  const list = Array.isArray(targets) ? targets : [targets];
  if (list.length !== 1 && list.length !== batch) {
    throw new Error(`${list.length} targets given for a batch of ${batch} (give one per sample, or one for all)`);
  }
}

function range(n0: number, n: number): number[] {
  return Array.from({ length: n }, (_, k) => n0 + k);
}

function concatF32(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function joinExplanations(parts: readonly Explanation[]): Explanation {
  if (parts.length === 1) return parts[0];
  return {
    batch: parts.reduce((s, p) => s + p.batch, 0),
    logits: concatF32(parts.map((p) => p.logits)),
    targets: parts.flatMap((p) => p.targets),
    targetLogits: parts.flatMap((p) => p.targetLogits),
    relevance: concatF32(parts.map((p) => p.relevance)),
    relevanceSums: parts.flatMap((p) => p.relevanceSums),
    timings: parts.every((p) => p.timings) ? parts.flatMap((p) => p.timings!) : null,
  };
}

function resolveTargets(targets: readonly Target[] | Target, logits: Float32Array, batch: number, classes: number): number[] {
  checkTargetCount(targets, batch);
  const list = Array.isArray(targets) ? targets : [targets as Target];
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
