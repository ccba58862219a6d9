/**
 * The colour bar of a heatmap as SVG text (browser-safe): the palette entries the scale uses, from
 * low to high, with the values at the ends and at zero. Pages embed it inline; the gallery and
 * the web page draw theirs with it.
 */
import { escapeXml } from '../eval/plot.ts';
import type { HeatmapScale } from './render.ts';

/** How `colorbarSvg` draws. */
export interface ColorbarOptions {
  /** Default 240 × 14 pixels for the bar itself; labels go below it. */
  readonly width?: number;
  readonly height?: number;
  /** Text above the bar, e.g. "relevance". */
  readonly title?: string;
  /**
   * Labels in units of the scale instead of values (`-1`, `0`, `+1` read as "± the clip"):
   * for a bar that stands for many maps, each with its own scale.
   */
  readonly relative?: boolean;
}

const hex = (p: Uint8Array, k: number) => `#${[p[3 * k], p[3 * k + 1], p[3 * k + 2]].map((b) => b.toString(16).padStart(2, '0')).join('')}`;

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const text = a >= 1e4 || a < 1e-3 ? a.toExponential(2) : Number(a.toPrecision(3)).toString();
  return `${v < 0 ? '−' : ''}${text}`;
}

/** What the ends of the bar stand for, in words (e.g. "±99.5th percentile of |R|"). */
export function scaleDescription(scale: HeatmapScale): string {
  const what = scale.mode === 'positive' ? 'positive R' : '|R|';
  const end = scale.clip === null ? `${label(scale.vmax)}` : scale.clip >= 100 ? `the largest ${what}` : `the ${scale.clip}th percentile of ${what}`;
  return scale.mode === 'signed' ? `±${end}` : `0 to ${end}${scale.mode === 'absolute' ? ' (|R|)' : ' (negative R not shown)'}`;
}

/** The colour bar of a heatmap's scale as an SVG document: the palette range in use, with ticks. */
export function colorbarSvg(scale: HeatmapScale, opts: ColorbarOptions = {}): string {
  const w = opts.width ?? 240;
  const h = opts.height ?? 14;
  const top = opts.title ? 16 : 2;
  const H = top + h + 18;
  const [lo, hi] = scale.paletteRange;
  const p = scale.cmap.palette;
  // A stop every 4 entries reproduces the piecewise-linear maps exactly enough to the eye.
  const stops: string[] = [];
  for (let k = lo; k <= hi; k += 4) stops.push(`<stop offset="${((k - lo) / (hi - lo)).toFixed(4)}" stop-color="${hex(p, k)}"/>`);
  if ((hi - lo) % 4 !== 0) stops.push(`<stop offset="1" stop-color="${hex(p, hi)}"/>`);
  const id = `cb-${scale.cmap.name.replace(/[^\w-]/g, '')}-${scale.mode}`;
  const ticks: [number, string][] = scale.mode === 'signed'
    ? [[0, opts.relative ? '−1' : label(scale.vmin)], [0.5, '0'], [1, opts.relative ? '+1' : label(scale.vmax)]]
    : [[0, '0'], [1, opts.relative ? '1' : label(scale.vmax)]];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w + 16}" height="${H}" viewBox="0 0 ${w + 16} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<title>${escapeXml(`colour map ${scale.cmap.name}, ${scale.mode}: ${scaleDescription(scale)}`)}</title>`,
    `<defs><linearGradient id="${id}" x1="0" x2="1" y1="0" y2="0">${stops.join('')}</linearGradient></defs>`,
  ];
  if (opts.title) parts.push(`<text x="8" y="11">${escapeXml(opts.title)}</text>`);
  parts.push(`<rect x="8" y="${top}" width="${w}" height="${h}" fill="url(#${id})" stroke="#555" stroke-width="0.5"/>`);
  for (const [f, text] of ticks) {
    const x = 8 + f * w;
    parts.push(`<line x1="${x}" x2="${x}" y1="${top + h}" y2="${top + h + 4}" stroke="#555"/>`);
    parts.push(`<text x="${x}" y="${top + h + 15}" text-anchor="${f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}">${escapeXml(text)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
