/**
 * The randomization check's report (browser-safe text): a Markdown table and a JSON object per
 * analyzer and step, and one SVG line plot per similarity (x: layers randomised, y: mean
 * similarity to the original maps, one line per analyzer).
 */
import type { Init } from '../lrp/explainer.ts';
import { linePlotSvg } from './plot.ts';
import type { SanityResult, SanityRow, SanityStat } from './sanity.ts';

/** What the run was, for the report's header. */
export interface SanitySettings {
  readonly model: string;
  readonly inputs: string;
  readonly seed: number;
  readonly init: Init;
  readonly batch: number;
}

export type SanityMetric = 'spearman' | 'ssim';

export const SANITY_METRICS: Readonly<Record<SanityMetric, string>> = {
  spearman: 'Spearman rank correlation',
  ssim: 'SSIM',
};

/** report.json's object. */
export function sanityJson(r: SanityResult, settings: SanitySettings, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    settings,
    maps: 'relevance summed over channels, absolute value, scaled by its maximum into [0, 1]',
    weights: 'normal, mean 0, each layer\'s own standard deviation; biases kept',
    steps: r.steps,
    pairs: r.pairs,
    rows: r.rows,
    ...extra,
  };
}

function stat(s: SanityStat): string {
  if (s.mean === null) return '–';
  return s.stderr === null ? s.mean.toFixed(4) : `${s.mean.toFixed(4)} ± ${s.stderr.toFixed(4)}`;
}

/** The table rows as aligned text lines (what the command prints), header first. */
export function sanityTable(rows: readonly SanityRow[]): string[] {
  const aw = Math.max(8, ...rows.map((r) => r.analyzer.length));
  const lw = Math.max(18, ...rows.map((r) => (r.layer ?? '(none)').length));
  const lines = [`${'analyzer'.padEnd(aw)} ${'step'.padStart(4)} ${'randomised down to'.padEnd(lw)} ${'Spearman ± s.e.'.padStart(17)} ${'SSIM ± s.e.'.padStart(17)} ${'degen.'.padStart(6)}`];
  for (const r of rows) {
    lines.push(`${r.analyzer.padEnd(aw)} ${String(r.step).padStart(4)} ${(r.layer ?? '(none)').padEnd(lw)} ${stat(r.spearman).padStart(17)} ${stat(r.ssim).padStart(17)} ${String(r.degenerate).padStart(6)}`);
  }
  return lines;
}

export function sanityMarkdown(r: SanityResult, settings: SanitySettings): string {
  const lines = [
    '# Model-parameter randomization check',
    '',
    `Model \`${settings.model}\`, ${r.pairs.length} (input, class) pairs from ${settings.inputs}; seed ${settings.seed}, relevance init ${settings.init}.`,
    'Step k: the k linear layers nearest the output get normal weights of mean 0 and each layer\'s own standard deviation (biases kept), cascading down to the layer named.',
    'Similarity to the original model\'s maps (|R| summed over channels, scaled by its maximum into [0, 1]): mean ± standard error over the pairs;',
    'Spearman over average ranks, SSIM as skimage (Gaussian 11×11 window, sigma 1.5, K1 0.01, K2 0.03, data range 1). An analyzer that passes loses similarity as layers are randomised.',
    '',
    '| analyzer | step | randomised down to | Spearman | ± s.e. | SSIM | ± s.e. | pairs | degenerate |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(4));
  for (const row of r.rows) {
    lines.push(`| ${row.analyzer} | ${row.step} | ${row.layer === null ? '(none)' : `\`${row.layer}\``} | ${f(row.spearman.mean)} | ${f(row.spearman.stderr)} | ${f(row.ssim.mean)} | ${f(row.ssim.stderr)} | ${row.spearman.n} | ${row.degenerate} |`);
  }
  lines.push('', `Plots: sanity-spearman.svg, sanity-ssim.svg.`, '');
  return lines.join('\n');
}

/** One similarity's mean against the step, one line per analyzer. */
export function sanitySvg(r: SanityResult, metric: SanityMetric): string {
  const analyzers = [...new Set(r.rows.map((row) => row.analyzer))];
  const last = r.steps[r.steps.length - 1];
  return linePlotSvg({
    title: `Randomization check: ${SANITY_METRICS[metric]} to the original maps`,
    xLabel: `layers randomised, from the output down (step ${last.step}: down to ${last.layer ?? '(none)'})`,
    yLabel: `mean ${SANITY_METRICS[metric]}`,
    xRange: [0, Math.max(1, last.step)],
    yZero: true,
    series: analyzers.map((a) => ({
      name: a,
      points: r.rows.filter((row) => row.analyzer === a).map((row) => [row.step, row[metric].mean] as const),
    })),
  });
}
