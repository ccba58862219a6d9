/**
 * The synthetic boxes dataset: one image at a time, a pure function of (seed, image number, size),
 * browser-safe. Each image has one to three objects of the classes in `SYNTH_CLASSES` (several
 * classes per image: multi-label) on a cluttered background (a gradient, smooth noise, translucent
 * blobs, lines, pixel noise) with small distractors (shapes that are no class, and fragments of
 * class shapes) kept clear of the objects' boxes. Objects vary in colour, scale, rotation and
 * texture (solid, stripes, dots), lie wholly inside the image, and may overlap a little: each stays
 * at least `MIN_VISIBLE` visible.
 *
 * A box is the tight box of all the pixels painted for its object (VOC's convention: an occluded
 * part still counts), 1-based and inclusive like VOC's.
 */
import type { RgbaImage } from '../preprocess/image.ts';
import { imageSeed, Rng } from './rng.ts';
import { DISTRACTOR_KINDS, rasterize, SYNTH_CLASSES, type Shape, type SynthClass } from './shapes.ts';

export const DEFAULT_SYNTH_SIZE = 64;
/** The smallest image side the generator accepts. */
export const MIN_SYNTH_SIZE = 32;
/** The fraction of its pixels an object keeps visible when later ones overlap it. */
export const MIN_VISIBLE = 0.75;

/** A VOC box: 1-based, inclusive pixel indices. */
export interface VocBox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

export type Texture = 'solid' | 'stripes' | 'dots';

export interface SynthObject {
  readonly classIndex: number;
  readonly name: SynthClass;
  readonly shape: Shape;
  readonly texture: Texture;
  /** The tight box of the object's painted pixels. */
  readonly box: VocBox;
  /** Pixels painted for the object. */
  readonly area: number;
  /** Of those, the pixels no later object covers. */
  readonly visible: number;
}

export interface SynthSample {
  /** 1-based image number; the file stem is `synthName(number)`. */
  readonly number: number;
  readonly name: string;
  readonly image: RgbaImage;
  /** In painting order (later objects on top). */
  readonly objects: readonly SynthObject[];
  /** Per pixel: 0 for background, k for objects[k - 1] (the topmost object there). */
  readonly objectIds: Uint8Array;
}

export interface SynthOptions {
  /** Image side in pixels (square images); default 64. */
  size?: number;
}

/** `synth_000001` for image 1. */
export function synthName(number: number): string {
  return `synth_${String(number).padStart(6, '0')}`;
}

type Rgb = [number, number, number];

function hsv(h: number, s: number, v: number): Rgb {
  const h6 = (h - Math.floor(h)) * 6;
  const i = Math.floor(h6);
  const f = h6 - i;
  const p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const rgb: Rgb = i === 0 ? [v, t, p] : i === 1 ? [q, v, p] : i === 2 ? [p, v, t] : i === 3 ? [p, q, v] : i === 4 ? [t, p, v] : [v, p, q];
  return [rgb[0] * 255, rgb[1] * 255, rgb[2] * 255];
}

function dist(a: Rgb, b: Rgb): number {
  const dr = a[0] - b[0], dg = a[1] - b[1], db = a[2] - b[2];
  return Math.sqrt(dr * dr + dg * dg + db * db);
}

/** A colour for an object or distractor: mostly saturated, sometimes near-black or near-white. */
function objectColour(rng: Rng): Rgb {
  if (rng.next() < 0.2) {
    const dark = rng.next() < 0.5;
    return hsv(rng.next(), rng.range(0, 0.3), dark ? rng.range(0.03, 0.22) : rng.range(0.85, 1));
  }
  return hsv(rng.next(), rng.range(0.55, 1), rng.range(0.5, 1));
}

function backgroundColour(rng: Rng): Rgb {
  return hsv(rng.next(), rng.range(0, 0.4), rng.range(0.15, 0.9));
}

