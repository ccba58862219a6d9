/**
 * EXIF orientation is applied before preprocessing (as PIL's exif_transpose and browsers do):
 * every orientation 1..8 of a JPEG against sharp's own auto-rotation, the PNG eXIf chunk, and the
 * CLI's input path: an image stored sideways and tagged 6 or 8 gives the upright image's tensor
 * (so its logits), where it used to give the untagged one's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/node/model-file.ts';
import { decodeImage } from '../src/node/image-decode.ts';
import { loadInputs } from '../src/node/inputs.ts';
import { exifOrientation, orientImage } from '../src/preprocess/orientation.ts';
import { DEMO_MODEL } from '../src/node/demo/run.ts';

const W = 12, H = 7;
/** A non-symmetric test card: every pixel different. */
const card = (() => {
  const d = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) d.set([x * 20, y * 35, (x * 7 + y * 13) % 256, 255], 4 * (y * W + x));
  return { width: W, height: H, data: d };
})();

async function raw(buf: Buffer, rotate: boolean): Promise<{ width: number; height: number; data: Uint8Array }> {
  const s = rotate ? sharp(buf).rotate() : sharp(buf);
  const { data, info } = await s.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/** A PNG with an eXIf chunk (big-endian TIFF with one IFD entry, Orientation = o) before IDAT. */
function pngWithExif(img: { width: number; height: number; data: Uint8Array }, o: number): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data.set(img.data);
  const bytes = PNG.sync.write(png);
  const tiff = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0, 0, 0, 0, 0, 0, 0]);
  const type = Buffer.from('eXIf', 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(tiff.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, tiff])));
  const ihdrEnd = 8 + 8 + 13 + 4;
  return Buffer.concat([bytes.subarray(0, ihdrEnd), len, type, tiff, crc, bytes.subarray(ihdrEnd)]);
}

const tmp = mkdtempSync(join(tmpdir(), 'lrp-exif-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('EXIF orientation', () => {
  it('JPEG orientations 1..8 decode as sharp auto-rotates them', async () => {
    const upright = await sharp(Buffer.from(card.data), { raw: { width: W, height: H, channels: 4 } }).jpeg({ quality: 100 }).toBuffer();
    for (let o = 1; o <= 8; o++) {
      const tagged = await sharp(upright).withMetadata({ orientation: o }).jpeg({ quality: 100 }).toBuffer();
      expect(exifOrientation(tagged), `orientation ${o}`).toBe(o);
      const ours = await decodeImage(tagged, `o${o}.jpg`);
      const want = await raw(tagged, true);
      expect([ours.width, ours.height], `orientation ${o}`).toEqual([want.width, want.height]);
      expect(Buffer.from(ours.data).equals(Buffer.from(want.data)), `orientation ${o}: pixels`).toBe(true);
      expect(ours.orientation).toBe(o === 1 ? undefined : o);
    }
  });

  it('a PNG eXIf chunk is applied; damaged or absent EXIF counts as upright', async () => {
    const sideways = orientImage(card, 8); // stored turned; orientation 6 turns it back
    const png = pngWithExif({ width: sideways.width, height: sideways.height, data: sideways.data as Uint8Array }, 6);
    expect(exifOrientation(png)).toBe(6);
    const img = await decodeImage(png, 'x.png');
    expect([img.width, img.height]).toEqual([W, H]);
    expect(Buffer.from(img.data).equals(Buffer.from(card.data))).toBe(true);
    expect(exifOrientation(Uint8Array.from([0xff, 0xd8, 0xff, 0xe1, 0, 4, 0x45, 0x78]))).toBe(1);
    expect(exifOrientation(pngWithExif(card, 9))).toBe(1);
  });

  it('the CLI input path: images tagged 6 and 8, stored sideways, give the upright image\'s model input', async () => {
    const model = loadModel(DEMO_MODEL);
    const size = 64;
    const up = new Uint8Array(size * 48 * 4);
    for (let i = 0; i < up.length; i += 4) up.set([(i * 7) % 256, (i * 3) % 256, (i * 11) % 256, 255], i);
    const upright = { width: size, height: 48, data: up };
    const write = (name: string, img: { width: number; height: number; data: Uint8Array }, o: number | null) => {
      const path = join(tmp, name);
      if (o === null) {
        const png = new PNG({ width: img.width, height: img.height });
        png.data.set(img.data);
        writeFileSync(path, PNG.sync.write(png));
      } else {
        writeFileSync(path, pngWithExif(img, o));
      }
      return path;
    };
    // Stored rotated the other way, so that applying the tag restores the upright image.
    const for6 = orientImage(upright, 8), for8 = orientImage(upright, 6);
    const paths = [
      write('upright.png', upright, null),
      write('tag6.png', for6 as never, 6),
      write('tag8.png', for8 as never, 8),
      write('untagged-sideways.png', for6 as never, null),
    ];
    const inputs = await loadInputs(paths, model.graph, model.preprocess, '');
    const per = inputs.data.length / 4;
    const sample = (n: number) => inputs.data.subarray(n * per, (n + 1) * per);
    expect(sample(1)).toEqual(sample(0));
    expect(sample(2)).toEqual(sample(0));
    expect(sample(3)).not.toEqual(sample(0));
  });
});
