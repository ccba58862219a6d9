/**
 * Reuses GPU buffers between batches: activations of the same model and batch size come back in
 * the same sizes, so after the first batch nothing is allocated. Sizes round up to a size class
 * so near-equal requests share buffers too.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  private bytesLive = 0;
  private bytesFree = 0;
  peakBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  static sizeClass(bytes: number): number {
    const min = 256;
    if (bytes <= min) return min;
    // Classes 1, 1.25, 1.5, 1.75 x 2^k: at most 25% slack.
    const pow = 2 ** Math.floor(Math.log2(bytes));
    const step = pow / 4;
    return Math.ceil(bytes / step) * step;
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    let buf = list?.pop();
    if (buf) {
      this.bytesFree -= size;
      buf.label = label;
    } else {
      buf = this.device.createBuffer({ size, usage, label });
    }
    this.live.add(buf);
    this.bytesLive += size;
    this.peakBytes = Math.max(this.peakBytes, this.bytesLive);
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return;
    this.bytesLive -= buf.size;
    this.bytesFree += buf.size;
    const key = `${buf.usage}:${buf.size}`;
    (this.free.get(key) ?? this.free.set(key, []).get(key)!).push(buf);
  }

  /** Bytes handed out now and bytes kept for reuse. */
  get stats(): { live: number; cached: number; peak: number } {
    return { live: this.bytesLive, cached: this.bytesFree, peak: this.peakBytes };
  }

  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.bytesFree = 0;
  }

  destroy(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.bytesLive = 0;
  }
}

/**
 * Buffers taken from the pool together and given back together: one batch's activations, one
 * relevance pass, one layer's scratch. Giving back twice is harmless.
 */
export class BufferLease {
  private readonly taken: GPUBuffer[] = [];

  constructor(private readonly pool: BufferPool, private readonly usage: GPUBufferUsageFlags) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const b = this.pool.acquire(bytes, this.usage, label);
    this.taken.push(b);
    return b;
  }

  release(): void {
    for (const b of this.taken) this.pool.release(b);
    this.taken.length = 0;
  }
}

