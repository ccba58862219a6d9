/**
 * zennit's colour maps (zennit/cmap.py and zennit/image.py, 0.5.1), to the byte: the same
 * colour-map specification language (cmsl), the same built-in maps, the same 256-entry palettes.
 *
 * cmsl: comma-separated colours, `rgb` or `rrggbb` in hex, each optionally preceded by a hex index
 * `i:` or `ii:` (0..ff) placing it on the 0..255 scale; colours without an index are spread evenly
 * between their indexed neighbours (the first defaults to 0, the last to 255). Between nodes the
 * colour is linear in RGB. `'00f,80:fff,f00'` is blue at 0, white at 0x80, red at 255.
 *
 * A palette is what zennit's `palette(cmap)` returns: entry i is the map at
 * `((linspace(-1, 1, 256)[i] + 1) / 2)`, times 255, rounded to 12 decimals and truncated to a
 * byte; `imgify` then picks entry `floor(255 * (v - vmin) / (vmax - vmin))`, clipped to 0..255.
 * Everything here is float64 arithmetic in numpy's order, so the bytes equal zennit's.
 */

/** One node of a colour map: a position on 0..256 and its colour (bytes as float). */
interface Node {
  readonly index: number;
  readonly rgb: readonly [number, number, number];
}

/** A compiled colour map: the source and its 256-entry RGB palette. */
export interface Colormap {
  /** The built-in name, or the cmsl source for a custom map. */
  readonly name: string;
  readonly source: string;
  /**
   * Whether the map is centred (a distinct colour at 0x80 marks zero, e.g. `bwr`): signed maps
   * use its whole range, positive and absolute maps its upper half. Sequential maps (`gray`,
   * `wred`, `hot`) use their whole range for magnitudes.
   */
  readonly diverging: boolean;
  /** 256 × RGB bytes, zennit's palette. */
  readonly palette: Uint8Array;
}

/** zennit's built-in maps (zennit/image.py CMAPS), with whether each is centred on 0x80. */
export const ZENNIT_CMAPS = {
  gray: { source: '000,fff', diverging: false },
  wred: { source: 'fff,f00', diverging: false },
  wblue: { source: 'fff,00f', diverging: false },
  hot: { source: '000,f00,ff0,fff', diverging: false },
  cold: { source: '000,00f,0ff', diverging: false },
  coldnhot: { source: '0ff,00f,80:000,f00,ff0,fff', diverging: true },
  bwr: { source: '00f,80:fff,f00', diverging: true },
  france: { source: '0055a4,80:fff,ef4135', diverging: true },
  seismic: { source: '0000d0,80:d0d0d0,d00000', diverging: true },
  coolio: { source: '00d0d0,80:d0d0d0,d000d0', diverging: true },
  coleus: { source: '00d000,80:d0d0d0,d000d0', diverging: true },
} as const satisfies Record<string, { source: string; diverging: boolean }>;

/** The name of one of zennit's colour maps, e.g. `'bwr'`, `'coldnhot'`, `'gray'`. */
export type ColormapName = keyof typeof ZENNIT_CMAPS;
/** Every colour map name, in zennit's order. */
export const COLORMAP_NAMES = Object.keys(ZENNIT_CMAPS) as ColormapName[];

/** Whether `name` is one of zennit's colour maps. */
export function isColormapName(name: string): name is ColormapName {
  return Object.hasOwn(ZENNIT_CMAPS, name);
}

type Token = { type: 'color' | 'index' | 'adsep' | 'sep' | 'space' | 'error'; value: string; pos: number };

// zennit's lexer: the alternatives in its order (a 6-digit colour before a 3-digit one before an index).
const LEX = /(?<long>[0-9a-fA-F]{6})|(?<short>[0-9a-fA-F]{3})|(?<index>[0-9a-fA-F]{1,2})|(?<adsep>:)|(?<sep>,)|(?<space>\s+)|(?<error>.+)/g;

function lex(source: string): Token[] {
  const out: Token[] = [];
  for (const m of source.matchAll(LEX)) {
    const g = m.groups!;
    const type = g.long !== undefined || g.short !== undefined ? 'color'
      : g.index !== undefined ? 'index' : g.adsep !== undefined ? 'adsep' : g.sep !== undefined ? 'sep' : g.space !== undefined ? 'space' : 'error';
    out.push({ type, value: m[0], pos: m.index! });
  }
  return out;
}

function parse(source: string): { index: number | null; rgb: [number, number, number] }[] {
  const nodes: { index: number | null; rgb: [number, number, number] }[] = [];
  const log: Token[] = [];
  const bad = (t: Token): never => {
    throw new Error(`colour map '${source}': unexpected '${t.value}' at position ${t.pos} (expected colours like 00f,80:fff,f00)`);
  };
  for (const t of lex(source)) {
    if (t.type === 'index' && log.length === 0) {
      log.push(t);
    } else if (t.type === 'adsep' && log.length === 1 && log[0].type === 'index') {
      log.push(t);
    } else if (t.type === 'color') {
      let index: number | null = null;
      if (log.length === 2 && log[0].type === 'index') {
        const v = log[0].value.length === 1 ? log[0].value.repeat(2) : log[0].value;
        index = parseInt(v, 16);
      } else if (log.length !== 0) {
        bad(t);
      }
      const hex = t.value.length === 6 ? t.value : t.value.split('').map((c) => c + c).join('');
      nodes.push({ index, rgb: [0, 2, 4].map((k) => parseInt(hex.slice(k, k + 2), 16)) as [number, number, number] });
      log.push(t);
    } else if (t.type === 'sep' && log.length > 0 && log[log.length - 1].type === 'color') {
      log.length = 0;
    } else if (t.type !== 'space') {
      bad(t);
    }
  }
  if (log.length > 0 && log[log.length - 1].type !== 'color') bad(log[log.length - 1]);
  return nodes;
}

