/**
 * Progress of a long run on stderr: a bar redrawn in place with images/s and ETA when stderr is a
 * terminal, plain lines (at most one every `interval` seconds, and the last) otherwise, so logs of
 * a 50,000-image run stay readable.
 */
import { stderrIsTty } from '../terminal.ts';

export interface ProgressOptions {
  readonly total: number;
  readonly label: string;
  readonly stream?: NodeJS.WriteStream;
  /** Default: the stream's isTTY. */
  readonly tty?: boolean;
  /** Seconds between plain lines (default 10). */
  readonly interval?: number;
  /** What is counted, plural, and its rate's unit (default `images`, `img/s`). */
  readonly unit?: readonly [string, string];
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly start = performance.now();
  private lastDraw = -Infinity;
  private done = 0;
  private extra = '';
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? stderrIsTty(this.stream);
  }

  /** `done` images of `total` finished; `extra` is appended (pairs, skips). */
  update(done: number, extra = ''): void {
    this.done = done;
    this.extra = extra;
    const now = performance.now();
    const every = this.tty ? 100 : 1000 * (this.opts.interval ?? 10);
    if (now - this.lastDraw >= every || (this.tty && done >= this.opts.total)) this.draw(now);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.draw(performance.now(), true);
    if (this.tty) this.stream.write('\n');
  }

  private draw(now: number, final = false): void {
    this.lastDraw = now;
    const { total, label } = this.opts;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const eta = rate > 0 ? (total - this.done) / rate : NaN;
    const [what, per] = this.opts.unit ?? ['images', 'img/s'];
    const stats = `${this.done}/${total} ${what}  ${rate.toFixed(2)} ${per}  ${final ? `in ${formatDuration(secs)}` : `ETA ${formatDuration(eta)}`}${this.extra ? `  ${this.extra}` : ''}`;
    if (this.tty) {
      const width = 24;
      const filled = total > 0 ? Math.round((this.done / total) * width) : width;
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      this.stream.write(`\r\x1b[2K${label} ${bar} ${stats}`);
    } else {
      this.stream.write(`${label}: ${stats}\n`);
    }
  }
}
