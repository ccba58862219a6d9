/**
 * EXIF orientation, applied to decoded pixels before preprocessing, as PIL's
 * `ImageOps.exif_transpose` and browsers (`image-orientation: from-image`, createImageBitmap's
 * default) do: a phone photo stored sideways with orientation 6 is classified upright.
 *
 * The tag (0x0112) is read from a JPEG's APP1 "Exif" segment or a PNG's eXIf chunk. Values 1..8
 * are the TIFF ones; anything else (absent, 0, 9+, a damaged EXIF block) counts as 1: metadata
 * that cannot be read does not stop an image that decodes. Browser-safe (bytes in, pixels out).
 */
import type { RgbaImage } from './image.ts';

function tiffOrientation(b: Uint8Array, start: number, end: number): number {
  if (end - start < 8) return 1;
  const le = b[start] === 0x49 && b[start + 1] === 0x49;
  const be = b[start] === 0x4d && b[start + 1] === 0x4d;
  if (!le && !be) return 1;
  const u16 = (o: number) => (le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
  const u32 = (o: number) => (le ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000 : b[o] * 0x1000000 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]));
  if (u16(start + 2) !== 42) return 1;
  const ifd = start + u32(start + 4);
  if (ifd + 2 > end) return 1;
  const n = u16(ifd);
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + 12 * k;
    if (e + 12 > end) return 1;
    if (u16(e) === 0x0112) {
      const v = u16(e + 2) === 3 ? u16(e + 8) : 0; // SHORT
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/** The EXIF orientation of JPEG or PNG bytes, 1 when there is none. */
export function exifOrientation(b: Uint8Array): number {
  if (b.length > 4 && b[0] === 0xff && b[1] === 0xd8) {
    let p = 2;
    while (p + 4 <= b.length && b[p] === 0xff) {
      const marker = b[p + 1];
      if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        p += 2;
        continue;
      }
      if (marker === 0xda || marker === 0xd9) break; // image data: EXIF comes before it
      const len = (b[p + 2] << 8) | b[p + 3];
      const body = p + 4;
      if (marker === 0xe1 && len >= 8 && b[body] === 0x45 && b[body + 1] === 0x78 && b[body + 2] === 0x69 && b[body + 3] === 0x66
        && b[body + 4] === 0 && b[body + 5] === 0) {
        return tiffOrientation(b, body + 6, Math.min(b.length, p + 2 + len));
      }
      p += 2 + len;
    }
    return 1;
  }
  if (b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    let p = 8;
    while (p + 12 <= b.length) {
      const len = ((b[p] << 24) >>> 0) + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
      const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
      if (type === 'eXIf') return tiffOrientation(b, p + 8, Math.min(b.length, p + 8 + len));
      if (type === 'IEND') break;
      p += 12 + len;
    }
  }
  return 1;
}

/** The pixels as orientation `o` says to show them (5..8 swap width and height). */
export function orientImage(img: RgbaImage, o: number): RgbaImage {
  if (!(o >= 2 && o <= 8)) return img;
  const { width: W, height: H, data } = img;
  const swap = o >= 5;
  const w = swap ? H : W, h = swap ? W : H;
  const out = new Uint8Array(w * h * 4);
  // Output (x, y) takes source (sx, sy).
  const src: (x: number, y: number) => number = {
    2: (x: number, y: number) => y * W + (W - 1 - x),
    3: (x: number, y: number) => (H - 1 - y) * W + (W - 1 - x),
    4: (x: number, y: number) => (H - 1 - y) * W + x,
    5: (x: number, y: number) => x * W + y,
    6: (x: number, y: number) => (H - 1 - x) * W + y,
    7: (x: number, y: number) => (H - 1 - x) * W + (W - 1 - y),
    8: (x: number, y: number) => x * W + (W - 1 - y),
  }[o]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = 4 * src(x, y), d = 4 * (y * w + x);
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
      out[d + 3] = data[s + 3];
    }
  }
  return { width: w, height: h, data: out, orientation: o };
}