/** numpy.linspace(start, stop, num): start + i * step, the last exactly stop. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
}

/** zennit's ColorMap._make_palette: the nodes with their indices filled in, 0 and 256 at the ends. */
function makeNodes(source: string): Node[] {
  const nodes = parse(source);
  if (nodes.length < 2) throw new Error(`colour map '${source}': needs at least 2 colours`);
  const result: Node[] = [];
  const pending: { rgb: [number, number, number] }[] = [];
  const start = nodes.shift()!;
  result.push({ index: 0, rgb: start.rgb });
  if (start.index !== null && start.index > 0) result.push({ index: start.index, rgb: start.rgb });
  nodes.forEach((node, n) => {
    let index = node.index;
    if (index === null) {
      if (n < nodes.length - 1) {
        pending.push(node);
        return;
      }
      index = 255;
    } else if (index < result[result.length - 1].index) {
      throw new Error(`colour map '${source}': indices must ascend from left to right`);
    }
    if (pending.length) {
      const last = result[result.length - 1].index;
      const alphas = linspace(0, 1, pending.length + 2).slice(1, -1);
      pending.forEach((p, k) => result.push({ index: Math.trunc(last * (1 - alphas[k]) + index! * alphas[k]), rgb: p.rgb }));
      pending.length = 0;
    }
    result.push({ index, rgb: node.rgb });
  });
  result.push({ index: 256, rgb: result[result.length - 1].rgb });
  return result;
}

/** The map at t in [0, 1] as RGB in [0, 1] (zennit's ColorMap.__call__, float64). */
function evaluate(nodes: readonly Node[], t: number): [number, number, number] {
  const x = Math.min(255, Math.max(0, t * 255));
  // searchsorted(indices[:-1], x, side='right'): the first node index greater than x.
  let k = 0;
  while (k < nodes.length - 1 && nodes[k].index <= x) k++;
  const a = nodes[k - 1], b = nodes[k];
  const alpha = (x - a.index) / (b.index - a.index);
  return [0, 1, 2].map((c) => (a.rgb[c] * (1 - alpha) + b.rgb[c] * alpha) / 255) as [number, number, number];
}

/** numpy's round(x, 12): round half to even at 12 decimals (x * 1e12, rint, / 1e12). */
function round12(x: number): number {
  const y = x * 1e12;
  let r = Math.round(y);
  if (Math.abs(y % 1) === 0.5 && r % 2 !== 0) r -= 1;
  return r / 1e12;
}

const cache = new Map<string, Colormap>();

/**
 * A colour map by zennit's name (`bwr`, `seismic`, `coldnhot`, `gray`, `wred`, ...) or as cmsl
 * source (`'000,80:f00,ff0'`); custom maps count as diverging when they place a node at 0x80.
 * Throws, naming the choices, for anything else.
 */
export function colormap(nameOrSource: string): Colormap {
  const hit = cache.get(nameOrSource);
  if (hit) return hit;
  let source: string;
  let diverging: boolean;
  if (isColormapName(nameOrSource)) {
    ({ source, diverging } = ZENNIT_CMAPS[nameOrSource]);
  } else if (/^[0-9a-fA-F:,\s]+$/.test(nameOrSource) && nameOrSource.includes(',')) {
    source = nameOrSource;
    diverging = /(^|,)\s*80\s*:/.test(source);
  } else {
    throw new Error(`unknown colour map '${nameOrSource}' (zennit's: ${COLORMAP_NAMES.join(', ')}; or a cmsl source such as '00f,80:fff,f00')`);
  }
  const nodes = makeNodes(source);
  const palette = new Uint8Array(256 * 3);
  const xs = linspace(-1, 1, 256);
  for (let i = 0; i < 256; i++) {
    const t = Math.min(1, Math.max(0, (xs[i] + 1) / 2));
    const rgb = evaluate(nodes, t);
    for (let c = 0; c < 3; c++) palette[3 * i + c] = Math.trunc(Math.min(255, Math.max(0, round12(rgb[c] * 255))));
  }
  const cm: Colormap = { name: nameOrSource, source, diverging, palette };
  cache.set(nameOrSource, cm);
  return cm;
}

/** The palette entry zennit's imgify picks for t = (v - vmin) / (vmax - vmin): floor(255 t), clipped. */
export function paletteIndex(t: number): number {
  if (!(t > 0)) return 0; // NaN and negatives
  return Math.min(255, Math.trunc(t * 255));
}
