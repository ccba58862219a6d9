/**
 * The evaluation report from a run's records: report.json (everything, machine-readable),
 * report.md (the paper's Table 1 layout), the Fig. 3 curve as CSV and SVG. Browser-safe: returns
 * text; writing files is the caller's.
 *
 * Two reports of the same records, skips and settings are identical apart from `timing`: the
 * aggregates are order-independent (see aggregate.ts) and skips are sorted.
 */
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { aggregate, BASELINE, compareIds, type Curve, type ReportRow } from './aggregate.ts';
import { linePlotSvg } from './plot.ts';
import type { PairRecord, Skip } from './types.ts';

export const REPORT_FORMAT = 'webgpu-lrp/eval-report@1';

/** What decides a run's results: equal settings, equal records. */
export interface EvalSettings {
  readonly model: string;
  /** `voc:DIR` or `imagenet:DIR` as given. */
  readonly dataset: string;
  readonly split: string | null;
  readonly labels: string | null;
  /** Analyzer names in the order given, one per composite. */
  readonly analyzers: readonly string[];
  /** The --composite arguments as given (preset names, file names or inline JSON). */
  readonly composites: readonly string[];
  readonly init: 'logit' | 'onehot';
  readonly preprocess: PreprocessSpec;
  readonly skipDifficult: boolean;
  readonly limit: number | null;
  /** `--patterns DIR` of a pattern-attribution analyzer (absent without one). */
  readonly patterns?: string;
}

export interface Shard {
  readonly index: number;
  readonly count: number;
}

export interface Timing {
  readonly seconds: number;
  readonly imagesPerSecond: number | null;
  readonly batch: number | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** Seconds per stage of the loop (decode+preprocess wait, forward, relevance, metrics, write). */
  readonly stages?: Readonly<Record<string, number>>;
}

export interface EvalReport {
  readonly format: string;
  readonly settings: EvalSettings;
  /** null for a whole run (and a merge of all shards). */
  readonly shard: Shard | null;
  /** Images selected (after --limit and --shard), skipped ones included. */
  readonly images: number;
  /** Images with at least one measured pair. */
  readonly imagesMeasured: number;
  /** Distinct (image, class) pairs measured. */
  readonly pairs: number;
  readonly records: number;
  readonly degenerate: { readonly total: number; readonly byAnalyzer: Readonly<Record<string, number>> };
  readonly skipped: { readonly count: number; readonly entries: readonly Skip[] };
  /** Table 1: by mu_w descending, Baseline included. */
  readonly rows: readonly ReportRow[];
  /** Fig. 3: 100 bins of S_in / S_tot over [0, 1], each (lo, hi]. */
  readonly curve: Curve;
  /** Everything here depends on the machine and the moment; the rest of the report does not. */
  readonly timing: Timing | null;
}

export function compareSkips(a: Skip, b: Skip): number {
  return compareIds(a.id, b.id) || (a.classIndex ?? -1) - (b.classIndex ?? -1) || compareIds(a.reason, b.reason);
}

export function skipKey(s: Skip): string {
  return `${s.id}\u0000${s.classIndex ?? ''}\u0000${s.reason}`;
}

export function buildReport(input: {
  settings: EvalSettings;
  shard: Shard | null;
  images: number;
  records: readonly PairRecord[];
  skips: readonly Skip[];
  timing: Timing | null;
}): EvalReport {
  const { settings } = input;
  const agg = aggregate(input.records, settings.analyzers);
  const byAnalyzer: Record<string, number> = {};
  for (const r of agg.rows) if (r.analyzer !== BASELINE) byAnalyzer[r.analyzer] = r.degenerate;
  const skips = [...new Map(input.skips.map((s) => [skipKey(s), normalSkip(s)])).values()].sort(compareSkips);
  return {
    format: REPORT_FORMAT,
    settings,
    shard: input.shard,
    images: input.images,
    imagesMeasured: agg.images,
    pairs: agg.pairs,
    records: input.records.length,
    degenerate: { total: agg.degenerate, byAnalyzer },
    skipped: { count: skips.length, entries: skips },
    rows: agg.rows,
    curve: agg.curve,
    timing: input.timing,
  };
}

/** A skip with its optional fields in one fixed shape, so JSON texts compare equal. */
export function normalSkip(s: Skip): Skip {
  return {
    id: s.id,
    ...(s.classIndex !== undefined ? { classIndex: s.classIndex } : {}),
    ...(s.className !== undefined ? { className: s.className } : {}),
    reason: s.reason,
  };
}

const num = (v: number | null, digits = 4) => (v === null ? '–' : v.toFixed(digits));

