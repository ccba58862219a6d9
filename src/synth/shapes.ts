/**
 * The shapes of the synthetic dataset: the object classes and the distractors, each a point-in-shape
 * test in a local frame where the shape fits the unit disc. A shape is placed by its centre, its
 * radius in pixels and a rotation (cos, sin); a pixel belongs to it when the pixel's centre
 * `(x + 0.5, y + 0.5)` is inside, so the painted pixels, and with them the boxes, are exact. Only
 * arithmetic and square roots (correctly rounded in IEEE 754) are used: no trigonometry, whose last
 * bits vary between JavaScript engines.
 */

/** The object classes, in class-index order (the model's outputs). */
export const SYNTH_CLASSES = ['circle', 'square', 'triangle', 'star', 'cross', 'ring'] as const;
export type SynthClass = (typeof SYNTH_CLASSES)[number];

/** Small shapes that are not classes, or fragments of them, drawn as clutter. */
export const DISTRACTOR_KINDS = ['bar', 'ell', 'chevron', 'halfdisc', 'arc', 'crescent', 'fragment'] as const;
export type DistractorKind = (typeof DISTRACTOR_KINDS)[number];

export type ShapeKind = SynthClass | DistractorKind;

export interface Shape {
  readonly kind: ShapeKind;
  /** Centre, in continuous pixel coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)). */
  readonly cx: number;
  readonly cy: number;
  /** Radius of the disc the shape fits in, in pixels. */
  readonly r: number;
  /** Rotation: the local u axis is (cos, sin) in the image. */
  readonly cos: number;
  readonly sin: number;
}

// cos and sin of k * 18 degrees, k = 0..5, from square roots only.
const S5 = Math.sqrt(5);
const C18 = Math.sqrt(10 + 2 * S5) / 4;
const S18 = (S5 - 1) / 4;
const C36 = (1 + S5) / 4;
const S36 = Math.sqrt(10 - 2 * S5) / 4;
const QUADRANT: ReadonlyArray<readonly [number, number]> = [[1, 0], [C18, S18], [C36, S36], [S36, C36], [S18, C18], [0, 1]];

/** cos and sin of k * 18 degrees for any integer k. */
function cosSin18(k: number): [number, number] {
  const m = ((k % 20) + 20) % 20;
  let [c, s] = QUADRANT[m % 5];
  for (let q = Math.floor(m / 5); q > 0; q--) [c, s] = [-s, c];
  return [c, s];
}

/** A polygon's vertices at angles `-90 + 36 i` degrees (y down: the first points up), alternating radii. */
function starPolygon(outer: number, inner: number): Float64Array {
  const v = new Float64Array(20);
  for (let i = 0; i < 10; i++) {
    const [c, s] = cosSin18(2 * i - 5);
    const rad = i % 2 === 0 ? outer : inner;
    v[2 * i] = rad * c;
    v[2 * i + 1] = rad * s;
  }
  return v;
}

const STAR = starPolygon(1, 0.48);
const SQRT3_2 = Math.sqrt(3) / 2;
// Equilateral triangle with circumradius 1, apex up.
const TRIANGLE = new Float64Array([0, -1, SQRT3_2, 0.5, -SQRT3_2, 0.5]);

/** Even-odd point-in-polygon test; `poly` is x0, y0, x1, y1, ... */
function inPolygon(poly: Float64Array, u: number, v: number): boolean {
  let inside = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
    if ((yi > v) !== (yj > v) && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether the local point (u, v) (unit disc frame) lies in a shape of this kind. */
export function insideLocal(kind: ShapeKind, u: number, v: number): boolean {
  const d2 = u * u + v * v;
  if (d2 > 1) return false;
  switch (kind) {
    case 'circle': return d2 <= 0.81;
    case 'square': return Math.abs(u) <= 0.7 && Math.abs(v) <= 0.7;
    case 'triangle': return inPolygon(TRIANGLE, u, v);
    case 'star': return inPolygon(STAR, u, v);
    case 'cross': {
      const au = Math.abs(u), av = Math.abs(v);
      return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95);
    }
    case 'ring': return d2 <= 0.81 && d2 >= 0.2025; // outer 0.9, inner 0.45
    case 'bar': return Math.abs(v) <= 0.28;
    case 'ell': return (v >= 0.35 && v <= 0.85 && u >= -0.7 && u <= 0.7) || (u >= -0.7 && u <= -0.2 && v >= -0.85 && v <= 0.85);
    case 'chevron': {
      const t = v - 0.9 * Math.abs(u);
      return Math.abs(u) <= 0.85 && t >= -0.55 && t <= -0.05;
    }
    case 'halfdisc': return v >= 0;
    case 'arc': return v <= 0.1 && d2 >= 0.36;
    case 'crescent': return (u - 0.45) * (u - 0.45) + v * v > 0.64;
    case 'fragment': return u <= 0.05 && inPolygon(STAR, u, v);
  }
}

/** Whether the pixel (x, y) of the image (its centre, (x + 0.5, y + 0.5)) lies in the shape. */
export function insidePixel(shape: Shape, x: number, y: number): boolean {
  const dx = x + 0.5 - shape.cx;
  const dy = y + 0.5 - shape.cy;
  const u = (dx * shape.cos + dy * shape.sin) / shape.r;
  const v = (dy * shape.cos - dx * shape.sin) / shape.r;
  return insideLocal(shape.kind, u, v);
}

/** The pixel indices `y * width + x` the shape covers inside a `width x height` image, in raster order. */
export function rasterize(shape: Shape, width: number, height: number): Int32Array {
  const x0 = Math.max(0, Math.floor(shape.cx - shape.r) - 1);
  const x1 = Math.min(width - 1, Math.ceil(shape.cx + shape.r) + 1);
  const y0 = Math.max(0, Math.floor(shape.cy - shape.r) - 1);
  const y1 = Math.min(height - 1, Math.ceil(shape.cy + shape.r) + 1);
  const out: number[] = [];
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) if (insidePixel(shape, x, y)) out.push(y * width + x);
  }
  return Int32Array.from(out);
}
