import { BufferPool } from './buffer-pool.ts';
import { GpuError } from './errors.ts';
import { PipelineCache, type PipelineProgress } from './pipeline-cache.ts';
export type { PipelineProgress } from './pipeline-cache.ts';
import type { ShaderLoader } from './shaders.ts';
import { Profiler, type KernelTiming } from './profiler.ts';
import type { Dispatch } from './dispatch.ts';
export type { Binding, Dispatch } from './dispatch.ts';

/** The adapter limits worth raising above WebGPU's defaults for big CNNs. */
const LIMITS_WANTED = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const FEATURES_WANTED: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

/** A device descriptor asking for the adapter's real limits and the optional features it offers. */
export function deviceDescriptor(adapter: GPUAdapter): GPUDeviceDescriptor {
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS_WANTED) requiredLimits[k] = adapter.limits[k];
  return {
    label: 'webgpu-lrp',
    requiredFeatures: FEATURES_WANTED.filter((f) => adapter.features.has(f)),
    requiredLimits,
  };
}

/**
 * Which family of kernel configurations suits the device: 'cpu' for a CPU implementation
 * (lavapipe, SwiftShader: SIMD lanes across invocations, so every workgroup-memory read in a loop
 * costs a per-lane loop and thread blocks must be wide), 'gpu' for a real GPU (blocks must stay
 * within the register file).
 */
export type Tuning = 'cpu' | 'gpu';

export interface GpuContextOptions {
  shaders: ShaderLoader;
  /** Overrides the tuning read off the adapter (tests run the other family's kernels too). */
  tuning?: Tuning;
  /**
   * Caps the binding size below the adapter's, so that the paths a small adapter needs (a dense
   * weight split by rows) can be exercised on any adapter.
   */
  bindingLimit?: number;
  /** Progress of pipeline compilation (see PipelineCacheOptions). */
  onPipelineProgress?: (p: PipelineProgress) => void;
  /**
   * Whether kernels may run their subgroups variants where the device offers the feature and its
   * subgroups pass src/gpu/subgroups.ts's probe (default true). False runs the plain kernels
   * everywhere (tests compare the two).
   */
  subgroups?: boolean;
}

/** Whether the device is a CPU implementation of WebGPU (see Tuning). */
export function tuningOf(device: GPUDevice): Tuning {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info) return 'gpu';
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return info.architecture === 'software' || fallback
    || /llvmpipe|lavapipe|swiftshader/i.test(`${info.architecture} ${info.description} ${info.device}`) ? 'cpu' : 'gpu';
}

/**
 * Everything that talks to the device: one pipeline cache, one buffer pool, error scopes that
 * turn WebGPU errors into exceptions naming the kernel and layer. Holds no global state: two
 * contexts on two devices do not meet.
 */
export class GpuContext {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  readonly hasTimestamps: boolean;
  readonly hasF16: boolean;
  readonly tuning: Tuning;
  /** The device has the subgroups feature and the options allow its variants (see src/gpu/subgroups.ts). */
  readonly subgroupsAllowed: boolean;
  private readonly bindingLimit: number;
  private readonly facts = new Map<string, Promise<unknown>>();
  private readonly onProgress: ((p: PipelineProgress) => void) | null;
  /** Pipelines that have completed a dispatch (first runs are submitted on their own, see run). */
  private readonly ranOnce = new WeakSet<GPUComputePipeline>();
  private ranCount = 0;
  private lostReason: string | null = null;
  private current = 'idle';

  constructor(readonly device: GPUDevice, opts: GpuContextOptions) {
    this.onProgress = opts.onPipelineProgress ?? null;
    this.pipelines = new PipelineCache(device, opts.shaders, {
      onProgress: opts.onPipelineProgress ? (p) => opts.onPipelineProgress!({ ...p, ran: this.ranCount }) : undefined,
    });
    this.pool = new BufferPool(device);
    this.hasTimestamps = device.features.has('timestamp-query');
    this.hasF16 = device.features.has('shader-f16');
    this.tuning = opts.tuning ?? tuningOf(device);
    this.subgroupsAllowed = (opts.subgroups ?? true) && device.features.has('subgroups');
    this.bindingLimit = opts.bindingLimit ?? Infinity;
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lostReason = `${info.message || 'unknown reason'} (while running ${this.current})`;
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /**
   * A fact about the device that a probe finds (src/gpu/subgroups.ts), found once per context and
   * shared by every op that asks. A failed probe is not kept: the next ask runs it again.
   */
  fact<T>(key: string, find: () => Promise<T>): Promise<T> {
    let p = this.facts.get(key) as Promise<T> | undefined;
    if (!p) {
      p = find();
      this.facts.set(key, p);
      p.catch(() => this.facts.delete(key));
    }
    return p;
  }

  /** The largest buffer one binding may see: what tiling and batch splitting must respect. */
  get maxBinding(): number {
    return Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize, this.bindingLimit);
  }

  private checkLost(where: string): void {
    if (this.lostReason !== null) throw new GpuError(this.lostReason, 'device-lost', where);
  }

