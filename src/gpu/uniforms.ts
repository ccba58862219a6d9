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
