import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { readNpy, writeNpy } from '../src/node/npy-file.ts';
import { SHARED_DIR } from './helpers/shared.ts';

const SHARED = SHARED_DIR;
const VGG = join(SHARED, 'testvectors/zennit/vgg-tiny');
const haveVgg = existsSync(join(VGG, 'input.npy'));
if (!haveVgg) console.warn(`npy.test: ${VGG} is absent; skipping the tests on real .npy files`);

/** A .npy file built by hand, for the dtypes and versions our encoder does not write. */
function npyBytes(
  descr: string, shape: string, payload: Uint8Array, opts: { major?: number; fortran?: string; rawDescr?: boolean } = {},
): Uint8Array {
  const major = opts.major ?? 1;
  const pre = major === 1 ? 10 : 12;
  let header = `{'descr': ${opts.rawDescr ? descr : `'${descr}'`}, 'fortran_order': ${opts.fortran ?? 'False'}, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + header.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(payload, pre + header.length);
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe.skipIf(!haveVgg)('real files from numpy', () => {
  it('reads vgg-tiny input.npy (float32 [2,3,32,32])', () => {
    const bytes = readFileSync(join(VGG, 'input.npy'));
    const a = parseNpy(bytes, 'input.npy');
    expect(a.shape).toEqual([2, 3, 32, 32]);
    expect(a.dtype).toBe('<f4');
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(a.data.length).toBe(2 * 3 * 32 * 32);
    const f = npyToFloat32(a);
    expect(Array.from(f.subarray(0, 4))).toEqual([-0.7901525, -2.0346255, 0.60330176, 0.7442945].map(Math.fround));
    expect(f.reduce((s, v) => s + v, 0)).toBeCloseTo(-53.847, 2);
  });

  it('reads logits.npy and re-encodes both files byte for byte as numpy.save did', () => {
    const logits = parseNpy(readFileSync(join(VGG, 'logits.npy')));
    expect(logits.shape).toEqual([2, 10]);
    expect(logits.data[0]).toBeCloseTo(2.3954263, 6);
    for (const name of ['input.npy', 'logits.npy']) {
      const bytes = new Uint8Array(readFileSync(join(VGG, name)));
      const a = parseNpy(bytes, name);
      expect(encodeNpy(a.shape, a.data as Float32Array)).toEqual(bytes);
    }
  });

  it('readNpy reads from disk and names the path on failure', async () => {
    const a = await readNpy(join(VGG, 'logits.npy'));
    expect(a.shape).toEqual([2, 10]);
    await expect(readNpy(join(VGG, 'model.onnx'))).rejects.toThrow(/model\.onnx: bad magic/);
    await expect(readNpy(join(VGG, 'nope.npy'))).rejects.toThrow(/nope\.npy: cannot read/);
  });
});

describe('encodeNpy / parseNpy', () => {
  it('round-trips float32 and float64 of several ranks', () => {
    const cases: [number[], Float32Array | Float64Array][] = [
      [[2, 3], new Float32Array([1, -2.5, 3, Infinity, NaN, 1e-30])],
      [[5], new Float64Array([Math.PI, -0, 1e300, -1e-300, 7])],
      [[], new Float64Array([42])],
      [[0, 4], new Float32Array(0)],
      [[1, 2, 1, 2], new Float32Array([1, 2, 3, 4])],
    ];
    for (const [shape, data] of cases) {
      const bytes = encodeNpy(shape, data);
      const a = parseNpy(bytes);
      expect(a.shape).toEqual(shape);
      expect(a.dtype).toBe(data instanceof Float32Array ? '<f4' : '<f8');
      expect(a.data).toEqual(data);
    }
  });

  it('pads the v1.0 header to a multiple of 64 bytes, ending in a newline', () => {
    for (const shape of [[3], [123456789, 0], [1, 2, 3, 4, 5, 6, 7, 8]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const bytes = encodeNpy(shape, new Float32Array(n));
      const hlen = bytes[8] | (bytes[9] << 8);
      expect((10 + hlen) % 64).toBe(0);
      expect(bytes[10 + hlen - 1]).toBe(0x0a);
      expect(bytes.length).toBe(10 + hlen + 4 * n);
    }
    expect(new TextDecoder().decode(encodeNpy([3], new Float32Array(3)).subarray(10, 60)))
      .toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }".slice(0, 50));
  });

  it('rejects data that does not fit the shape', () => {
    expect(() => encodeNpy([2, 2], new Float32Array(3))).toThrow(/4 values, data has 3/);
    expect(() => encodeNpy([-1], new Float32Array(0))).toThrow(/invalid shape/);
  });

  it('reads the other supported dtypes and versions 2.0 and 3.0', () => {
    const i4 = parseNpy(npyBytes('<i4', '(3,)', bytesOf(new Int32Array([1, -2, 2147483647]))));
    expect(i4.data).toEqual(new Int32Array([1, -2, 2147483647]));
    const i8 = parseNpy(npyBytes('<i8', '(2,)', bytesOf(new BigInt64Array([5n, -7n]))), 'i8');
    expect(i8.data).toEqual(new BigInt64Array([5n, -7n]));
    expect(npyToFloat32(i8)).toEqual(new Float32Array([5, -7]));
    const u1 = parseNpy(npyBytes('|u1', '(2, 2)', new Uint8Array([0, 255, 7, 9])), 'u1');
    expect(u1).toEqual({ shape: [2, 2], dtype: '|u1', data: new Uint8Array([0, 255, 7, 9]) });
    const b1 = parseNpy(npyBytes('|b1', '(3,)', new Uint8Array([1, 0, 1])));
    expect(b1.dtype).toBe('|b1');
    expect(npyToFloat32(b1)).toEqual(new Float32Array([1, 0, 1]));
    for (const major of [2, 3]) {
      const f8 = parseNpy(npyBytes('<f8', '(1, 2)', bytesOf(new Float64Array([0.5, -1.5])), { major }));
      expect(f8.shape).toEqual([1, 2]);
      expect(f8.data).toEqual(new Float64Array([0.5, -1.5]));
    }
  });

  it('reads Fortran-order arrays into C order (numpy saves a transposed array that way)', () => {
    // a = [[0, 1, 2], [3, 4, 5]] in C order is 0 3 1 4 2 5 in Fortran order.
    const f = parseNpy(npyBytes('<f4', '(2, 3)', bytesOf(new Float32Array([0, 3, 1, 4, 2, 5])), { fortran: 'True' }));
    expect(f.shape).toEqual([2, 3]);
    expect(f.data).toEqual(new Float32Array([0, 1, 2, 3, 4, 5]));
    // Rank 3, [2, 3, 2]: element (i, j, k) holds 100 i + 10 j + k.
    const shape = [2, 3, 2];
    const fortran = new Float64Array(12);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) fortran[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
    const g = parseNpy(npyBytes('<f8', '(2, 3, 2)', bytesOf(fortran), { fortran: 'True' }));
    expect(g.shape).toEqual(shape);
    expect(Array.from(g.data as Float64Array)).toEqual([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);
  });

  it('copies data at an unaligned offset instead of failing', () => {
    const file = encodeNpy([3], new Float64Array([1.25, 2.5, -3]));
    const backing = new Uint8Array(file.length + 3);
    backing.set(file, 3);
    const a = parseNpy(backing.subarray(3));
    expect(a.data).toEqual(new Float64Array([1.25, 2.5, -3]));
    // Aligned input is viewed, not copied.
    const b = parseNpy(file);
    expect(b.data.buffer).toBe(file.buffer);
  });

  it('names the source and the problem in every error', () => {
    const good = encodeNpy([2, 2], new Float32Array([1, 2, 3, 4]));
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /x\.npy: truncated: 5 bytes/],
      [good.subarray(0, 40), /x\.npy: truncated header/],
      [good.subarray(0, good.length - 1), /x\.npy: truncated data: shape \[2, 2\] of <f4 needs 16 bytes, file has 15/],
      [new Uint8Array([...good, 0, 0]), /x\.npy: 2 unexpected bytes/],
      [new Uint8Array([0x89, ...good.subarray(1)]), /x\.npy: bad magic/],
      [new TextEncoder().encode('PK\x03\x04 this is a zip file'), /x\.npy: bad magic/],
      [npyBytes('>f4', '(1,)', new Uint8Array(4)), /x\.npy: unsupported dtype '>f4' \(big-endian\)/],
      [npyBytes('<f2', '(1,)', new Uint8Array(2)), /x\.npy: unsupported dtype '<f2'/],
      [npyBytes('<c8', '(1,)', new Uint8Array(8)), /unsupported dtype '<c8'/],
      [npyBytes('<f4', '(2, 2)', new Uint8Array(16), { fortran: '1' }), /x\.npy: header has no valid fortran_order/],
      [npyBytes('<f4', '(2, -2)', new Uint8Array(0)), /x\.npy: header has an invalid shape/],
      [npyBytes('<f4', '(2, 2', new Uint8Array(16)), /x\.npy: malformed header/],
      [npyBytes('<f4', '(1,)', new Uint8Array(4), { major: 4 }), /x\.npy: unsupported \.npy version 4\.0/],
    ];
    for (const [bytes, re] of cases) expect(() => parseNpy(bytes, 'x.npy')).toThrow(re);
    const structured = npyBytes("[('a', '<f4'), ('b', '<i4')]", '(1,)', new Uint8Array(8), { rawDescr: true });
    expect(() => parseNpy(structured, 'x.npy')).toThrow(/x\.npy: unsupported dtype .*structured/);
  });
});

describe('writeNpy', () => {
  it('round-trips through a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'npy-test-'));
    try {
      const path = join(dir, 'a.npy');
      await writeNpy(path, [2, 2], new Float32Array([1, 2, 3, 4]));
      const a = await readNpy(path);
      expect(a).toEqual({ shape: [2, 2], dtype: '<f4', data: new Float32Array([1, 2, 3, 4]) });
      await expect(writeNpy(join(dir, 'no/such/dir.npy'), [1], new Float32Array(1))).rejects.toThrow(/dir\.npy: cannot write/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
