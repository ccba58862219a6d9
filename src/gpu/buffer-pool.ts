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


/**
 * Scratch buffers of one recorded pass, reused from layer to layer. Dispatches run in the order
 * they were recorded, so a layer's scratch is dead once its dispatches are recorded and a later
 * layer's scratch can take it: the pass needs its largest layer's scratch, not the sum. The
 * buffers stay in the pass's lease until that is given back, rather than going back to the pool
 * at once, because run() may submit a pass in segments with awaits between them (first use of a
 * pipeline): another pass of the process could otherwise take a buffer this one has yet to use.
 * A buffer larger than asked for is fine: kernels take their extents from uniforms, never from
 * the binding's size (the pool's size classes rely on that too).
 */
export class ScratchArena {
  private readonly idle: GPUBuffer[] = [];
  private readonly busy: GPUBuffer[] = [];

  constructor(private readonly lease: BufferLease) {}

  acquire(bytes: number, label: string): GPUBuffer {
    let best = -1;
    this.idle.forEach((b, i) => {
      if (b.size >= bytes && (best < 0 || b.size < this.idle[best].size)) best = i;
    });
    const buf = best >= 0 ? this.idle.splice(best, 1)[0] : this.lease.acquire(bytes, label);
    buf.label = label;
    this.busy.push(buf);
    return buf;
  }

  /** Everything taken since the last call is dead from here on in the recording order. */
  recycle(): void {
    this.idle.push(...this.busy);
    this.busy.length = 0;
  }
}
