import { writeFileNamedAsync } from './file-errors.ts';
import { PNG } from 'pngjs';
import type { RgbaImage } from '../preprocess/image.ts';

export function encodePng(img: RgbaImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png);
}

export async function writePng(path: string, img: RgbaImage): Promise<void> {
  await writeFileNamedAsync(path, encodePng(img));
}