/** The colour of the pixel with the most contrast to `bg` among a few tries. */
function contrasting(rng: Rng, bg: Rgb, min: number): Rgb {
  let best = objectColour(rng);
  for (let t = 0; t < 8 && dist(best, bg) < min; t++) {
    const c = objectColour(rng);
    if (dist(c, bg) > dist(best, bg)) best = c;
  }
  return best;
}

function boxOf(pixels: Int32Array, width: number): VocBox {
  let xmin = Infinity, ymin = Infinity, xmax = -Infinity, ymax = -Infinity;
  for (let k = 0; k < pixels.length; k++) {
    const p = pixels[k];
    const x = p % width, y = (p - x) / width;
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  return { xmin: xmin + 1, ymin: ymin + 1, xmax: xmax + 1, ymax: ymax + 1 };
}

interface Paint {
  texture: Texture;
  c1: Rgb;
  c2: Rgb;
  /** Stripe/dot lattice: direction and period in pixels, and a phase. */
  dc: number;
  ds: number;
  period: number;
  phase: number;
  noise: number;
}

function colourAt(p: Paint, x: number, y: number): Rgb {
  if (p.texture === 'solid') return p.c1;
  const a = (x + 0.5) * p.dc + (y + 0.5) * p.ds + p.phase;
  if (p.texture === 'stripes') {
    return (Math.floor((2 * a) / p.period) & 1) === 0 ? p.c1 : p.c2;
  }
  const b = (y + 0.5) * p.dc - (x + 0.5) * p.ds + p.phase;
  const fa = a / p.period - Math.floor(a / p.period) - 0.5;
  const fb = b / p.period - Math.floor(b / p.period) - 0.5;
  return fa * fa + fb * fb <= 0.09 ? p.c2 : p.c1;
}

/** One image of the dataset `seed`; `number` is 1-based. */
export function synthesize(seed: number, number: number, opts: SynthOptions = {}): SynthSample {
  const S = opts.size ?? DEFAULT_SYNTH_SIZE;
  if (!Number.isSafeInteger(S) || S < MIN_SYNTH_SIZE || S > 4096) {
    throw new Error(`synthetic image size must be an integer from ${MIN_SYNTH_SIZE} to 4096, got ${S}`);
  }
  if (!Number.isSafeInteger(number) || number < 1) throw new Error(`image number must be a positive integer, got ${number}`);
  const rng = new Rng(imageSeed(seed, number));
  const k = S / 64;
  const N = S * S;

  // 1. Layout: where the objects go, before anything is drawn.
  const nObjects = rng.pick([1, 1, 1, 2, 2, 2, 2, 3, 3, 3]);
  const shapes: Shape[] = [];
  const masks: Int32Array[] = [];
  const visible: number[] = [];
  const ids = new Uint8Array(N);
  for (let o = 0; o < nObjects; o++) {
    const cls = rng.int(0, SYNTH_CLASSES.length - 1);
    for (let attempt = 0; attempt < 40; attempt++) {
      const r = rng.range(7, 15.5) * k;
      const cx = rng.range(r + 0.5, S - r - 0.5);
      const cy = rng.range(r + 0.5, S - r - 0.5);
      const [cos, sin] = rng.direction();
      const shape: Shape = { kind: SYNTH_CLASSES[cls], cx, cy, r, cos, sin };
      const mask = rasterize(shape, S, S);
      const covered = new Array<number>(shapes.length).fill(0);
      for (let i = 0; i < mask.length; i++) {
        const id = ids[mask[i]];
        if (id) covered[id - 1]++;
      }
      if (covered.some((c, j) => visible[j] - c < MIN_VISIBLE * masks[j].length)) continue;
      for (let j = 0; j < shapes.length; j++) visible[j] -= covered[j];
      for (let i = 0; i < mask.length; i++) ids[mask[i]] = shapes.length + 1;
      shapes.push(shape);
      masks.push(mask);
      visible.push(mask.length);
      break;
    }
  }

  // 2. Background, in float RGB.
  const rgb = new Float32Array(N * 3);
  {
    const g1 = backgroundColour(rng), g2 = backgroundColour(rng);
    const [dc, ds] = rng.direction();
    const cell = 8 * k;
    const g = Math.ceil(S / cell) + 2;
    const amp = rng.range(8, 45);
    const grid = new Float32Array(g * g * 3);
    for (let i = 0; i < g * g; i++) {
      const l = rng.range(-1, 1) * amp;
      for (let c = 0; c < 3; c++) grid[3 * i + c] = l + rng.range(-0.3, 0.3) * amp;
    }
    const half = S / 2, span = S * 0.75;
    for (let y = 0; y < S; y++) {
      const gy = (y + 0.5) / cell, iy = Math.floor(gy), fy0 = gy - iy, fy = fy0 * fy0 * (3 - 2 * fy0);
      for (let x = 0; x < S; x++) {
        let t = ((x + 0.5 - half) * dc + (y + 0.5 - half) * ds) / span + 0.5;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const gx = (x + 0.5) / cell, ix = Math.floor(gx), fx0 = gx - ix, fx = fx0 * fx0 * (3 - 2 * fx0);
        const i00 = 3 * (iy * g + ix), i01 = i00 + 3, i10 = i00 + 3 * g, i11 = i10 + 3;
        for (let c = 0; c < 3; c++) {
          const top = grid[i00 + c] + (grid[i01 + c] - grid[i00 + c]) * fx;
          const bot = grid[i10 + c] + (grid[i11 + c] - grid[i10 + c]) * fx;
          rgb[3 * (y * S + x) + c] = g1[c] + (g2[c] - g1[c]) * t + top + (bot - top) * fy;
        }
      }
    }
    // Translucent blobs: ellipses of muted colour.
    for (let b = rng.int(1, 4); b > 0; b--) {
      const col = backgroundColour(rng);
      const alpha = rng.range(0.2, 0.5);
      const ax = rng.range(5, 18) * k, ay = rng.range(4, 14) * k;
      const cx = rng.range(0, S), cy = rng.range(0, S);
      const [bc, bs] = rng.direction();
      const ext = Math.max(ax, ay);
      for (let y = Math.max(0, Math.floor(cy - ext)); y < Math.min(S, Math.ceil(cy + ext)); y++) {
        for (let x = Math.max(0, Math.floor(cx - ext)); x < Math.min(S, Math.ceil(cx + ext)); x++) {
          const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
          const u = (dx * bc + dy * bs) / ax, v = (dy * bc - dx * bs) / ay;
          if (u * u + v * v > 1) continue;
          for (let c = 0; c < 3; c++) {
            const i = 3 * (y * S + x) + c;
            rgb[i] += (col[c] - rgb[i]) * alpha;
          }
        }
      }
    }
    // Lines of any colour, thin.
    for (let l = rng.int(0, 5); l > 0; l--) {
      const col = rng.next() < 0.5 ? objectColour(rng) : backgroundColour(rng);
      const alpha = rng.range(0.4, 1);
      const hw = rng.pick([0.5, 0.75, 1.1]) * k;
      const x0 = rng.range(-4, S + 4), y0 = rng.range(-4, S + 4), x1 = rng.range(-4, S + 4), y1 = rng.range(-4, S + 4);
      const ex = x1 - x0, ey = y1 - y0, len2 = ex * ex + ey * ey;
      if (len2 < 1) continue;
      // Only the pixels near the segment's bounding box can be within hw of it.
      const bx0 = Math.max(0, Math.floor(Math.min(x0, x1) - hw) - 1), bx1 = Math.min(S - 1, Math.ceil(Math.max(x0, x1) + hw));
      const by0 = Math.max(0, Math.floor(Math.min(y0, y1) - hw) - 1), by1 = Math.min(S - 1, Math.ceil(Math.max(y0, y1) + hw));
      for (let y = by0; y <= by1; y++) {
        for (let x = bx0; x <= bx1; x++) {
          const px = x + 0.5 - x0, py = y + 0.5 - y0;
          let t = (px * ex + py * ey) / len2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const qx = px - t * ex, qy = py - t * ey;
          if (qx * qx + qy * qy > hw * hw) continue;
          for (let c = 0; c < 3; c++) {
            const i = 3 * (y * S + x) + c;
            rgb[i] += (col[c] - rgb[i]) * alpha;
          }
        }
      }
    }
  }

  // 3. Distractors: small vivid shapes clear of the objects' boxes (grown by a pixel).
  const reserved = new Uint8Array(N);
  const boxes = masks.map((m) => boxOf(m, S));
  for (const b of boxes) {
    for (let y = Math.max(0, b.ymin - 2); y <= Math.min(S - 1, b.ymax); y++) {
      for (let x = Math.max(0, b.xmin - 2); x <= Math.min(S - 1, b.xmax); x++) reserved[y * S + x] = 1;
    }
  }
  for (let d = rng.int(1, 5); d > 0; d--) {
    const kind = rng.pick(DISTRACTOR_KINDS);
    const col = objectColour(rng);
    for (let attempt = 0; attempt < 10; attempt++) {
      const r = rng.range(2.5, 5.5) * k;
      const [cos, sin] = rng.direction();
      const shape: Shape = { kind, cx: rng.range(0, S), cy: rng.range(0, S), r, cos, sin };
      const mask = rasterize(shape, S, S);
      if (mask.length === 0 || mask.some((p) => reserved[p] === 1)) continue;
      for (let i = 0; i < mask.length; i++) for (let c = 0; c < 3; c++) rgb[3 * mask[i] + c] = col[c];
      break;
    }
  }

  // 4. Pixel noise over the whole background.
  {
    const n = rng.range(2, 14);
    for (let i = 0; i < N * 3; i++) rgb[i] += (rng.next() - 0.5) * 2 * n;
  }

  // 5. The objects, in layout order, each in a colour that stands out from the background under it.
  const objects: SynthObject[] = [];
  for (let o = 0; o < shapes.length; o++) {
    const mask = masks[o];
    const bg: Rgb = [0, 0, 0];
    for (let i = 0; i < mask.length; i++) for (let c = 0; c < 3; c++) bg[c] += rgb[3 * mask[i] + c] / mask.length;
    const texture = rng.pick<Texture>(['solid', 'stripes', 'dots']);
    const c1 = contrasting(rng, bg, 110);
    // The texture's second colour is a darker or lighter shade of the first, whichever stands out
    // more from the background, so the texture does not break up the silhouette.
    const f = rng.range(0.35, 0.6);
    const darker: Rgb = [c1[0] * f, c1[1] * f, c1[2] * f];
    const lighter: Rgb = [c1[0] + (255 - c1[0]) * f, c1[1] + (255 - c1[1]) * f, c1[2] + (255 - c1[2]) * f];
    const c2 = dist(darker, bg) >= dist(lighter, bg) ? darker : lighter;
    const [dc, ds] = rng.direction();
    const paint: Paint = {
      texture, c1, c2, dc, ds,
      period: rng.range(3, 6.5) * k,
      phase: rng.range(0, 8),
      noise: rng.range(0, 10),
    };
    for (let i = 0; i < mask.length; i++) {
      const p = mask[i];
      const x = p % S, y = (p - x) / S;
      const col = colourAt(paint, x, y);
      for (let c = 0; c < 3; c++) rgb[3 * p + c] = col[c] + (rng.next() - 0.5) * 2 * paint.noise;
    }
    const cls = SYNTH_CLASSES.indexOf(shapes[o].kind as SynthClass);
    objects.push({
      classIndex: cls, name: SYNTH_CLASSES[cls], shape: shapes[o], texture,
      box: boxes[o], area: mask.length, visible: visible[o],
    });
  }

  const data = new Uint8Array(N * 4);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round(rgb[3 * i + c]);
      data[4 * i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    data[4 * i + 3] = 255;
  }
  return { number, name: synthName(number), image: { width: S, height: S, data }, objects, objectIds: ids };
}