  /**
   * Runs `fn` inside validation, out-of-memory and internal error scopes and throws the first
   * error as a GpuError naming `where`.
   */
  async guard<T>(where: string, fn: () => T | Promise<T>): Promise<T> {
    this.checkLost(where);
    const prev = this.current;
    this.current = where;
    const { device } = this;
    device.pushErrorScope('internal');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let result: T;
    let thrown: unknown = null;
    try {
      result = await fn();
    } catch (e) {
      thrown = e;
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    const internal = await device.popErrorScope();
    this.current = prev;
    this.checkLost(where);
    if (validation) throw new GpuError(validation.message, 'validation', where);
    if (oom) throw new GpuError(oom.message, 'out-of-memory', where);
    if (internal) throw new GpuError(internal.message, 'internal', where);
    if (thrown) throw thrown;
    return result!;
  }

  /** Uploads data into a new buffer that lives as long as the model (weights, constants). */
  upload(data: ArrayBufferView, label: string, usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    if (size > this.device.limits.maxBufferSize) {
      throw new GpuError(`${label} needs ${size} bytes, over maxBufferSize ${this.device.limits.maxBufferSize}`, 'limits', label);
    }
    const buf = this.device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST, label, mappedAtCreation: true });
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buf.unmap();
    return buf;
  }

  uniform(words: ArrayLike<number>, label: string): GPUBuffer {
    const data = new Uint32Array(Math.ceil(words.length / 4) * 4);
    data.set(words);
    return this.upload(data, label, GPUBufferUsage.UNIFORM);
  }

  /** Encodes dispatches, one labelled compute pass each, so errors and timestamps name them. */
  encode(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[], profiler?: Profiler): void {
    for (const d of dispatches) {
      const label = `${d.kernel} for layer '${d.layer}'`;
      const pass = encoder.beginComputePass({ label, timestampWrites: profiler?.next(d) });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, this.device.createBindGroup({
        label,
        layout: d.pipeline.getBindGroupLayout(0),
        entries: d.bindings.map((b, i) => ({ binding: i, resource: 'buffer' in b ? b : { buffer: b } })),
      }));
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
      pass.end();
    }
  }

  /**
   * Submits the dispatches and waits for them, with per-dispatch timings when asked.
   *
   * With a progress callback, dispatches of pipelines that have never run are submitted in
   * segments, each ending at such a dispatch, so that the time a driver spends compiling at first
   * use (lavapipe) shows as progress per pipeline. The work and its order are the same; only the
   * first pass of each pipeline in a process is split.
   */
  async run(where: string, dispatches: readonly Dispatch[], opts: { profile?: boolean } = {}): Promise<KernelTiming[] | null> {
    if (this.onProgress && !opts.profile && dispatches.some((d) => !this.ranOnce.has(d.pipeline))) {
      await this.runFirstUse(where, dispatches);
      return null;
    }
    const profiler = opts.profile && this.hasTimestamps ? new Profiler(this, dispatches.length) : undefined;
    await this.guard(where, () => {
      const encoder = this.device.createCommandEncoder({ label: where });
      this.encode(encoder, dispatches, profiler);
      profiler?.resolve(encoder);
      this.device.queue.submit([encoder.finish()]);
    });
    await this.guard(where, () => this.device.queue.onSubmittedWorkDone());
    return profiler ? profiler.read() : null;
  }

  private async runFirstUse(where: string, dispatches: readonly Dispatch[]): Promise<void> {
    const report = this.onProgress!;
    const counts = () => ({ requested: this.pipelines.size, ready: this.pipelines.readyCount, ran: this.ranCount });
    let start = 0;
    for (let i = 0; i < dispatches.length; i++) {
      const fresh = !this.ranOnce.has(dispatches[i].pipeline);
      if (!fresh && i < dispatches.length - 1) continue;
      const segment = dispatches.slice(start, i + 1);
      start = i + 1;
      const t0 = performance.now();
      if (fresh) report({ event: 'running', key: `${dispatches[i].kernel} for layer '${dispatches[i].layer}'`, ...counts() });
      await this.guard(where, () => {
        const encoder = this.device.createCommandEncoder({ label: where });
        this.encode(encoder, segment);
        this.device.queue.submit([encoder.finish()]);
      });
      await this.guard(where, () => this.device.queue.onSubmittedWorkDone());
      for (const d of segment) {
        if (!this.ranOnce.has(d.pipeline)) {
          this.ranOnce.add(d.pipeline);
          this.ranCount++;
        }
      }
      if (fresh) report({ event: 'ran', key: `${dispatches[i].kernel} for layer '${dispatches[i].layer}'`, ...counts(), seconds: (performance.now() - t0) / 1000 });
    }
  }

  /** Copies `bytes` from a buffer back to the CPU. */
  async read(src: GPUBuffer, offset: number, bytes: number, where: string): Promise<ArrayBuffer> {
    const staging = this.pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `readback for ${where}`);
    try {
      await this.guard(where, () => {
        const enc = this.device.createCommandEncoder({ label: `readback for ${where}` });
        enc.copyBufferToBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
        this.device.queue.submit([enc.finish()]);
      });
      await this.guard(where, () => staging.mapAsync(GPUMapMode.READ, 0, Math.ceil(bytes / 4) * 4));
      const out = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
      staging.unmap();
      return out;
    } finally {
      this.pool.release(staging);
    }
  }

  async readF32(src: GPUBuffer, offset: number, count: number, where: string): Promise<Float32Array> {
    return new Float32Array(await this.read(src, offset, count * 4, where));
  }

  writeBuffer(dst: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.device.queue.writeBuffer(dst, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  destroy(): void {
    this.pool.destroy();
  }
}
