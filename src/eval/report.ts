/**
 * The evaluation report from a run's records: report.json (everything, machine-readable),
 * report.md (the paper's Table 1 layout), the Fig. 3 curve as CSV and SVG. Browser-safe: returns
 * text; writing files is the caller's.
 *
 * Two reports of the same records, skips and settings are identical apart from `timing`: the
 * aggregates are order-independent (see aggregate.ts) and skips are sorted.
 */
import type { LayerRuleRow } from '../lrp/composite.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { aggregate, BASELINE, compareIds, METRICS, uncertainty, type Curve, type Metric, type ReportRow } from './aggregate.ts';
import { aopcMarkdown, aopcTable, type AopcTable } from './aopc-report.ts';
import { csvField, linePlotSvg } from './plot.ts';
import type { AopcSettings } from './region-perturbation.ts';
import { DEFAULT_BOOTSTRAP, type BootstrapSettings } from './stats.ts';
import type { PairRecord, Skip } from './types.ts';

export const REPORT_FORMAT = 'webgpu-lrp/eval-report@2';

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
  /** The graph output explained (`--output`); null for the model's first. */
  readonly output?: string | null;
  /** `--epsilon`, `--flat-layers`, `--classifier-layers` as given (null: not given). */
  readonly epsilon?: number | null;
  readonly flatLayers?: number | null;
  readonly classifierLayers?: number | null;
  /** The intervals' bootstrap (default 2000 resamples, seed 0). */
  readonly bootstrap?: BootstrapSettings;
  /** `--patterns DIR` of a pattern-attribution analyzer (absent without one). */
  readonly patterns?: string;
  /** `--metrics` when more than `mu` is measured (absent: mu alone). */
  readonly metrics?: readonly string[];
  /** Region perturbation's `--steps`, `--patch`, `--baseline`, when `aopc` is measured. */
  readonly aopc?: AopcSettings;
}

/** What a report must say for a reader to know exactly what was run. */
export interface Provenance {
  /** The model file: its path as given, size and SHA-256 (null for a built-in). */
  readonly model: { readonly path: string; readonly bytes: number | null; readonly sha256: string | null };
  /** Every analyzer's rule per layer, as resolved against the model. */
  readonly analyzers: readonly { readonly name: string; readonly composite: string; readonly rules: readonly LayerRuleRow[] }[];
}

/** The machine and the tool: like `timing`, outside what two equal runs must share. */
export interface Environment {
  readonly tool: { readonly name: string; readonly version: string; readonly commit: string | null; readonly dirty: boolean };
  /** The WebGPU adapters the records were computed on (several after a merge of shards run on different machines). */
  readonly adapters: readonly string[];
}

/** A mean's uncertainty in the report (the mean itself is the row's). */
export interface Interval {
  /** Cluster-robust standard error over images. */
  readonly se: number | null;
  /** 95 % percentile-bootstrap interval over images. */
  readonly ci95: readonly [number, number] | null;
  readonly pairs: number;
  readonly images: number;
}

/** A Table 1 row with the uncertainty of each of its means. */
export interface ReportRowWithIntervals extends ReportRow {
  readonly intervals: Readonly<Record<Metric, Interval>>;
}

