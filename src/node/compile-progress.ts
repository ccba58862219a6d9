/**
 * Says what a cold start is doing. The first run on a machine compiles every GPU pipeline: some
 * drivers when the pipeline is created, others at its first dispatch (lavapipe: LLVM, seconds
 * each, minutes in all). Drivers cache what they compiled, so later runs start in seconds.
 *
 * Nothing is printed while compiling stays quick (a warm cache). Once the pipelines in flight
 * (being created, or running for the first time) have kept the GPU side busy for `delayMs`, a
 * line says that kernels are being compiled and why, then a count of pipelines that have run
 * (redrawn in place on a terminal, a line every `interval` seconds otherwise), and a closing line
 * with the time it took.
 */
import type { PipelineProgress } from '../gpu/pipeline-cache.ts';
import { stderrIsTty } from './terminal.ts';

export interface CompileReporterOptions {
  /** Where text goes (default: stderr). */
  readonly write?: (text: string) => void;
  readonly tty?: boolean;
  /** How long compiling may go on before anything is said (default 2000 ms). */
  readonly delayMs?: number;
  /** Seconds between plain lines when not on a terminal (default 10). */
  readonly interval?: number;
  /** Quiet time that ends a spell of compiling (default 1000 ms): passes between first runs do not. */
  readonly idleMs?: number;
}

export interface CompileReporter {
  readonly onProgress: (p: PipelineProgress) => void;
  /** Seconds spent compiling (pipelines being created or running their first dispatch), all told. */
  readonly seconds: () => number;
  /** Clears a progress line drawn in place, before other output goes to the terminal (it is redrawn on the next event). */
  readonly clearLine: () => void;
}

/** One exit hook for every reporter of the process. */
const onExit = new Set<() => void>();
let hooked = false;

export function compileReporter(opts: CompileReporterOptions = {}): CompileReporter {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => onExit.forEach((f) => f()));
  }
  const write = opts.write ?? ((t: string) => process.stderr.write(t));
  const tty = opts.tty ?? stderrIsTty();
  const delay = opts.delayMs ?? 2000;
  const every = 1000 * (opts.interval ?? 10);
  let requested = 0;
  let ready = 0;
  let ran = 0;
  let running = 0;
  let busySince: number | null = null;
  let busyTotal = 0;
  let announced = false;
  /** The long explanation is said once per process. */
  let explained = false;
  let shownAt = -Infinity;
  let drawn = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  let idleSince = 0;
  const idleMs = opts.idleMs ?? 1000;

  const line = () => `compiling GPU kernels: ${ready} of ${requested} pipelines created, ${ran} run once`;
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
    if (explained) {
      draw(true);
      return;
    }
    explained = true;
    write('compiling the GPU kernels this model needs: the first run on a machine compiles each pipeline (on lavapipe, '
      + 'seconds each); the driver caches them, so later runs load them quickly\n');
    draw(true);
  };

  // A run that ends while compiling still says what it did (the spell's end waits for quiet).
  onExit.add(() => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
    if (busySince === null) return;
    if (idleSince < busySince) idleSince = performance.now();
    endSpell();
  });

  const reporter: CompileReporter = {
    clearLine: () => {
      if (drawn) write('\r\x1b[2K');
      drawn = false;
    },
    seconds: () => busyTotal + (busySince === null ? 0 : ((idleTimer ? idleSince : performance.now()) - busySince) / 1000),
    onProgress(p) {
      requested = p.requested;
      ready = p.ready;
      ran = p.ran ?? ran;
      if (p.event === 'running') running++;
      if (p.event === 'ran') running = Math.max(0, running - 1);
      const busy = requested - ready > 0 || running > 0;
      if (busy && idleTimer) {
        clearTimeout(idleTimer);
        idleTimer = null;
      }
      if (busy && busySince === null) {
        busySince = performance.now();
        if (!announced && !timer) {
          timer = setTimeout(announce, delay);
          timer.unref?.();
        }
      }
      if (announced && (p.event === 'ran' || p.event === 'ready')) draw();
      if (!busy && busySince !== null && !idleTimer) {
        idleSince = performance.now();
        idleTimer = setTimeout(endSpell, idleMs);
        idleTimer.unref?.();
      }
    },
  };
  return reporter;

  function endSpell(): void {
    idleTimer = null;
    if (busySince === null) return;
    const secs = (idleSince - busySince) / 1000;
    busyTotal += secs;
    busySince = null;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (announced) {
      if (drawn) write('\r\x1b[2K');
      write(`compiling GPU kernels took ${secs.toFixed(0)} s (${ready} pipelines created, ${ran} run once; cached for later runs)\n`);
      drawn = false;
      announced = false;
    }
  }
}