export function reportMarkdown(r: EvalReport): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push('# Localisation of relevance in object boxes');
  lines.push('');
  lines.push(`Model \`${s.model}\` on \`${s.dataset}\`${s.split ? ` (split ${s.split})` : ''}${r.shard ? `, shard ${r.shard.index}/${r.shard.count}` : ''}.`);
  lines.push(`Relevance from the true class's ${s.init === 'logit' ? 'logit' : 'one-hot output'}; difficult boxes ${s.skipDifficult ? 'excluded' : 'included'}${s.limit !== null ? `; first ${s.limit} images` : ''}.`);
  lines.push('');
  lines.push(`${r.images} images, ${r.imagesMeasured} measured, ${r.pairs} (image, class) pairs, ${r.records} records; `
    + `${r.degenerate.total} degenerate (R_tot = 0, left out of the means), ${r.skipped.count} skipped.`);
  lines.push('');
  lines.push('| analyzer | mu_w | mu<=0.25 | mu<=0.5 | mu | pairs | degenerate |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const row of r.rows) {
    lines.push(`| ${row.analyzer} | ${num(row.mu_w)} | ${num(row['mu<=0.25'])} | ${num(row['mu<=0.5'])} | ${num(row.mu)} | ${row.pairs} | ${row.degenerate} |`);
  }
  lines.push('');
  lines.push('`mu = R_in / R_tot`, `mu_w = mu * S_tot / S_in`; the `mu<=x` columns average `mu` over the pairs with `S_in / S_tot <= x` '
    + `(${r.rows.find((x) => x.analyzer === BASELINE)?.['n<=0.25'] ?? 0} and ${r.rows.find((x) => x.analyzer === BASELINE)?.['n<=0.5'] ?? 0} pairs). `
    + 'Baseline: uniform relevance, `mu = S_in / S_tot`, `mu_w = 1`. Curve by box size: `curve.csv`, `curve.svg`.');
  lines.push('');
  lines.push('## Settings');
  lines.push('');
  lines.push(`- composites: ${s.analyzers.map((a, i) => (a === s.composites[i] ? `\`${a}\`` : `\`${a}\` (${s.composites[i]})`)).join(', ')}`);
  lines.push(`- preprocessing: \`${JSON.stringify(s.preprocess)}\``);
  if (s.labels) lines.push(`- labels: \`${s.labels}\``);
  if (r.timing) {
    const t = r.timing;
    lines.push(`- time: ${t.seconds.toFixed(1)} s${t.imagesPerSecond !== null ? `, ${t.imagesPerSecond.toFixed(2)} images/s` : ''}${t.batch ? `, batch ${t.batch}` : ''}`);
  }
  if (r.skipped.count) {
    lines.push('');
    lines.push(`## Skipped (${r.skipped.count})`);
    lines.push('');
    const show = r.skipped.entries.slice(0, 50);
    for (const k of show) lines.push(`- ${k.id}${k.className ? ` / ${k.className}` : ''}: ${k.reason}`);
    if (r.skipped.count > show.length) lines.push(`- ... ${r.skipped.count - show.length} more in report.json and skips.jsonl`);
  }
  return `${lines.join('\n')}\n`;
}

function csvNum(v: number | null): string {
  return v === null ? '' : String(v);
}

export function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The Fig. 3 data: one row per bin; per analyzer its mean mu and the pairs that mean is over. */
export function curveCsv(curve: Curve): string {
  const head = ['bin', 'lo', 'hi', 'pairs', ...curve.series.flatMap((s) => [`${s.analyzer} mean_mu`, `${s.analyzer} n`])];
  const lines = [head.map(csvField).join(',')];
  for (let k = 0; k < curve.bins; k++) {
    lines.push([k, curve.lo[k], curve.hi[k], curve.pairs[k], ...curve.series.flatMap((s) => [csvNum(s.mean[k]), s.count[k]])].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** The Fig. 3 plot: mean mu per bin (plotted at the bin centre) per analyzer, Baseline dashed. */
export function curveSvg(curve: Curve, title = 'Relevance inside the box by box size'): string {
  return linePlotSvg({
    title,
    xLabel: 'box size S_in / S_tot',
    yLabel: 'mean mu = R_in / R_tot',
    xRange: [0, 1],
    yRange: [0, 1],
    series: curve.series.map((s) => ({
      name: s.analyzer,
      dashed: s.analyzer === BASELINE,
      points: s.mean.map((m, k) => [(curve.lo[k] + curve.hi[k]) / 2, m] as const),
    })),
  });
}
