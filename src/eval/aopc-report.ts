/**
 * The region-perturbation part of the report (shared/docs/evaluation-protocol.md, "Faithfulness"),
 * in float64 from the records' logits alone, so that `lrp merge` and a resumed run recompute it
 * like the localisation table: per analyzer and for the random order, mean AOPC-MoRF, AOPC-LeRF
 * and ABPC = AOPC-MoRF - AOPC-LeRF, each with the cluster-robust standard error over images and the
 * 95 % percentile-bootstrap interval of Table 1 (stats.ts; statistic keys `ANALYZER/aopc-morf`,
 * `ANALYZER/aopc-lerf`, `ANALYZER/abpc`), and the mean curves f(x_0) - f(x_k), k = 0..L.
 *
 * Decisions: every record of an analyzer counts (R_tot = 0 does not stop a map from ordering
 * patches: its ties give row-major orders). The random row is taken over the pairs whose record
 * keeps the random order's curves (one per pair, see types.ts). Records are read in canonical
 * order and means are Neumaier sums, so a report does not depend on the order records were written.
 */
import { sortRecords, Sum } from './aggregate.ts';
import { aopc, type AopcSettings } from './region-perturbation.ts';
import { ClusterList, clusterInterval, DEFAULT_BOOTSTRAP, type BootstrapSettings, type MeanInterval } from './stats.ts';
import type { PairRecord } from './types.ts';
import { COLOURS, csvField, GREY, linePlotSvg, type Series } from './plot.ts';

/** The row of the random order in the report (no analyzer may take the name in a run with aopc). */
export const RANDOM_ROW = 'random';

/** A mean with the uncertainty Table 1 gives. */
export interface AopcStat {
  readonly mean: number | null;
  /** Cluster-robust standard error over images (null below two images). */
  readonly stderr: number | null;
  /** 95 % percentile-bootstrap interval over images (null below two images). */
  readonly ci95: readonly [number, number] | null;
  readonly pairs: number;
  readonly images: number;
}

export interface AopcRow {
  /** Mean AOPC removing the most relevant patches first (higher is better). */
  readonly morf: AopcStat;
  /** Mean AOPC removing the least relevant first (lower is better). */
  readonly lerf: AopcStat;
  /** Mean AOPC-MoRF - AOPC-LeRF per pair (higher is better). */
  readonly abpc: AopcStat;
  /** The mean curves f(x_0) - f(x_k), k = 0..L. */
  readonly curve: { readonly morf: readonly (number | null)[]; readonly lerf: readonly (number | null)[] };
}

/** Per analyzer in the run's order, then `random`. */
export type AopcTable = Readonly<Record<string, AopcRow>>;

const stat = (m: MeanInterval): AopcStat => ({ mean: m.mean, stderr: m.se, ci95: m.ci95, pairs: m.pairs, images: m.images });

function checkCurve(curve: readonly number[] | undefined, steps: number, what: string): readonly number[] {
  if (!Array.isArray(curve) || curve.length !== steps + 1 || !curve.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`${what}: expected ${steps + 1} finite logits (--steps ${steps}), got ${Array.isArray(curve) ? `${curve.length} values` : JSON.stringify(curve)}`);
  }
  return curve;
}

/** The AOPC table from the records of a run that measured region perturbation with `settings`. */
export function aopcTable(records: readonly PairRecord[], analyzers: readonly string[], settings: AopcSettings, bootstrap: BootstrapSettings = DEFAULT_BOOTSTRAP): AopcTable {
  if (analyzers.includes(RANDOM_ROW)) throw new Error(`an analyzer is named '${RANDOM_ROW}', the name of the random order's row: rename it (a composite's "name")`);
  const L = settings.steps;
  const names = [...analyzers, RANDOM_ROW];
  const acc = new Map(names.map((n) => [n, {
    morf: new ClusterList(), lerf: new ClusterList(), abpc: new ClusterList(),
    curveM: Array.from({ length: L + 1 }, () => new Sum()), curveL: Array.from({ length: L + 1 }, () => new Sum()),
  }]));
  const take = (name: string, image: number, morf: readonly number[], lerf: readonly number[]) => {
    const a = acc.get(name)!;
    const m = aopc(morf);
    const l = aopc(lerf);
    a.morf.add(image, m);
    a.lerf.add(image, l);
    a.abpc.add(image, m - l);
    for (let k = 0; k <= L; k++) {
      a.curveM[k].add(morf[0] - morf[k]);
      a.curveL[k].add(lerf[0] - lerf[k]);
    }
  };
  const randomPairs = new Set<string>();
  let image = -1;
  let lastId: string | null = null;
  for (const r of sortRecords(records, analyzers)) {
    if (r.image !== lastId) {
      image++;
      lastId = r.image;
    }
    const what = `record of ${r.image} ${r.class} (class ${r.classIndex}) for ${r.analyzer}`;
    if (!r.aopc) throw new Error(`${what} has no region-perturbation curves, though the run measures aopc`);
    take(r.analyzer, image, checkCurve(r.aopc.morf, L, `${what}, MoRF`), checkCurve(r.aopc.lerf, L, `${what}, LeRF`));
    const pk = `${r.image}\u0000${r.classIndex}`;
    if (r.aopc.random && !randomPairs.has(pk)) {
      randomPairs.add(pk);
      take(RANDOM_ROW, image, checkCurve(r.aopc.random.morf, L, `${what}, random order`), checkCurve(r.aopc.random.lerf, L, `${what}, random order reversed`));
    }
  }
  return Object.fromEntries(names.map((n) => {
    const a = acc.get(n)!;
    const row: AopcRow = {
      morf: stat(clusterInterval(a.morf, `${n}/aopc-morf`, bootstrap)),
      lerf: stat(clusterInterval(a.lerf, `${n}/aopc-lerf`, bootstrap)),
      abpc: stat(clusterInterval(a.abpc, `${n}/abpc`, bootstrap)),
      curve: { morf: a.curveM.map((s) => s.mean), lerf: a.curveL.map((s) => s.mean) },
    };
    return [n, row];
  }));
}


