/**
 * Images in a browser: any file, blob, URL or element to RGBA pixels, through the browser's own
 * decoder. Node decodes files with `readImage` from `webgpu-lrp/node` instead.
 *
 * Colour management is off (`colorSpaceConversion: 'none'`) and alpha is not premultiplied, so a
 * PNG gives the bytes in the file, as Node's decoder does, and both sides explain the same input.
 */
import type { RgbaImage } from '../preprocess/image.ts';

/** What the browser's `readImage` decodes: a Blob or File, a URL (fetched), or an element or bitmap. */
export type ImageSource = Blob | URL | string | ImageBitmapSource;

/** Decodes an image in a browser to RGBA pixels (an `ImageData`, which is an `RgbaImage`). */
export async function readImage(source: ImageSource): Promise<RgbaImage> {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') {
    throw new Error("readImage from 'webgpu-lrp' needs a browser (createImageBitmap, OffscreenCanvas); in Node use the readImage of 'webgpu-lrp/node'");
  }
  let what: string;
  let input: ImageBitmapSource;
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, (globalThis as { location?: Location }).location?.href);
    what = url.href;
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(`${what}: cannot fetch the image (${(e as Error).message})`);
    }
    if (!res.ok) throw new Error(`${what}: ${res.status} ${res.statusText} (fetching the image)`);
    input = await res.blob();
  } else {
    what = source instanceof File ? source.name : source instanceof Blob ? `a ${source.type || 'blob'} of ${source.size} bytes` : 'the image';
    input = source;
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(input, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new Error(`${what}: the browser cannot decode it as an image (${(e as Error).message})`);
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (!g) throw new Error(`${what}: no 2D canvas to read the pixels with`);
    g.drawImage(bitmap, 0, 0);
    return g.getImageData(0, 0, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}
