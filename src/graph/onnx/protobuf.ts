/**
 * A minimal protobuf wire-format reader: just enough to walk ONNX's ModelProto without a schema
 * compiler or a dependency. Every read is bounds-checked, so a truncated or corrupt file becomes
 * an Error with the byte offset, never an out-of-range read or an endless loop.
 */

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

export class ProtobufError extends Error {}

export interface Field {
  readonly number: number;
  readonly wireType: WireType;
  /** Varint value (as a JS number; ONNX dims and enums fit in 2^53). */
  readonly varint: number;
  /** Payload of a length-delimited field, a view into the file's bytes. */
  readonly bytes: Uint8Array;
  /** Offset of the field in the whole buffer, for messages. */
  readonly offset: number;
}

export class Reader {
  private pos: number;
  private readonly end: number;

  constructor(private readonly buf: Uint8Array, start = 0, end = buf.length, private readonly base = 0) {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private error(msg: string): never {
    throw new ProtobufError(`${msg} at byte ${this.base + this.pos}`);
  }

  varint(): number {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.error('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return result;
      shift *= 128;
    }
    return this.error('varint longer than 10 bytes');
  }

  /** Reads a varint as a signed 64-bit value (protobuf int64 encodes negatives in two's complement). */
  int64(): number {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return Number(BigInt.asIntN(64, result));
      shift += 7n;
    }
    return this.error('varint longer than 10 bytes');
  }

  private readBack(start: number): number {
    const end = this.pos;
    this.pos = start;
    const v = this.varint();
    this.pos = end;
    return v;
  }

  private take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.end) this.error(`field of ${n} bytes runs past the end of its message`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  next(): Field {
    const offset = this.base + this.pos;
    const key = this.varint();
    const number = Math.floor(key / 8);
    const wireType = key & 7;
    if (number === 0) this.error('field number 0');
    switch (wireType) {
      case WireType.Varint: {
        const start = this.pos;
        this.varint();
        // Keep the raw bytes too, so int64 fields can be re-read as signed without precision loss.
        return { number, wireType, varint: this.readBack(start), bytes: this.buf.subarray(start, this.pos), offset };
      }
      case WireType.Fixed64:
        return { number, wireType, varint: 0, bytes: this.take(8), offset };
      case WireType.LengthDelimited: {
        const len = this.varint();
        return { number, wireType, varint: 0, bytes: this.take(len), offset };
      }
      case WireType.Fixed32:
        return { number, wireType, varint: 0, bytes: this.take(4), offset };
      default:
        return this.error(`unsupported wire type ${wireType} (field ${number})`);
    }
  }
}

const EMPTY = new Uint8Array(0);

/** Iterates the fields of one message. */
export function* fields(bytes: Uint8Array, base = 0): Generator<Field> {
  const r = new Reader(bytes, 0, bytes.length, base);
  while (!r.done) yield r.next();
}

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'group start', 'group end', 'fixed32'];

/**
 * Throws unless `f` has one of the wire types its schema allows: a field of another wire type
 * would otherwise be read as bytes it does not hold (a float from a 1-byte varint reads past it).
 */
export function expectWireType(f: Field, ...allowed: WireType[]): void {
  if (!allowed.includes(f.wireType)) {
    throw new ProtobufError(
      `field ${f.number} has wire type ${WIRE_NAMES[f.wireType] ?? f.wireType}, expected ${allowed.map((w) => WIRE_NAMES[w]).join(' or ')} at byte ${f.offset}`,
    );
  }
}

/** Decodes a packed repeated varint field (or a single unpacked element). */
export function varints(f: Field, signed = false): number[] {
  expectWireType(f, WireType.Varint, WireType.LengthDelimited);
  if (f.wireType === WireType.Varint) {
    return [signed ? new Reader(f.bytes, 0, f.bytes.length, f.offset).int64() : f.varint];
  }
  const r = new Reader(f.bytes, 0, f.bytes.length, f.offset);
  const out: number[] = [];
  while (!r.done) out.push(signed ? r.int64() : r.varint());
  return out;
}

const utf8 = new TextDecoder('utf-8');
export function str(f: Field): string {
  expectWireType(f, WireType.LengthDelimited);
  return utf8.decode(f.bytes);
}

export function float32(f: Field): number {
  expectWireType(f, WireType.Fixed32);
  return new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true);
}