/** The mean curves: MoRF solid, LeRF dashed, one colour per analyzer, the random order in grey. */
export function aopcSvg(table: AopcTable, settings: AopcSettings): string {
  const series: Series[] = [];
  Object.entries(table).forEach(([name, row], i) => {
    const colour = name === RANDOM_ROW ? GREY : COLOURS[i % COLOURS.length];
    const pts = (c: readonly (number | null)[]) => c.map((v, k) => [k, v] as const);
    series.push({ name: `${name} MoRF`, points: pts(row.curve.morf), colour });
    series.push({ name: `${name} LeRF`, points: pts(row.curve.lerf), colour, dashed: true });
  });
  return linePlotSvg({
    title: `Region perturbation: ${settings.patch}×${settings.patch} patches, baseline ${settings.baseline}`,
    xLabel: 'patches removed k',
    yLabel: 'mean f(x_0) - f(x_k)',
    xRange: [0, settings.steps],
    yZero: true,
    series,
    height: Math.max(480, 100 + 20 * series.length),
  });
}

/** The mean curves in long format: `analyzer,order,k,mean_drop`. */
export function aopcCsv(table: AopcTable): string {
  const lines = ['analyzer,order,k,mean_drop'];
  for (const [name, row] of Object.entries(table)) {
    for (const [order, c] of [['morf', row.curve.morf], ['lerf', row.curve.lerf]] as const) {
      c.forEach((v, k) => lines.push(`${csvField(name)},${order},${k},${v === null ? '' : v}`));
    }
  }
  return `${lines.join('\n')}\n`;
}

const num = (v: number | null) => (v === null ? '–' : v.toFixed(4));
const cell = (s: AopcStat) => (s.mean === null ? '–' : s.stderr === null || s.ci95 === null ? num(s.mean) : `${num(s.mean)} ± ${num(s.stderr)} [${num(s.ci95[0])}, ${num(s.ci95[1])}]`);

/** The AOPC table in markdown, rows in the run's analyzer order, the random order last. */
export function aopcMarkdown(table: AopcTable, settings: AopcSettings): string[] {
  const lines = ['| analyzer | AOPC-MoRF | AOPC-LeRF | ABPC | pairs |', '|---|---|---|---|---|'];
  for (const [name, row] of Object.entries(table)) lines.push(`| ${name} | ${cell(row.morf)} | ${cell(row.lerf)} | ${cell(row.abpc)} | ${row.morf.pairs} |`);
  lines.push('');
  lines.push(`Per (image, class) pair the class logit f is measured on x_0, the clean input, and on x_k, the input with its first k `
    + `${settings.patch}×${settings.patch} patches (the last row and column of patches cut short by the edge) replaced in every channel by the `
    + `baseline \`${settings.baseline}\`, k = 1..${settings.steps}; patches ordered by their summed relevance, most relevant first (MoRF) or least `
    + 'relevant first (LeRF), ties in row-major order. `AOPC = 1/(L+1) sum_k (f(x_0) - f(x_k))`, k = 0..L; `ABPC = AOPC-MoRF - AOPC-LeRF`. '
    + `\`${RANDOM_ROW}\`: patches in a random order (seed 0, per image) and its reverse, the baseline every analyzer must beat. `
    + 'Cells as in the table above; curves in `aopc.svg`, `aopc.csv`.');
  return lines;
}
