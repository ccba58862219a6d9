import type { GpuContext } from './context.ts';

/**
 * Uniform buffers keyed by batch size: shapes depend on the batch only, so each op writes its
 * parameters once per batch size, not once per call.
 */
export class UniformsByBatch {
  private readonly byBatch = new Map<number, GPUBuffer>();

  constructor(private readonly ctx: GpuContext, private readonly label: string, private readonly make: (batch: number) => ArrayLike<number>) {}

  get(batch: number): GPUBuffer {
    let u = this.byBatch.get(batch);
    if (!u) {
      u = this.ctx.uniform(this.make(batch), `${this.label} params (batch ${batch})`);
      this.byBatch.set(batch, u);
    }
    return u;
  }

  destroy(): void {
    for (const u of this.byBatch.values()) u.destroy();
    this.byBatch.clear();
  }
}

/**
 * Uniform buffers keyed by a string the op composes (kernel, chunk size, first sample, ...), for
 * ops whose parameters vary by more than the batch: each written once, on first use, and kept
 * until destroy().
 */
export class KeyedUniforms {
  private readonly byKey = new Map<string, GPUBuffer>();

  constructor(private readonly ctx: GpuContext, private readonly label: string) {}

  get(key: string, make: () => ArrayLike<number>): GPUBuffer {
    let u = this.byKey.get(key);
    if (!u) {
      u = this.ctx.uniform(make(), `${this.label} ${key} params`);
      this.byKey.set(key, u);
    }
    return u;
  }

  destroy(): void {
    for (const u of this.byKey.values()) u.destroy();
    this.byKey.clear();
  }
}
