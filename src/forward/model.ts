import type { Dispatch, GpuContext } from '../gpu/context.ts';
import type { KernelTiming } from '../gpu/profiler.ts';
import { BufferLease, ScratchArena } from '../gpu/buffer-pool.ts';
import { WeightStore } from '../gpu/weight-store.ts';
import type { Graph, Layer } from '../graph/ir.ts';
import { checkModelFits } from './size-limits.ts';
import { numel, valueInfo } from '../graph/ir.ts';
import { forwardKind } from './kinds.ts';
import type { ForwardOp, ForwardOptions } from './op.ts';
import type { InputInfo, TensorRef } from './tensor.ts';

/**
 * A model on the GPU: weights uploaded and re-laid out once, pipelines compiled once. `forward`
 * runs a batch and returns every stored value, because the relevance pass reads each layer's
 * input back; ReLU, Flatten and Identity are views and store nothing. `weights` holds one copy of
 * each weight layout for the forward ops and for every explainer built on this model.
 */
export class ForwardModel {
  private constructor(
    readonly ctx: GpuContext,
    readonly graph: Graph,
    private readonly ops: Map<Layer, ForwardOp>,
    /** Per value: does reading it go through a ReLU view. */
    readonly info: ReadonlyMap<string, InputInfo>,
    /** The largest batch whose every value fits one binding. */
    readonly maxBatch: number,
    /** The shared weight copies (see WeightStore): explainers and analyzers acquire layouts here. */
    readonly weights: WeightStore,
    /** How the ops were built (the conv mode): explainers build their relevance ops the same way. */
    readonly options: ForwardOptions = {},
  ) {}

  static async create(ctx: GpuContext, graph: Graph, options: ForwardOptions = {}): Promise<ForwardModel> {
    // Declared sizes first: nothing is uploaded or compiled for a model that cannot run here.
    checkModelFits(graph, { binding: ctx.maxBinding });
    const info = new Map<string, InputInfo>([[graph.input.name, { shape: graph.input.shape, relu: false }]]);
    let largest = numel(graph.input.shape);
    for (const layer of graph.layers) {
      const shape = valueInfo(graph, layer.output).shape;
      const input = info.get(layer.inputs[0])!;
      const { view } = forwardKind(layer);
      if (view) {
        info.set(layer.output, { shape, relu: input.relu || view === 'relu' });
      } else {
        info.set(layer.output, { shape, relu: false });
        largest = Math.max(largest, numel(shape));
      }
    }
    const ops = new Map<Layer, ForwardOp>();
    const weights = new WeightStore(ctx);
    const where = `loading model '${graph.name}'`;
    try {
      await ctx.guard(where, async () => {
        for (const layer of graph.layers) {
          const kind = forwardKind(layer);
          if (kind.view) continue;
          const inputs = layer.inputs.map((i) => info.get(i)!);
          ops.set(layer, await kind.create(ctx, layer, inputs, info.get(layer.output)!.shape, weights, options));
        }
      });
    } catch (e) {
      for (const op of ops.values()) op.destroy();
      throw e;
    }
    // At least 1: checkModelFits refused any value larger than one binding.
    const maxBatch = Math.floor(ctx.maxBinding / (4 * largest));
    return new ForwardModel(ctx, graph, ops, info, maxBatch, weights, options);
  }

  /**
   * Runs one batch: `input` is N×(input shape) float32, NCHW, on the CPU or already in a GPU buffer
   * (its first N×(input shape) values; used in place, not copied: it must outlive the activations,
   * and the caller keeps it).
   */
  async forward(input: Float32Array | GPUBuffer, batch: number, opts: { profile?: boolean } = {}): Promise<Activations> {
    const { graph, ctx } = this;
    const per = numel(graph.input.shape);
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`${graph.name}: batch must be a positive whole number, not ${batch}`);
    if (input instanceof Float32Array ? input.length !== batch * per : input.size < 4 * batch * per) {
      const has = input instanceof Float32Array ? `${input.length} values` : `a buffer of ${input.size} bytes`;
      throw new Error(`${graph.name}: input has ${has}, expected ${batch}×${graph.input.shape.join('×')} = ${batch * per} values`);
    }
    if (batch > this.maxBatch) {
      throw new Error(`${graph.name}: batch ${batch} exceeds ${this.maxBatch}, the largest whose activations fit this adapter's ${ctx.maxBinding}-byte bindings; split it`);
    }
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const values = new Map<string, TensorRef>();
    const lease = new BufferLease(ctx.pool, usage);
    const alloc = (name: string, count: number) => lease.acquire(4 * count, name);
    const release = () => lease.release();
    const scratchLease = new BufferLease(ctx.pool, usage);
    const scratch = new ScratchArena(scratchLease);
    try {
      let inBuf: GPUBuffer;
      if (input instanceof Float32Array) {
        inBuf = alloc(graph.input.name, input.length);
        ctx.writeBuffer(inBuf, 0, input);
      } else {
        inBuf = input;
      }
      values.set(graph.input.name, { buffer: inBuf, shape: graph.input.shape, relu: false });
      const dispatches: Dispatch[] = [];
      for (const layer of graph.layers) {
        const { shape, relu } = this.info.get(layer.output)!;
        const op = this.ops.get(layer);
        if (!op) {
          values.set(layer.output, { ...values.get(layer.inputs[0])!, shape, relu });
          continue;
        }
        const out = alloc(layer.output, batch * numel(shape));
        dispatches.push(...op.dispatches(batch, layer.inputs.map((i) => values.get(i)!), out, (bytes, label) => scratch.acquire(bytes, label)));
        scratch.recycle();
        values.set(layer.output, { buffer: out, shape, relu });
      }
      const timings = await ctx.run(`forward pass of '${graph.name}' (batch ${batch})`, dispatches, opts);
      return new Activations(ctx, graph, batch, values, timings, release);
    } catch (e) {
      release();
      throw e;
    } finally {
      scratchLease.release();
    }
  }

  /** How each layer with a choice of method runs (a convolution: direct or Winograd, and why), by layer name. */
  methods(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [layer, op] of this.ops) if (op.method) out.set(layer.name, op.method);
    return out;
  }

  destroy(): void {
    for (const op of this.ops.values()) op.destroy();
    this.ops.clear();
  }
}

/** The values of one batch on the GPU. Release them to return the buffers to the pool. */
export class Activations {
  private released = false;

  constructor(
    private readonly ctx: GpuContext,
    readonly graph: Graph,
    readonly batch: number,
    readonly values: ReadonlyMap<string, TensorRef>,
    readonly timings: KernelTiming[] | null,
    private readonly onRelease: () => void,
  ) {}

  get(name: string): TensorRef {
    if (this.released) throw new Error('activations were released');
    const v = this.values.get(name);
    if (!v) throw new Error(`${this.graph.name}: no value '${name}' (values: ${[...this.values.keys()].join(', ')})`);
    return v;
  }

  /** Reads a value back as N×shape float32, with a ReLU view applied. */
  async read(name: string = this.graph.output): Promise<Float32Array> {
    const v = this.get(name);
    const data = await this.ctx.readF32(v.buffer, 0, this.batch * numel(v.shape), `reading '${name}'`);
    if (v.relu) for (let i = 0; i < data.length; i++) data[i] = Math.max(data[i], 0);
    return data;
  }

  release(): void {
    if (!this.released) this.onRelease();
    this.released = true;
  }
}
