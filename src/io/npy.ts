/**
 * NumPy `.npy` reading and writing on plain bytes, so the same code serves Node and the browser.
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */

export type NpyDtype = '<f4' | '<f8' | '<i4' | '<i8' | '|u1' | '|b1';
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NpyArray {
  shape: number[];
  /** The descr as numpy writes it on a little-endian machine. `|b1` (bool) comes back as 0/1 bytes. */
  dtype: NpyDtype;
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const ITEM: Record<NpyDtype, { size: number; view: (buf: ArrayBuffer, off: number, n: number) => NpyData }> = {
  '<f4': { size: 4, view: (b, o, n) => new Float32Array(b, o, n) },
  '<f8': { size: 8, view: (b, o, n) => new Float64Array(b, o, n) },
  '<i4': { size: 4, view: (b, o, n) => new Int32Array(b, o, n) },
  '<i8': { size: 8, view: (b, o, n) => new BigInt64Array(b, o, n) },
  '|u1': { size: 1, view: (b, o, n) => new Uint8Array(b, o, n) },
  '|b1': { size: 1, view: (b, o, n) => new Uint8Array(b, o, n) },
};

// numpy spells single-byte and native-order types in several ways; map them onto one name.
const DESCR_ALIASES: Record<string, NpyDtype> = {
  '<f4': '<f4', '=f4': '<f4', '<f8': '<f8', '=f8': '<f8',
  '<i4': '<i4', '=i4': '<i4', '<i8': '<i8', '=i8': '<i8',
  '|u1': '|u1', '<u1': '|u1', '=u1': '|u1', '|b1': '|b1', '<b1': '|b1', '=b1': '|b1',
};

// Typed arrays use the host's byte order; every platform WebGPU runs on is little-endian.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** What a `.npy` header says: enough to read the payload, whole or in slices. */
export interface NpyHeader {
  shape: number[];
  dtype: NpyDtype;
  fortranOrder: boolean;
  /** Bytes before the payload. */
  dataStart: number;
  /** Bytes per element. */
  itemSize: number;
}

/**
 * Parses the preamble and header of a `.npy` file from its first bytes (which must include the
 * whole header: `dataStart` of them).
 */
export function parseNpyHeader(bytes: Uint8Array, source = 'npy'): NpyHeader {
  const fail = (what: string): never => { throw new Error(`${source}: ${what}`); };
  if (!HOST_LITTLE_ENDIAN) fail('reading .npy needs a little-endian host');
  if (bytes.length < 10) fail(`truncated: ${bytes.length} bytes is shorter than the .npy preamble`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) fail('bad magic, not a .npy file');

  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated preamble');
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported .npy version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) fail(`truncated header: needs ${dataStart} bytes, file has ${bytes.length}`);
  // v3.0 only differs by allowing UTF-8 in the header; a plain-ASCII dict reads the same.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const dict = parseHeader(header, fail);

  const descr = dict.descr;
  if (typeof descr !== 'string') return fail(`unsupported dtype ${JSON.stringify(descr)} (structured arrays are not supported)`);
  const dtype = DESCR_ALIASES[descr];
  if (!dtype) {
    const hint = descr.startsWith('>') ? ' (big-endian)' : '';
    return fail(`unsupported dtype '${descr}'${hint}; supported: ${Object.keys(ITEM).join(', ')}`);
  }
  if (dict.fortran_order !== false && dict.fortran_order !== true) fail('header has no valid fortran_order');
  const shapeVal = dict.shape;
  if (!Array.isArray(shapeVal) || !shapeVal.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    return fail(`header has an invalid shape ${JSON.stringify(shapeVal)}`);
  }
  return { shape: shapeVal as number[], dtype, fortranOrder: dict.fortran_order === true, dataStart, itemSize: ITEM[dtype].size };
}

/**
 * Parses a whole `.npy` file. The returned data may share memory with `bytes` when the payload is
 * suitably aligned; it is copied when it is not (typed arrays cannot view misaligned offsets).
 * A Fortran-order payload comes back in C order.
 */
