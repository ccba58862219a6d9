/** Captions for the README's pictures (scripts/docs-*.ts): a 3x5 pixel font, drawn 2x. */
import type { RgbaImage } from '../../src/preprocess/image.ts';

// Enough for lower-case names, digits and "-", ".", ",".
const GLYPHS: Record<string, string> = {
  a: '010101111101101', b: '110101110101110', c: '011100100100011', d: '110101101101110', e: '111100110100111',
  f: '111100110100100', g: '011100101101011', h: '101101111101101', i: '111010010010111', k: '101101110101101',
  l: '100100100100111', m: '101111111101101', n: '110101101101101', o: '010101101101010', p: '110101110100100',
  r: '110101110101101', s: '011100010001110', t: '111010010010010', u: '101101101101111', v: '101101101101010',
  w: '101101111111101', x: '101101010101101', y: '101101010010010', z: '111001010100111', '-': '000000111000000', ' ': '000000000000000',
  j: '001001001101010', q: '010101101011001', '.': '000000000000010', ',': '000000000010100',
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111', '4': '101101111001001',
  '5': '111100111001111', '6': '111100111101111', '7': '111001001010010', '8': '111101111101111', '9': '111101111001111',
};

/** Draws `text` with its top-left corner at (x0, y0), 8 pixels a character, 10 high. */
export function caption(img: RgbaImage, text: string, x0: number, y0: number): void {
  let x = x0;
  for (const ch of text) {
    const g = GLYPHS[ch] ?? GLYPHS[' '];
    for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) {
      if (g[r * 3 + c] !== '1') continue;
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
        const o = 4 * ((y0 + 2 * r + dy) * img.width + x + 2 * c + dx);
        img.data[o] = 30; img.data[o + 1] = 30; img.data[o + 2] = 30;
      }
    }
    x += 8;
  }
}

