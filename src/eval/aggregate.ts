/**
 * The paper's aggregates (shared/docs/evaluation-protocol.md, "The report"), in float64 from the
 * per-pair records, so that a report can always be recomputed from pairs.jsonl.
 *
 * Decisions where the protocol is silent:
 * - Box-size fractions are compared exactly, in integers: `S_in / S_tot <= 0.25` is
 *   `4 S_in <= S_tot`, `<= 0.5` is `2 S_in <= S_tot`. A pair whose fraction equals a threshold
 *   counts as at or below it.
 * - The 100 bins of the Fig. 3 curve are closed on the right: bin k (0-based) holds the
 *   fractions in `(k/100, (k+1)/100]`, i.e. k = ceil(100 S_in / S_tot) - 1 in exact integer
 *   arithmetic (bin 0 also takes a fraction of exactly 0, bin 99 ends at 1.0 included). So
 *   bins 0..24 hold exactly the pairs of the `mu<=0.25` column and bins 0..49 those of `mu<=0.5`.
 * - A degenerate pair (R_tot = 0: `mu` null) is left out of every mean of its analyzer, also
 *   out of the curve's mean; it still counts in the bin's pair count.
 * - The Baseline row is computed over the distinct (image, class) pairs that have a record of any
 *   analyzer: mu = S_in / S_tot, mu_w = 1; it has no degenerate pairs.
 * - Means are Neumaier-compensated sums over the records in canonical order (image id, class
 *   index, analyzer order), so a report does not depend on the order the records were written in.
 * - Rows are ordered by mu_w descending; analyzers whose every pair is degenerate (mu_w null)
 *   come last; ties keep the order the analyzers were given in, Baseline after the analyzers.
 */
import type { PairRecord } from './types.ts';
import type { PairSums } from './masked-sums.ts';
import { ClusterList, clusterInterval, DEFAULT_BOOTSTRAP, type BootstrapSettings, type MeanInterval } from './stats.ts';

export const BINS = 100;
export const BASELINE = 'Baseline';

/** The record of one pair from its sums; mu and mu_w are null when R_tot is not positive (degenerate). */
export function pairRecord(
  pair: { readonly image: string; readonly class: string; readonly classIndex: number; readonly analyzer: string },
  sums: PairSums,
): PairRecord {
  const { S_in, S_tot, R_in, R_tot } = sums;
  if (!(S_in > 0)) throw new Error(`${pair.image} ${pair.class}: empty mask (S_in = 0) has no mu_w`);
  const ok = R_tot > 0 && Number.isFinite(R_tot) && Number.isFinite(R_in);
  const mu = ok ? R_in / R_tot : null;
  return {
    image: pair.image, class: pair.class, classIndex: pair.classIndex, analyzer: pair.analyzer,
    S_in, S_tot, R_in, R_tot, mu, mu_w: mu === null ? null : mu * S_tot / S_in,
  };
}

/** Curve bin of a box-size fraction S_in / S_tot: k with k/100 < S_in/S_tot <= (k+1)/100 (exact). */
export function sizeBin(S_in: number, S_tot: number, bins = BINS): number {
  if (!(S_tot > 0) || S_in < 0 || S_in > S_tot) throw new Error(`bad box size ${S_in}/${S_tot}`);
  if (S_in === 0) return 0;
  // ceil(bins * S_in / S_tot) - 1, in integers (exact while bins * S_in < 2^53).
  const k = Math.floor((bins * S_in + S_tot - 1) / S_tot) - 1;
  return Math.min(bins - 1, Math.max(0, k));
}

/** S_in / S_tot <= num / den, exactly. */
export function fractionAtMost(S_in: number, S_tot: number, num: number, den: number): boolean {
  return den * S_in <= num * S_tot;
}

/** Neumaier-compensated running sum. */
export class Sum {
  private s = 0;
  private c = 0;
  n = 0;

  add(v: number): void {
    const t = this.s + v;
    this.c += Math.abs(this.s) >= Math.abs(v) ? (this.s - t) + v : (v - t) + this.s;
    this.s = t;
    this.n++;
  }

  get value(): number {
    return this.s + this.c;
  }

  get mean(): number | null {
    return this.n === 0 ? null : this.value / this.n;
  }
}

/** One analyzer's row of the paper's Table 1: its mean metrics over the pairs measured. */
export interface ReportRow {
  readonly analyzer: string;
  /** Pairs measured (degenerate included). */
  readonly pairs: number;
  readonly degenerate: number;
  readonly mu_w: number | null;
  readonly 'mu<=0.25': number | null;
  readonly 'mu<=0.5': number | null;
  readonly mu: number | null;
  /** Non-degenerate pairs in each mean. */
  readonly n: number;
  readonly 'n<=0.25': number;
  readonly 'n<=0.5': number;
}

