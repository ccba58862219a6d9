/**
 * Says what a cold start is doing. The first run on a machine compiles every GPU pipeline (on
 * lavapipe, LLVM takes seconds each, minutes in all); the driver caches them, so later runs start
 * in seconds. Nothing is printed while pipelines come quickly (a warm cache); once one has been
 * pending for `delayMs`, a line says that kernels are being compiled and why, followed by a count
 * of pipelines (redrawn in place on a terminal, a line every `interval` seconds otherwise) and a
 * closing line with the time it took.
 */
import type { PipelineProgress } from '../gpu/pipeline-cache.ts';
import { stderrIsTty } from './terminal.ts';

export interface CompileReporterOptions {
  /** Where lines go (default: stderr). */
  readonly write?: (text: string) => void;
  readonly tty?: boolean;
  /** How long a pipeline may be pending before anything is said (default 1500 ms). */
  readonly delayMs?: number;
  /** Seconds between plain lines when not on a terminal (default 10). */
  readonly interval?: number;
}

export interface CompileReporter {
  readonly onProgress: (p: PipelineProgress) => void;
  /** Seconds spent with pipelines pending, all told. */
  readonly seconds: () => number;
}

export function compileReporter(opts: CompileReporterOptions = {}): CompileReporter {
  const write = opts.write ?? ((t: string) => process.stderr.write(t));
  const tty = opts.tty ?? stderrIsTty();
  const delay = opts.delayMs ?? 1500;
  const every = 1000 * (opts.interval ?? 10);
  let requested = 0;
  let ready = 0;
  let busySince: number | null = null;
  let busyTotal = 0;
  let announced = false;
  let shownAt = -Infinity;
  let drawn = false;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const line = () => `compiling GPU kernels: ${ready}/${requested} pipelines ready`;
  const draw = (force = false) => {
    const now = performance.now();
    if (tty) {
      write(`\r\x1b[2K${line()}`);
      drawn = true;
    } else if (force || now - shownAt >= every) {
      write(`${line()}\n`);
      shownAt = now;
    }
  };
  const announce = () => {
    timer = null;
    if (busySince === null || announced) return;
    announced = true;
    write('compiling the GPU kernels this model needs; the first run on a machine takes a while (lavapipe: seconds per '
      + 'pipeline), later runs reuse the driver\'s shader cache and start in seconds\n');
    draw(true);
  };

  return {
    seconds: () => busyTotal + (busySince === null ? 0 : (performance.now() - busySince) / 1000),
    onProgress(p) {
      requested = p.requested;
      ready = p.ready;
      const pending = requested - ready;
      if (pending > 0 && busySince === null) {
        busySince = performance.now();
        if (!announced && !timer) {
          timer = setTimeout(announce, delay);
          timer.unref?.();
        }
      }
      if (announced && p.event !== 'requested') draw();
      if (pending === 0 && busySince !== null) {
        const secs = (performance.now() - busySince) / 1000;
        busyTotal += secs;
        busySince = null;
        if (timer) {
          clearTimeout(timer);
          timer = null;
        }
        if (announced) {
          if (drawn) write('\r\x1b[2K');
          write(`compiled ${ready} GPU pipelines in ${secs.toFixed(0)} s (cached for later runs)\n`);
          drawn = false;
          announced = false;
        }
      }
    },
  };
}
