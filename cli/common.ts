/** What several commands do the same way: class names, composite notes, the --profile table. */
import { addTime, type StageTimes } from '../src/eval/evaluator.ts';
import { readLabels } from '../src/node/labels.ts';

/** The class names of `--labels`, checked against the model's outputs; null without the option. */
export function labelsFor(path: string | undefined, classes: number): string[] | null {
  if (!path) return null;
  const labels = readLabels(path);
  if (labels.length !== classes) {
    throw new Error(`${path} has ${labels.length} class names but the model has ${classes} outputs (is it the right labels file, or the right --output?)`);
  }
  return labels;
}

/** A class for printing: `281 tabby, tabby cat` with labels, `281` without. */
export function className(index: number, labels: readonly string[] | null): string {
  return labels?.[index] !== undefined ? `${index} ${labels[index]}` : String(index);
}

/** Seconds per stage, in the order given, as the table `--profile` prints. */
export function profileTable(stages: Readonly<Record<string, number>>, total: number): string {
  const rows = Object.entries(stages).filter(([, s]) => s > 0);
  const other = Math.max(0, total - rows.reduce((a, [, s]) => a + s, 0));
  if (other >= 0.0005) rows.push(['other', other]);
  const width = Math.max(5, ...rows.map(([k]) => k.length));
  const lines = [`${'stage'.padEnd(width)}  ${'seconds'.padStart(9)}  ${'share'.padStart(6)}`];
  for (const [k, s] of rows) lines.push(`${k.padEnd(width)}  ${s.toFixed(3).padStart(9)}  ${`${((100 * s) / Math.max(total, 1e-9)).toFixed(1)}%`.padStart(6)}`);
  lines.push(`${'total'.padEnd(width)}  ${total.toFixed(3).padStart(9)}`);
  return lines.join('\n');
}

/**
 * Wall-clock stage timer for --profile. With a compile clock (NodeGpu.compile.seconds), time spent
 * compiling GPU pipelines inside a stage (at creation, or at a pipeline's first dispatch) is booked
 * as `compile` instead of the stage's.
 */
export class Stages {
  readonly times: StageTimes = {};
  private readonly t0 = performance.now();

  /** Set once the GPU is open. */
  compileClock: (() => number) | null = null;

  async time<T>(stage: string, fn: () => Promise<T> | T): Promise<T> {
    const t = performance.now();
    const c = this.compileClock?.() ?? 0;
    try {
      return await fn();
    } finally {
      const compile = this.compileClock ? Math.max(0, this.compileClock() - c) : 0;
      const all = (performance.now() - t) / 1000;
      this.add(stage, Math.max(0, all - compile));
      if (compile > 0) this.add('compile', Math.min(all, compile));
    }
  }

  add(stage: string, seconds: number): void {
    addTime(this.times, stage, seconds);
  }

  get total(): number {
    return (performance.now() - this.t0) / 1000;
  }
}
