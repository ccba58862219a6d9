import type { GpuContext } from './context.ts';

/**
 * One GPU copy of each arrangement of a model's parameters, shared by everything that reads it:
 * the forward ops, every explainer's relevance ops, analyzers that derive tensors of their own
 * from the weights (PatternAttribution's A * W). A copy is named by its layer and a layout key,
 * e.g. `conv kn bk16` (the forward convolution's [g][Kpad][Npad] for a reduction depth of 16) or
 * `conv transposed ...`: the first holder to ask builds and uploads it, later ones get the same
 * buffer. So nine analyzers of one model hold its weights once per layout, not nine times.
 *
 * Decisions:
 * - The key names the layout completely (every parameter the bytes depend on: tile depth, chunk
 *   rows, phases): a build function is only ever called for a key that is not held, and two
 *   callers of one key must build the same bytes. The store does not compare them.
 * - Reference-counted: each acquire returns a lease; the buffer is destroyed when the last lease
 *   is released, so holders (a forward model, its explainers) may be destroyed in any order.
 * - Rule-specific tensors (modified biases, zbox bounds) are not weights of the model and stay
 *   with the op that made them.
 */
export interface SharedBuffer {
  readonly buffer: GPUBuffer;
  /** Bytes uploaded (the buffer may be rounded up to 16). */
  readonly bytes: number;
  /** Gives this holder's reference back; the last one destroys the buffer. Idempotent. */
  release(): void;
}

interface Entry {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  refs: number;
}

export class WeightStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ctx: GpuContext) {}

  /**
   * The shared copy of `layer`'s weights in `layout`, built by `build` if nobody holds it yet.
   * `build` may throw (a layout over a binding limit, say): nothing is stored then.
   */
  acquire(layer: string, layout: string, build: () => ArrayBufferView): SharedBuffer {
    const key = `${layer}\u0000${layout}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const data = build();
      entry = { buffer: this.ctx.upload(data, `${layer}.weight (${layout})`), bytes: data.byteLength, refs: 0 };
      this.entries.set(key, entry);
    }
    const e = entry;
    e.refs++;
    let released = false;
    return {
      buffer: e.buffer,
      bytes: e.bytes,
      release: () => {
        if (released) return;
        released = true;
        if (--e.refs === 0) {
          e.buffer.destroy();
          this.entries.delete(key);
        }
      },
    };
  }

  /** Copies held and their bytes, for reports and tests. */
  get stats(): { copies: number; bytes: number } {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    return { copies: this.entries.size, bytes };
  }

  /** The layouts held, as "layer: layout" lines (for --verbose and memory reports). */
  describe(): string[] {
    return [...this.entries.entries()].map(([k, e]) => `${k.replace('\u0000', ': ')} (${(e.bytes / 2 ** 20).toFixed(1)} MiB, ${e.refs} holder${e.refs === 1 ? '' : 's'})`);
  }
}
