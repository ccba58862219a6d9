/**
 * JPEG and PNG files to RGBA pixels. JPEG goes through sharp (libvips on libjpeg-turbo): the
 * decoder Pillow, torchvision and Caffe pipelines use, so our pixels are theirs (a pure-JS
 * decoder rounds colour conversion and chroma upsampling differently, enough to reorder near-tied
 * classes), and several times faster, which a 50,000-image evaluation feels. PNG is lossless, so
 * pngjs gives the same pixels as any decoder. EXIF orientation (JPEG APP1, PNG eXIf) is applied
 * after decoding (preprocess/orientation.ts), as PIL's exif_transpose and browsers do.
 */
import { readRegularFileAsync } from './contained-path.ts';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import type { RgbaImage } from '../preprocess/image.ts';
import { exifOrientation, orientImage } from '../preprocess/orientation.ts';

type Format = 'jpeg' | 'png';

const SIGNATURES: { name: string; bytes: (number | null)[] }[] = [
  { name: 'jpeg', bytes: [0xff, 0xd8, 0xff] },
  { name: 'png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { name: 'GIF', bytes: [0x47, 0x49, 0x46, 0x38] },
  { name: 'BMP', bytes: [0x42, 0x4d] },
  { name: 'WebP', bytes: [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50] },
  { name: 'TIFF', bytes: [0x49, 0x49, 0x2a, 0x00] },
  { name: 'TIFF', bytes: [0x4d, 0x4d, 0x00, 0x2a] },
];

/** By content, not extension: some dataset files named .JPEG are PNGs (ImageNet has a few). */
export function detectImageFormat(bytes: Uint8Array): string | null {
  for (const s of SIGNATURES) {
    if (bytes.length >= s.bytes.length && s.bytes.every((b, i) => b === null || bytes[i] === b)) return s.name;
  }
  return null;
}

/** Decodes JPEG or PNG bytes; every failure is an Error naming `source` and the cause. */
export async function decodeImage(bytes: Uint8Array, source: string): Promise<RgbaImage> {
  if (bytes.length === 0) throw new Error(`${source}: empty file`);
  const format = detectImageFormat(bytes);
  if (format !== 'jpeg' && format !== 'png') {
    throw new Error(`${source}: unsupported image format (${format ?? 'unrecognised content'}); JPEG and PNG are supported`);
  }
  let img: RgbaImage;
  try {
    img = format === 'jpeg' ? await decodeJpeg(bytes) : decodePng(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // The decoders' own messages ("marker was not found", "read requests waiting on finished
    // stream") do not say that the usual cause is a cut-off download.
    const hint = looksTruncated(bytes, format) ? `truncated ${format.toUpperCase()} (no end marker)` : `corrupt ${format.toUpperCase()}`;
    throw new Error(`${source}: ${hint}: ${msg}`);
  }
  if (!(img.width > 0 && img.height > 0) || img.data.length !== img.width * img.height * 4) {
    throw new Error(`${source}: ${format.toUpperCase()} decoded to an invalid ${img.width}x${img.height} image`);
  }
  return orientImage(img, exifOrientation(bytes));
}

export async function readImage(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    // A regular file only, read within its size (contained-path.ts): a FIFO or /dev/zero given as
    // an image must not block or fill the memory.
    bytes = await readRegularFileAsync(path, 'image');
  } catch (e) {
    const m = (e as Error).message;
    const own = [`${path}: cannot read the image: `, `${path}: `].find((p) => m.startsWith(p));
    throw new Error(`${path}: cannot read image: ${own ? m.slice(own.length) : m}`);
  }
  return decodeImage(bytes, path);
}

async function decodeJpeg(bytes: Uint8Array): Promise<RgbaImage> {
  // failOn 'warning': libjpeg's "premature end of data" must be an error, not a grey bottom half.
  // limitInputPixels off: dataset photos are trusted, and refusing a large one would shrink a run.
  const { data, info } = await sharp(bytes, { failOn: 'warning', limitInputPixels: false })
    .toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels, expected RGBA`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function decodePng(bytes: Uint8Array): RgbaImage {
  // pngjs always hands back 8-bit RGBA (grey and palette expanded, 16-bit rescaled).
  const r = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { width: r.width, height: r.height, data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) };
}

function looksTruncated(bytes: Uint8Array, format: Format): boolean {
  // Look near the end only: encoders may append a few bytes of padding or metadata after it.
  const tail = bytes.subarray(Math.max(0, bytes.length - 4096));
  const marker = format === 'jpeg' ? [0xff, 0xd9] : [0x49, 0x45, 0x4e, 0x44]; // EOI; IEND
  for (let i = tail.length - marker.length; i >= 0; i--) {
    if (marker.every((b, k) => tail[i + k] === b)) return false;
  }
  return true;
}