/** The paper's Fig. 3: mean mu per box-size bin (the box's share of the image), per analyzer. */
export interface Curve {
  readonly bins: number;
  /** Bin k covers (lo[k], hi[k]]; bin 0 includes 0. */
  readonly lo: number[];
  readonly hi: number[];
  /** Distinct (image, class) pairs per bin. */
  readonly pairs: number[];
  /** Per analyzer (Baseline included): mean mu per bin (null where no non-degenerate pair) and its count. */
  readonly series: { readonly analyzer: string; readonly mean: (number | null)[]; readonly count: number[] }[];
}

/** Everything a report shows, computed from the per-pair records. */
export interface Aggregates {
  readonly rows: ReportRow[];
  readonly curve: Curve;
  /** Distinct (image, class) pairs measured. */
  readonly pairs: number;
  readonly images: number;
  readonly degenerate: number;
}

const pairKey = (r: { image: string; classIndex: number }) => `${r.image}\u0000${r.classIndex}`;

/** Code-point order of strings (not locale order), the order of sample ids everywhere. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts records canonically: image id, class index, then the analyzers' given order. */
export function sortRecords<T extends PairRecord>(records: readonly T[], analyzers: readonly string[]): T[] {
  const order = new Map(analyzers.map((a, i) => [a, i]));
  for (const r of records) if (!order.has(r.analyzer)) throw new Error(`record of ${r.image} ${r.class}: unknown analyzer '${r.analyzer}' (the run has ${analyzers.join(', ')})`);
  return [...records].sort((a, b) => compareIds(a.image, b.image) || a.classIndex - b.classIndex || order.get(a.analyzer)! - order.get(b.analyzer)!);
}

/**
 * Every aggregate of the report from the records of a run. `analyzers` gives the analyzer order
 * (ties and columns); each record's analyzer must be one of them.
 */
export function aggregate(records: readonly PairRecord[], analyzers: readonly string[], bins = BINS): Aggregates {
  const sorted = sortRecords(records, analyzers);
  const names = [...analyzers, BASELINE];
  const acc = new Map(names.map((a) => [a, {
    pairs: 0, degenerate: 0, mu_w: new Sum(), le25: new Sum(), le50: new Sum(), mu: new Sum(),
    bin: Array.from({ length: bins }, () => new Sum()),
  }]));
  const seenRecords = new Set<string>();
  const seenPairs = new Set<string>();
  const seenImages = new Set<string>();
  const binPairs = new Array<number>(bins).fill(0);
  const take = (name: string, r: { S_in: number; S_tot: number }, mu: number | null, muW: number | null) => {
    const a = acc.get(name)!;
    a.pairs++;
    if (mu === null || muW === null) {
      a.degenerate++;
      return;
    }
    a.mu_w.add(muW);
    a.mu.add(mu);
    if (fractionAtMost(r.S_in, r.S_tot, 1, 4)) a.le25.add(mu);
    if (fractionAtMost(r.S_in, r.S_tot, 1, 2)) a.le50.add(mu);
    a.bin[sizeBin(r.S_in, r.S_tot, bins)].add(mu);
  };
  for (const r of sorted) {
    const key = `${pairKey(r)}\u0000${r.analyzer}`;
    if (seenRecords.has(key)) throw new Error(`two records of ${r.image} ${r.class} (class ${r.classIndex}) for ${r.analyzer}`);
    seenRecords.add(key);
    take(r.analyzer, r, r.mu, r.mu_w);
    const pk = pairKey(r);
    if (!seenPairs.has(pk)) {
      seenPairs.add(pk);
      seenImages.add(r.image);
      binPairs[sizeBin(r.S_in, r.S_tot, bins)]++;
      take(BASELINE, r, r.S_in / r.S_tot, 1);
    }
  }
  const rows: ReportRow[] = names.map((analyzer) => {
    const a = acc.get(analyzer)!;
    return {
      analyzer, pairs: a.pairs, degenerate: a.degenerate,
      mu_w: a.mu_w.mean, 'mu<=0.25': a.le25.mean, 'mu<=0.5': a.le50.mean, mu: a.mu.mean,
      n: a.mu.n, 'n<=0.25': a.le25.n, 'n<=0.5': a.le50.n,
    };
  });
  const rank = new Map(names.map((a, i) => [a, i]));
  rows.sort((x, y) => {
    if (x.mu_w === null || y.mu_w === null) return (x.mu_w === null ? 1 : 0) - (y.mu_w === null ? 1 : 0) || rank.get(x.analyzer)! - rank.get(y.analyzer)!;
    return y.mu_w - x.mu_w || rank.get(x.analyzer)! - rank.get(y.analyzer)!;
  });
  const curve: Curve = {
    bins,
    lo: Array.from({ length: bins }, (_, k) => k / bins),
    hi: Array.from({ length: bins }, (_, k) => (k + 1) / bins),
    pairs: binPairs,
    series: names.map((analyzer) => {
      const a = acc.get(analyzer)!;
      return { analyzer, mean: a.bin.map((s) => s.mean), count: a.bin.map((s) => s.n) };
    }),
  };
  const degenerate = rows.reduce((s, r) => s + r.degenerate, 0);
  return { rows, curve, pairs: binPairs.reduce((s, n) => s + n, 0), images: seenImages.size, degenerate };
}

