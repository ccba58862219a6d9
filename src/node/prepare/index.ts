/**
 * Streaming preparation: decode, preprocess and draw the pair masks of a dataset's samples on
 * worker threads, handing them out in input order while up to `prefetch` are prepared ahead, so
 * decoding overlaps the caller's GPU work and memory stays bounded.
 *
 *   const stream = prepareSamples(dataset.samples, spec, { workers: 2 });
 *   for await (const r of stream) {
 *     if (!isPrepared(r)) { record(r.skips); continue; }
 *     ... r.input, r.pairs[k].mask ...
 *   }
 *
 * Work starts when the stream is created (workers boot and the first samples are prepared while
 * the caller loads its model). Leaving the loop early (break, throw) calls return(), which terminates the workers; idle workers
 * are unref'd, so even an iterator dropped without return() does not keep the process alive.
 * A worker that dies after starting turns the samples it held into PrepareFailures and is
 * replaced; one that cannot start at all (a broken install) makes the iteration throw.
 */
import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { failSample, type PrepareResult } from '../../eval/pairs.ts';
import type { Sample } from '../../eval/types.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import { FROM_SOURCE } from '../package-root.ts';
// Also loads sharp on the main thread before any worker does: on glibc Linux a worker that is the
// first to load libvips unloads it when it exits, under the feet of the others (sharp's docs).
import { prepareSample } from './prepare-sample.ts';
import type { TaskMessage, WorkerMessage } from './worker.ts';

export { isPrepared, type PrepareFailure, type PrepareResult } from '../../eval/pairs.ts';
export { prepareSample } from './prepare-sample.ts';

export interface PrepareOptions {
  /** Worker threads; default min(available cores - 1, 4), at least 1. 0 prepares on the calling thread. */
  readonly workers?: number;
  /** Most samples in flight (dispatched and not yet handed out); default 4 per worker (4 with 0 workers). */
  readonly prefetch?: number;
  /** Memory limits of each worker (a worker over them dies: its samples become failures). */
  readonly resourceLimits?: ResourceLimits;
  /** The worker's entry module; default ./worker-entry.mjs. For tests and custom builds. */
  readonly workerEntry?: URL;
}

export interface PrepareStats {
  readonly workers: number;
  readonly prefetch: number;
  /** Samples sent to preparation. */
  dispatched: number;
  /** Results handed to the caller. */
  yielded: number;
  /** The most samples in flight at once (dispatched - yielded); never above prefetch. */
  maxInFlight: number;
  /** Workers that died after starting. */
  crashes: number;
  /** Workers started (replacements included). */
  started: number;
  /** Worker threads alive now (0 once the stream is done or closed). */
  running: number;
}

export interface PrepareStream extends AsyncIterableIterator<PrepareResult> {
  readonly stats: Readonly<PrepareStats>;
  /** Ends the stream and terminates the workers (what return() does). */
  close(): Promise<void>;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism() - 1, 4));
}

export function prepareSamples(samples: Iterable<Sample>, spec: PreprocessSpec, opts: PrepareOptions = {}): PrepareStream {
  const workers = opts.workers ?? defaultWorkerCount();
  if (!(Number.isSafeInteger(workers) && workers >= 0)) throw new Error(`prepareSamples: workers must be a whole number >= 0, got ${workers}`);
  const prefetch = opts.prefetch ?? Math.max(4, 4 * workers);
  if (!(Number.isSafeInteger(prefetch) && prefetch >= 1)) throw new Error(`prepareSamples: prefetch must be a whole number >= 1, got ${prefetch}`);
  return new Stream(samples, spec, workers, prefetch, opts);
}

interface Executor {
  run(sample: Sample): Promise<PrepareResult>;
  close(): Promise<void>;
}

class Stream implements PrepareStream {
  readonly stats: PrepareStats;
  private readonly source: Iterator<Sample>;
  private exhausted = false;
  private closed = false;
  private executor: Executor | null = null;
  /** Dispatched, not yet handed out, in input order. */
  private readonly queue: Promise<PrepareResult>[] = [];
  /** next() calls run one after the other: order and the in-flight bound need that. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    samples: Iterable<Sample>, private readonly spec: PreprocessSpec, workers: number, prefetch: number,
    private readonly opts: PrepareOptions,
  ) {
    this.source = samples[Symbol.iterator]();
    this.stats = { workers, prefetch, dispatched: 0, yielded: 0, maxInFlight: 0, crashes: 0, started: 0, running: 0 };
    // Start now: the workers boot (tsx, sharp: ~0.3-0.5 s each) and the first `prefetch` samples
    // are prepared while the caller is still loading its model. A failure surfaces at next().
    try {
      this.start();
    } catch (e) {
      this.startError = e instanceof Error ? e : new Error(String(e));
    }
  }

  private startError: Error | null = null;

  private start(): void {
    this.fill();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<PrepareResult>> {
    const step = this.chain.then(() => this.step());
    this.chain = step.catch(() => undefined);
    return step;
  }

  async return(): Promise<IteratorResult<PrepareResult>> {
    await this.close();
    return { done: true, value: undefined };
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.queue.length = 0;
      const ex = this.executor;
      this.executor = null;
      if (typeof this.source.return === 'function' && !this.exhausted) this.source.return();
      this.closing = ex ? ex.close() : Promise.resolve();
    }
    return this.closing;
  }

  private closing: Promise<void> | null = null;

  private async step(): Promise<IteratorResult<PrepareResult>> {
    if (this.closed) {
      await this.close(); // the workers are gone when the loop ends
      return { done: true, value: undefined };
    }
    try {
      if (this.startError) throw this.startError;
      this.start();
      const head = this.queue.shift();
      if (head === undefined) {
        await this.close();
        return { done: true, value: undefined };
      }
      const value = await head;
      if (this.closed) return { done: true, value: undefined };
      this.stats.yielded++;
      this.fill(); // keep `prefetch` in flight while the caller works on this one
      if (this.queue.length === 0 && this.exhausted) void this.close(); // free the workers now
      return { done: false, value };
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  private fill(): void {
    const s = this.stats;
    while (!this.closed && !this.exhausted && s.dispatched - s.yielded < s.prefetch) {
      const it = this.source.next();
      if (it.done) {
        this.exhausted = true;
        break;
      }
      // Workers are spawned with the first sample: an empty list starts none.
      this.executor ??= s.workers === 0 ? new InlineExecutor(this.spec) : new WorkerPool(s.workers, this.spec, this.opts, s);
      const p = this.executor.run(it.value);
      p.catch(() => undefined); // a rejection is seen when its turn comes, or never if closed first
      this.queue.push(p);
      s.dispatched++;
      s.maxInFlight = Math.max(s.maxInFlight, s.dispatched - s.yielded);
    }
  }
}

/** workers: 0, on the calling thread (the decode still runs on libuv's pool). */
class InlineExecutor implements Executor {
  constructor(private readonly spec: PreprocessSpec) {}
  run(sample: Sample): Promise<PrepareResult> {
    return prepareSample(sample, this.spec);
  }
  async close(): Promise<void> {}
}

interface Task { readonly sample: Sample; resolve(r: PrepareResult): void; reject(e: Error): void }

interface Slot {
  readonly worker: Worker;
  readonly tasks: Map<number, Task>;
  /** Tasks waiting for the worker's 'ready'. */
  readonly unsent: number[];
  ready: boolean;
  dead: boolean;
  error: Error | null;
}

class WorkerPool implements Executor {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private closing = false;
  private fatal: Error | null = null;
  private readonly entry: URL;

