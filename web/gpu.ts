/**
 * WebGPU start-up in the page: the library's `Lrp.create` (navigator.gpu, the adapter's real
 * limits, the package's embedded WGSL), after the one check only a page can make, and with the
 * device's loss reported to the page.
 */
import { Lrp, NoWebGpuError, type PipelineProgress } from '../src/index.ts';

export async function startLrp(opts: {
  onLost?: (message: string) => void;
  /** Pipeline compilation progress, for the page's status line. */
  onPipelineProgress?: (p: PipelineProgress) => void;
} = {}): Promise<Lrp> {
  if (!window.isSecureContext) {
    throw new NoWebGpuError(`WebGPU needs a secure context: open this page as http://127.0.0.1:PORT/ or http://localhost:PORT/, not ${location.origin}.`);
  }
  const lrp = await Lrp.create({ onPipelineProgress: opts.onPipelineProgress });
  lrp.device.lost.then((lost) => {
    if (lost.reason !== 'destroyed') opts.onLost?.(lost.message || 'unknown reason');
  });
  return lrp;
}