export function parseNpy(bytes: Uint8Array, source = 'npy'): NpyArray {
  const fail = (what: string): never => { throw new Error(`${source}: ${what}`); };
  const { shape, dtype, fortranOrder, dataStart } = parseNpyHeader(bytes, source);
  const count = shape.reduce((a, b) => a * b, 1);
  const { size, view } = ITEM[dtype];
  const byteLen = count * size;
  const have = bytes.length - dataStart;
  if (have < byteLen) fail(`truncated data: shape [${shape.join(', ')}] of ${dtype} needs ${byteLen} bytes, file has ${have}`);
  if (have > byteLen) fail(`${have - byteLen} unexpected bytes after the data of shape [${shape.join(', ')}] ${dtype}`);

  const off = bytes.byteOffset + dataStart;
  const data = off % size === 0
    ? view(bytes.buffer as ArrayBuffer, off, count)
    : view(bytes.slice(dataStart, dataStart + byteLen).buffer, 0, count);
  return { shape, dtype, data: fortranOrder ? fortranToC(data, shape) : data };
}

/**
 * A Fortran-order payload (numpy saves a transposed array that way, e.g. `np.save(f, w.T)`)
 * copied into C order, so every reader sees one layout.
 */
function fortranToC(data: NpyData, shape: readonly number[]): NpyData {
  if (shape.filter((d) => d > 1).length <= 1) return data; // one non-trivial axis: the orders agree
  const out = new (data.constructor as new (n: number) => NpyData)(data.length);
  const rank = shape.length;
  // Fortran strides: axis 0 is contiguous.
  const fStride = new Array<number>(rank);
  for (let k = 0, s = 1; k < rank; k++) {
    fStride[k] = s;
    s *= shape[k];
  }
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let c = 0; c < data.length; c++) {
    out[c] = data[src] as never;
    // Next C-order index: the last axis moves fastest.
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]++;
      src += fStride[k];
      if (idx[k] < shape[k]) break;
      src -= idx[k] * fStride[k];
      idx[k] = 0;
    }
  }
  return out;
}

/** Converts any parsed array to float32 (int64 goes through Number). Returns `data` itself when already float32. */
export function npyToFloat32(parsed: Pick<NpyArray, 'data'>): Float32Array {
  const d = parsed.data;
  if (d instanceof Float32Array) return d;
  const out = new Float32Array(d.length);
  if (d instanceof BigInt64Array) for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  else out.set(d);
  return out;
}

/**
 * Encodes a C-order float array as .npy v1.0, byte-identical to `numpy.save`: sorted dict keys,
 * numpy's spare space for growing the first axis, then spaces and `\n` up to a multiple of 64.
 */
export function encodeNpy(shape: readonly number[], data: Float32Array | Float64Array): Uint8Array {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`encodeNpy: invalid shape [${shape.join(', ')}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  if (!HOST_LITTLE_ENDIAN) throw new Error('encodeNpy: writing .npy needs a little-endian host');

  const descr = data instanceof Float32Array ? '<f4' : '<f8';
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS: room to rewrite the header in place when appending.
  if (shape.length > 0) header += ' '.repeat(Math.max(0, 21 - String(shape[0]).length));
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (header.length > 0xffff) throw new Error('encodeNpy: header too long for .npy v1.0');

  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

/** A reader for the Python literal subset numpy writes in headers: dicts, tuples, lists, str, int, bool, None. */
function parseHeader(text: string, fail: (what: string) => never): Record<string, PyValue> {
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const bad = (what: string): never => fail(`malformed header (${what} at offset ${i}): ${JSON.stringify(text.trim())}`);
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, PyValue> = {};
      for (;;) {
        ws();
        if (text[i] === '}') { i++; return obj; }
        const k = value();
        if (typeof k !== 'string') bad('non-string key');
        ws();
        if (text[i++] !== ':') bad("expected ':'");
        obj[k as string] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') bad("expected ',' or '}'");
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const arr: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) { i++; return arr; }
        arr.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) bad(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) bad('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+)L?/.exec(text.slice(i));
    if (!m) return bad('unexpected token');
    i += m[0].length;
    return m[1] === 'True' ? true : m[1] === 'False' ? false : m[1] === 'None' ? null : Number(m[1]);
  };
  const v = value();
  ws();
  if (i !== text.length) bad('trailing text');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad('header is not a dict');
  return v as Record<string, PyValue>;
}