  constructor(n: number, private readonly spec: PreprocessSpec, private readonly opts: PrepareOptions, private readonly stats: PrepareStats) {
    // From the sources the worker needs tsx registered first (worker-entry.mjs); the build is plain JavaScript.
    this.entry = opts.workerEntry ?? new URL(FROM_SOURCE ? './worker-entry.mjs' : './worker.js', import.meta.url);
    for (let i = 0; i < n; i++) this.slots.push(this.spawn());
  }

  run(sample: Sample): Promise<PrepareResult> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.closing) return Promise.resolve(failSample(sample, 'preparation was closed'));
    // Least loaded live worker; a dead one is replaced here, when there is work for it.
    let best = -1;
    for (let i = 0; i < this.slots.length; i++) {
      if (this.slots[i].dead) this.slots[i] = this.spawn();
      if (best < 0 || this.slots[i].tasks.size < this.slots[best].tasks.size) best = i;
    }
    const slot = this.slots[best];
    const seq = this.seq++;
    return new Promise<PrepareResult>((resolve, reject) => {
      if (slot.tasks.size === 0) slot.worker.ref();
      slot.tasks.set(seq, { sample, resolve, reject });
      // Held until the worker says it listens: a message that arrives while its module graph is
      // still loading would reach only listeners attached by then.
      if (slot.ready) slot.worker.postMessage({ seq, sample } satisfies TaskMessage);
      else slot.unsent.push(seq);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const slots = this.slots.splice(0);
    for (const s of slots) this.settleAll(s, (t) => t.resolve(failSample(t.sample, 'preparation was closed')));
    await Promise.all(slots.map((s) => (s.dead ? undefined : s.worker.terminate())));
  }

  private spawn(): Slot {
    const worker = new Worker(this.entry, { workerData: { spec: this.spec }, resourceLimits: this.opts.resourceLimits });
    const slot: Slot = { worker, tasks: new Map(), unsent: [], ready: false, dead: false, error: null };
    this.stats.started++;
    this.stats.running++;
    worker.unref(); // ref'd only while it holds tasks
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        slot.ready = true;
        for (const seq of slot.unsent.splice(0)) {
          const t = slot.tasks.get(seq);
          if (t) worker.postMessage({ seq, sample: t.sample } satisfies TaskMessage);
        }
        return;
      }
      const task = slot.tasks.get(m.seq);
      if (!task) return;
      slot.tasks.delete(m.seq);
      if (slot.tasks.size === 0) worker.unref();
      const r = m.result;
      task.resolve('input' in r ? { sample: task.sample, input: r.input, pairs: r.pairs, skips: r.skips } : { sample: task.sample, reason: r.reason, skips: r.skips });
    });
    worker.on('error', (e: unknown) => {
      slot.error ??= e instanceof Error ? e : new Error(String(e));
    });
    worker.on('exit', (code) => {
      slot.dead = true;
      this.stats.running--;
      if (this.closing) return;
      const cause = slot.error ? `${slot.error.name}: ${slot.error.message}` : `exit code ${code}`;
      if (!slot.ready) {
        // Not one sample's fault: the worker cannot load (tsx, sharp, a syntax error). Stop the run.
        this.fatal ??= new Error(`prepareSamples: a worker thread failed to start (${this.entry.href}): ${cause}`);
        for (const s of this.slots) this.settleAll(s, (t) => t.reject(this.fatal!));
        return;
      }
      this.stats.crashes++;
      const n = slot.tasks.size;
      const others = n > 1 ? ` (it held ${n - 1} other sample(s), dropped likewise)` : '';
      this.settleAll(slot, (t) => t.resolve(failSample(t.sample, `${t.sample.imagePath}: the preparation worker died (${cause}) while preparing this image${others}`)));
    });
    return slot;
  }

  private settleAll(slot: Slot, how: (t: Task) => void): void {
    const tasks = [...slot.tasks.values()];
    slot.tasks.clear();
    tasks.forEach(how);
  }
}
