/**
 * Line plots as hand-written SVG text (browser-safe, no dependency): the Fig. 3 curve (mean mu per
 * box-size bin, one line per analyzer) and the Fig. 2 occlusion curves. Missing points (empty
 * bins) break a line; isolated points show as dots.
 */

export interface Series {
  readonly name: string;
  /** x, y; y null where there is no value. */
  readonly points: readonly (readonly [number, number | null])[];
  /** Dashed line (e.g. the Baseline). */
  readonly dashed?: boolean;
  /** CSS colour (default: the palette's, by the series' position). */
  readonly colour?: string;
  /** A shaded band (x, low, high) around the line, e.g. a confidence interval; null where unknown. */
  readonly band?: readonly (readonly [number, number | null, number | null])[];
}

/** Counts per x interval, drawn as grey bars along the bottom of the plot (a quarter of its height). */
export interface Histogram {
  readonly label: string;
  /** (x low, x high, count). */
  readonly bins: readonly (readonly [number, number, number])[];
}

export interface PlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly xRange?: readonly [number, number];
  /** Default: the data's range, widened to nice ticks (always including 0 for yZero). */
  readonly yRange?: readonly [number, number];
  readonly yZero?: boolean;
  readonly histogram?: Histogram;
  readonly width?: number;
  readonly height?: number;
}

/** The series colours, and the grey that follows them (a reference or baseline series). */
export const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'] as const;
export const GREY = '#7f7f7f';
const PALETTE = [...COLOURS, GREY];

/** A CSV field, quoted where it holds a quote, a comma or a line break. */
export function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 1;
    return niceTicks(lo - d, hi + d, count);
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9) * step;
  const out: number[] = [];
  for (let v = first; v <= hi + step * (1 - 1e-9); v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return Number(v.toFixed(2)).toString();
}

function tickLabel(v: number): string {
  return Math.abs(v) < 1e-12 ? '0' : Number(v.toPrecision(6)).toString();
}

export function linePlotSvg(opts: PlotOptions): string {
  const W = opts.width ?? 760;
  const H = opts.height ?? 480;
  const m = { left: 70, right: 200, top: 40, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const [x0, x1] = opts.xRange ?? [0, 1];
  let yTicks: number[];
  if (opts.yRange) {
    yTicks = niceTicks(opts.yRange[0], opts.yRange[1]);
  } else {
    const ys = opts.series.flatMap((s) => s.points.map((p) => p[1]).filter((y): y is number => y !== null && Number.isFinite(y)));
    let lo = ys.length ? Math.min(...ys) : 0;
    let hi = ys.length ? Math.max(...ys) : 1;
    if (opts.yZero) {
      lo = Math.min(lo, 0);
      hi = Math.max(hi, 0);
    }
    yTicks = niceTicks(lo, hi);
  }
  const y0 = opts.yRange ? opts.yRange[0] : yTicks[0];
  const y1 = opts.yRange ? opts.yRange[1] : yTicks[yTicks.length - 1];
  const X = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const xTicks = niceTicks(x0, x1).filter((t) => t >= x0 - 1e-12 && t <= x1 + 1e-12);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${fmt(m.left + pw / 2)}" y="22" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`);
  // Grid and ticks.
  for (const t of yTicks.filter((t) => t >= y0 - 1e-12 && t <= y1 + 1e-12)) {
    const y = fmt(Y(t));
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = fmt(X(t));
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  if (y0 < 0 && y1 > 0) parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${fmt(Y(0))}" y2="${fmt(Y(0))}" stroke="#999"/>`);
  // The histogram behind everything, on its own scale (the tallest bar a quarter of the plot).
  if (opts.histogram) {
    const maxCount = Math.max(0, ...opts.histogram.bins.map((b) => b[2]));
    if (maxCount > 0) {
      const hh = ph / 4;
      parts.push(`<g fill="#c8c8c8" stroke="none"><title>${escapeXml(`${opts.histogram.label} (the tallest: ${maxCount})`)}</title>`);
      for (const [lo, hi, n] of opts.histogram.bins) {
        if (n <= 0) continue;
        const h = (n / maxCount) * hh;
        parts.push(`<rect x="${fmt(X(lo))}" y="${fmt(m.top + ph - h)}" width="${fmt(Math.max(0.5, X(hi) - X(lo) - 0.3))}" height="${fmt(h)}"/>`);
      }
      parts.push('</g>');
      parts.push(`<text x="${m.left + pw - 4}" y="${fmt(m.top + ph - hh - 4)}" text-anchor="end" fill="#777" font-size="10">${escapeXml(`${opts.histogram.label} (max ${maxCount})`)}</text>`);
    }
  }
  // Axes and labels.
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${fmt(m.left + pw / 2)}" y="${H - 14}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${fmt(m.top + ph / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  // Bands first, under every line: polygons over runs of bins where the band is known.
  opts.series.forEach((s, i) => {
    if (!s.band) return;
    const colour = s.colour ?? PALETTE[i % PALETTE.length];
    const runs: (readonly [number, number, number])[][] = [];
    let run: (readonly [number, number, number])[] = [];
    for (const [x, lo, hi] of s.band) {
      if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi)) {
        if (run.length) runs.push(run);
        run = [];
      } else {
        run.push([x, lo, hi]);
      }
    }
    if (run.length) runs.push(run);
    for (const r of runs) {
      const pts = r.length === 1
        ? [[r[0][0] - 0.004, r[0][2]], [r[0][0] + 0.004, r[0][2]], [r[0][0] + 0.004, r[0][1]], [r[0][0] - 0.004, r[0][1]]]
        : [...r.map(([x, , hi]) => [x, hi]), ...[...r].reverse().map(([x, lo]) => [x, lo])];
      parts.push(`<polygon fill="${colour}" fill-opacity="0.15" stroke="none" points="${pts.map(([x, y]) => `${fmt(X(x))},${fmt(Y(y))}`).join(' ')}"><title>${escapeXml(`${s.name}: 95 % interval`)}</title></polygon>`);
    }
  });
  // Series: polylines over runs of defined points, dots for single points.
  opts.series.forEach((s, i) => {
    const colour = s.colour ?? PALETTE[i % PALETTE.length];
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const runs: (readonly [number, number])[][] = [];
    let run: (readonly [number, number])[] = [];
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) {
        if (run.length) runs.push(run);
        run = [];
      } else {
        run.push([x, y]);
      }
    }
    if (run.length) runs.push(run);
    parts.push(`<g stroke="${colour}" fill="${colour}"><title>${escapeXml(s.name)}</title>`);
    for (const r of runs) {
      if (r.length === 1) {
        parts.push(`<circle cx="${fmt(X(r[0][0]))}" cy="${fmt(Y(r[0][1]))}" r="2.5" stroke="none"/>`);
      } else {
        parts.push(`<polyline fill="none" stroke-width="1.6"${dash} points="${r.map(([x, y]) => `${fmt(X(x))},${fmt(Y(y))}`).join(' ')}"/>`);
      }
    }
    parts.push('</g>');
    // Legend entry.
    const ly = m.top + 10 + i * 20;
    const lx = m.left + pw + 16;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