/** The Fig. 3 curve with, per analyzer and bin, the 95 % interval of the mean. */
export interface CurveWithBands extends Curve {
  readonly series: (Curve['series'][number] & { readonly ci95Lo: (number | null)[]; readonly ci95Hi: (number | null)[] })[];
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
  /** Table 1: by mu_w descending, Baseline included, each mean with its standard error and 95 % interval. */
  readonly rows: readonly ReportRowWithIntervals[];
  /** Fig. 3: 100 bins of S_in / S_tot over [0, 1], each (lo, hi], with 95 % bands. */
  readonly curve: CurveWithBands;
  /** The bootstrap behind the intervals. */
  readonly bootstrap: BootstrapSettings;
  /** Region perturbation (with `--metrics mu,aopc`): per analyzer and `random`, AOPC-MoRF, AOPC-LeRF, ABPC and the mean curves. */
  readonly aopc?: AopcTable;
  /** The model file's hash and every analyzer's per-layer rules; null when the caller had none to give. */
  readonly provenance: Provenance | null;
  /** The tool and the adapters: depend on the machine, like `timing`. */
  readonly environment: Environment | null;
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
  provenance?: Provenance | null;
  environment?: Environment | null;
}): EvalReport {
  const { settings } = input;
  const bootstrap = settings.bootstrap ?? DEFAULT_BOOTSTRAP;
  const agg = aggregate(input.records, settings.analyzers);
  const unc = uncertainty(input.records, settings.analyzers, bootstrap);
  const rows: ReportRowWithIntervals[] = agg.rows.map((r) => {
    const u = unc.rows.get(r.analyzer)!;
    return {
      ...r,
      intervals: Object.fromEntries(METRICS.map((m) => [m, { se: u[m].se, ci95: u[m].ci95, pairs: u[m].pairs, images: u[m].images }])) as Record<Metric, Interval>,
    };
  });
  const curve: CurveWithBands = {
    ...agg.curve,
    series: agg.curve.series.map((s) => ({ ...s, ci95Lo: unc.bands.get(s.analyzer)!.lo, ci95Hi: unc.bands.get(s.analyzer)!.hi })),
  };
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
    rows,
    curve,
    bootstrap,
    ...(settings.aopc ? { aopc: aopcTable(input.records, settings.analyzers, settings.aopc, bootstrap) } : {}),
    provenance: input.provenance ?? null,
    environment: input.environment ?? null,
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

/** A table cell: `mean ± SE [CI low, CI high]`. */
function cell(mean: number | null, i: Interval | undefined): string {
  if (mean === null) return '–';
  if (!i || i.se === null || i.ci95 === null) return num(mean);
  return `${num(mean)} ± ${num(i.se)} [${num(i.ci95[0])}, ${num(i.ci95[1])}]`;
}

export function reportMarkdown(r: EvalReport): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push('# Localisation of relevance in object boxes');
  lines.push('');
  lines.push(`Model \`${s.model}\`${s.output ? ` (output \`${s.output}\`)` : ''} on \`${s.dataset}\`${s.split ? ` (split ${s.split})` : ''}${r.shard ? `, shard ${r.shard.index}/${r.shard.count}` : ''}.`);
  lines.push(`Relevance from the true class's ${s.init === 'logit' ? 'logit' : 'one-hot output'}; difficult boxes ${s.skipDifficult ? 'excluded' : 'included'}${s.limit !== null ? `; first ${s.limit} images` : ''}.`);
  lines.push('');
  lines.push(`${r.images} images, ${r.imagesMeasured} measured, ${r.pairs} (image, class) pairs, ${r.records} records; `
    + `${r.degenerate.total} degenerate (R_tot = 0, left out of the means), ${r.skipped.count} skipped.`);
  lines.push('');
  lines.push('| analyzer | mu_w | mu<=0.25 | mu<=0.5 | mu | pairs | degenerate |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const row of r.rows) {
    const i = row.intervals;
    lines.push(`| ${row.analyzer} | ${cell(row.mu_w, i?.mu_w)} | ${cell(row['mu<=0.25'], i?.['mu<=0.25'])} | ${cell(row['mu<=0.5'], i?.['mu<=0.5'])} | ${cell(row.mu, i?.mu)} | ${row.pairs} | ${row.degenerate} |`);
  }
  lines.push('');
  const b = r.bootstrap ?? DEFAULT_BOOTSTRAP;
  const base = r.rows.find((x) => x.analyzer === BASELINE);
  lines.push(`Each cell: mean ± standard error [95 % confidence interval]. Both are over images, the independent units (an image's pairs `
    + `share its picture): the standard error is the cluster-robust one, the interval the percentile bootstrap of ${b.resamples} resamples of the `
    + `images (seed ${b.seed}; per-statistic streams, so the numbers reproduce exactly).`);
  lines.push('');
  lines.push('`R_in` and `R_tot` sum positive relevance: `R` is the input relevance summed over colour channels, `R_in` the sum of `max(R, 0)` '
    + 'over the box mask, `R_tot` the sum of `max(R, 0)` over the whole input; `S_in` and `S_tot` count their pixels. '
    + '`mu = R_in / R_tot`, `mu_w = mu * S_tot / S_in`; the `mu<=x` columns average `mu` over the pairs with `S_in / S_tot <= x` '
    + `(${base?.['n<=0.25'] ?? 0} and ${base?.['n<=0.5'] ?? 0} pairs). `
    + 'Baseline: uniform relevance, `mu = S_in / S_tot`, `mu_w = 1`. Curve by box size (Fig. 3), with pairs per bin and 95 % bands: `curve.csv`, `curve.svg`.');
  if (r.aopc && s.aopc) {
    lines.push('');
    lines.push('## Faithfulness: region perturbation (AOPC)');
    lines.push('');
    lines.push(...aopcMarkdown(r.aopc, s.aopc));
  }
  lines.push('');
  lines.push('## Settings');
  lines.push('');
  lines.push(`- composites: ${s.analyzers.map((a, i) => (a === s.composites[i] ? `\`${a}\`` : `\`${a}\` (${s.composites[i]})`)).join(', ')}`);
  const opts = [
    s.epsilon != null ? `--epsilon ${s.epsilon}` : null,
    s.flatLayers ? `--flat-layers ${s.flatLayers}` : null,
    s.classifierLayers ? `--classifier-layers ${s.classifierLayers}` : null,
  ].filter(Boolean);
  if (opts.length) lines.push(`- composite options: ${opts.join(', ')}`);
  lines.push(`- preprocessing: \`${JSON.stringify(s.preprocess)}\``);
  if (s.labels) lines.push(`- labels: \`${s.labels}\``);
  if (r.provenance) {
    const m = r.provenance.model;
    lines.push(`- model file: \`${m.path}\`${m.sha256 ? `, ${m.bytes} bytes, SHA-256 \`${m.sha256}\`` : ' (built-in)'}`);
  }
  if (r.environment) {
    const t = r.environment.tool;
    lines.push(`- tool: ${t.name} ${t.version}${t.commit ? ` (commit ${t.commit}${t.dirty ? ', with uncommitted changes' : ''})` : ''}`);
    lines.push(`- adapter: ${r.environment.adapters.join('; ') || 'unknown'}`);
  }
  if (r.timing) {
    const t = r.timing;
    lines.push(`- time: ${t.seconds.toFixed(1)} s${t.imagesPerSecond !== null ? `, ${t.imagesPerSecond.toFixed(2)} images/s` : ''}${t.batch ? `, batch ${t.batch}` : ''}`);
  }
  if (r.provenance?.analyzers.length) {
    lines.push('');
    lines.push('## Rules per layer');
    for (const a of r.provenance.analyzers) {
      lines.push('');
      lines.push(`\`${a.name}\`${a.composite !== a.name ? ` (${a.composite})` : ''}:`);
      lines.push('');
      lines.push('| # | layer | kind | rule |');
      lines.push('|---|---|---|---|');
      for (const l of a.rules) if (l.rule !== 'pass') lines.push(`| ${l.linear ?? ''} | ${l.layer} | ${l.kind} | ${l.rule} |`);
    }
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