// ---------------------------------------------------------------------------------------------
// Uncertainty (stats.ts): standard errors and bootstrap intervals over images
// ---------------------------------------------------------------------------------------------

export const METRICS = ['mu_w', 'mu<=0.25', 'mu<=0.5', 'mu'] as const;
export type Metric = (typeof METRICS)[number];

export interface Uncertainty {
  /** Per analyzer (Baseline included), per metric. */
  readonly rows: ReadonlyMap<string, Readonly<Record<Metric, MeanInterval>>>;
  /** Per analyzer, per curve bin: the 95 % interval of the bin's mean mu (null where fewer than two images). */
  readonly bands: ReadonlyMap<string, { readonly lo: (number | null)[]; readonly hi: (number | null)[] }>;
}

/**
 * The standard errors and 95 % bootstrap intervals of every mean of the report (stats.ts), over
 * the same pairs as `aggregate`: per analyzer and metric, and per analyzer and curve bin. Each
 * statistic's draws are seeded by `settings.seed` and the key `ANALYZER/METRIC` (`ANALYZER/bin K`).
 */
export function uncertainty(records: readonly PairRecord[], analyzers: readonly string[], settings: BootstrapSettings = DEFAULT_BOOTSTRAP, bins = BINS): Uncertainty {
  const sorted = sortRecords(records, analyzers);
  const names = [...analyzers, BASELINE];
  const acc = new Map(names.map((a) => [a, { metrics: METRICS.map(() => new ClusterList()), bins: new Map<number, ClusterList>() }]));
  const seenPairs = new Set<string>();
  let image = -1;
  let lastId: string | null = null;
  const take = (name: string, r: { S_in: number; S_tot: number }, mu: number | null, muW: number | null) => {
    if (mu === null || muW === null) return;
    const a = acc.get(name)!;
    a.metrics[0].add(image, muW);
    if (fractionAtMost(r.S_in, r.S_tot, 1, 4)) a.metrics[1].add(image, mu);
    if (fractionAtMost(r.S_in, r.S_tot, 1, 2)) a.metrics[2].add(image, mu);
    a.metrics[3].add(image, mu);
    const k = sizeBin(r.S_in, r.S_tot, bins);
    let list = a.bins.get(k);
    if (!list) a.bins.set(k, (list = new ClusterList()));
    list.add(image, mu);
  };
  for (const r of sorted) {
    if (r.image !== lastId) {
      image++;
      lastId = r.image;
    }
    take(r.analyzer, r, r.mu, r.mu_w);
    const pk = pairKey(r);
    if (!seenPairs.has(pk)) {
      seenPairs.add(pk);
      take(BASELINE, r, r.S_in / r.S_tot, 1);
    }
  }
  const rows = new Map<string, Record<Metric, MeanInterval>>();
  const bands = new Map<string, { lo: (number | null)[]; hi: (number | null)[] }>();
  for (const name of names) {
    const a = acc.get(name)!;
    rows.set(name, Object.fromEntries(METRICS.map((m, i) => [m, clusterInterval(a.metrics[i], `${name}/${m}`, settings)])) as Record<Metric, MeanInterval>);
    const lo: (number | null)[] = new Array(bins).fill(null);
    const hi: (number | null)[] = new Array(bins).fill(null);
    for (const [k, list] of a.bins) {
      const ci = clusterInterval(list, `${name}/bin ${k}`, settings).ci95;
      if (ci) [lo[k], hi[k]] = ci;
    }
    bands.set(name, { lo, hi });
  }
  return { rows, bands };
}
