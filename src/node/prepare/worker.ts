/**
 * The preparation worker (loaded through worker-entry.mjs, which registers tsx first). Takes
 * `{ seq, sample }`, answers `{ type: 'done', seq, result }` with the tensors transferred, not
 * copied. Tasks run concurrently within the worker: one image's decode (sharp, off the JS thread)
 * overlaps another's resampling.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isPrepared } from '../../eval/pairs.ts';
import type { Sample, Skip } from '../../eval/types.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import { prepareSample } from './prepare-sample.ts';

export interface TaskMessage { readonly seq: number; readonly sample: Sample }
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly seq: number; readonly result: WireResult };
/** A PrepareResult without its sample (the main thread has it): less to clone. */
export type WireResult =
  | { readonly input: Float32Array; readonly pairs: { classIndex: number; className: string; mask: Uint8Array }[]; readonly skips: Skip[] }
  | { readonly reason: string; readonly skips: Skip[] };

const port = parentPort;
if (!port) throw new Error('src/node/prepare/worker.ts runs as a worker thread (see prepareSamples)');
const spec = (workerData as { spec: PreprocessSpec }).spec;

port.on('message', async ({ seq, sample }: TaskMessage) => {
  const r = await prepareSample(sample, spec);
  if (isPrepared(r)) {
    const transfer = new Set<ArrayBuffer>([r.input.buffer as ArrayBuffer]);
    for (const p of r.pairs) transfer.add(p.mask.buffer as ArrayBuffer);
    const result: WireResult = { input: r.input, pairs: r.pairs.map((p) => ({ ...p })), skips: [...r.skips] };
    port.postMessage({ type: 'done', seq, result } satisfies WorkerMessage, [...transfer]);
  } else {
    port.postMessage({ type: 'done', seq, result: { reason: r.reason, skips: [...r.skips] } } satisfies WorkerMessage);
  }
});
port.postMessage({ type: 'ready' } satisfies WorkerMessage);