/**
 * The Fig. 3 data in long format, one row per analyzer and bin:
 * `analyzer,bin_lo,bin_hi,pairs,mean_mu,ci_lo,ci_hi` (pairs: the non-degenerate pairs in the
 * bin's mean; empty fields where there is no mean or no interval).
 */
export function curveCsv(curve: Curve | CurveWithBands): string {
  const lines = ['analyzer,bin_lo,bin_hi,pairs,mean_mu,ci_lo,ci_hi'];
  for (const s of curve.series) {
    const lo = 'ci95Lo' in s ? s.ci95Lo : null;
    const hi = 'ci95Hi' in s ? s.ci95Hi : null;
    for (let k = 0; k < curve.bins; k++) {
      lines.push([csvField(s.analyzer), curve.lo[k], curve.hi[k], s.count[k], csvNum(s.mean[k]), csvNum(lo?.[k] ?? null), csvNum(hi?.[k] ?? null)].join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The Fig. 3 plot: mean mu per bin (at the bin centre) per analyzer with its 95 % band, Baseline
 * dashed, and under the curves a histogram of the (image, class) pairs per bin.
 */
export function curveSvg(curve: Curve | CurveWithBands, title = 'Relevance inside the box by box size'): string {
  const centre = (k: number) => (curve.lo[k] + curve.hi[k]) / 2;
  return linePlotSvg({
    title,
    xLabel: 'box size S_in / S_tot',
    yLabel: 'mean mu = R_in / R_tot',
    xRange: [0, 1],
    yRange: [0, 1],
    series: curve.series.map((s) => ({
      name: s.analyzer,
      dashed: s.analyzer === BASELINE,
      points: s.mean.map((m, k) => [centre(k), m] as const),
      band: 'ci95Lo' in s && s.analyzer !== BASELINE ? s.ci95Lo.map((lo, k) => [centre(k), lo, s.ci95Hi[k]] as const) : undefined,
    })),
    histogram: { label: 'pairs per bin', bins: curve.pairs.map((n, k) => [curve.lo[k], curve.hi[k], n] as const) },
  });
}
