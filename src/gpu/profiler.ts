import type { Dispatch } from './dispatch.ts';

/** What the profiler needs of the context (which creates profilers, so it is not imported here). */
export interface ProfilerHost {
  readonly device: GPUDevice;
  read(buffer: GPUBuffer, offset: number, size: number, what: string): Promise<ArrayBuffer>;
}

export interface KernelTiming {
  readonly kernel: string;
  readonly layer: string;
  readonly ms: number;
  readonly flops: number;
  readonly bytes: number;
}

/**
 * Timestamp queries around each compute pass. The numbers are the GPU's own clock (no submit or
 * readback latency), which is what per-layer GFLOP/s must be computed from.
 */
export class Profiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private readonly dispatches: Dispatch[] = [];

  constructor(private readonly ctx: ProfilerHost, private readonly capacity: number) {
    this.querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profiler' });
    this.resolveBuf = ctx.device.createBuffer({
      size: 16 * capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profiler resolve',
    });
  }

  next(d: Dispatch): GPUComputePassTimestampWrites {
    const i = this.dispatches.length;
    if (i >= this.capacity) throw new Error('profiler: more dispatches than it was sized for');
    this.dispatches.push(d);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    if (this.dispatches.length) encoder.resolveQuerySet(this.querySet, 0, 2 * this.dispatches.length, this.resolveBuf, 0);
  }

  async read(): Promise<KernelTiming[]> {
    try {
      if (!this.dispatches.length) return [];
      const raw = new BigUint64Array(await this.ctx.read(this.resolveBuf, 0, 16 * this.dispatches.length, 'profiler'));
      return this.dispatches.map((d, i) => ({
        kernel: d.kernel, layer: d.layer, flops: d.flops ?? 0, bytes: d.bytes ?? 0,
        ms: Number(raw[2 * i + 1] - raw[2 * i]) / 1e6,
      }));
    } finally {
      this.querySet.destroy();
      this.resolveBuf.destroy();
    }
  }
}
