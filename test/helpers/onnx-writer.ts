/**
 * A tiny protobuf / ONNX writer for tests: builds ModelProto bytes with the field numbers of
 * onnx/onnx.proto3, independently of the reader under test (src/graph/onnx/*).
 *
 * Supported: ModelProto (ir_version, producer_name, opset_import, graph), GraphProto (nodes,
 * name, initializers, inputs, outputs), NodeProto (inputs, outputs, name, op_type, domain,
 * attributes), AttributeProto (int, float, ints, floats, string, tensor), TensorProto (dims,
 * data_type, float_data, int64_data, raw_data for float and int64, external data), and
 * ValueInfoProto with a tensor type and shape (numeric or symbolic dims).
 */

// ---------------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------------

const WT_VARINT = 0;
const WT_FIXED64 = 1;
const WT_LEN = 2;
const WT_FIXED32 = 5;

/** Accumulates the bytes of one message. */
export class ProtoWriter {
  private readonly parts: number[] = [];

  private byte(b: number): void {
    this.parts.push(b & 0xff);
  }

  /** Unsigned varint, or a negative int64 as its ten-byte two's complement. */
  rawVarint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.byte(b);
    } while (x !== 0n);
  }

  private key(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  varint(field: number, v: number | bigint): this {
    this.key(field, WT_VARINT);
    this.rawVarint(v);
    return this;
  }

  float32(field: number, v: number): this {
    this.key(field, WT_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.byte(x);
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, WT_FIXED64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    for (const x of b) this.byte(x);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, WT_LEN);
    this.rawVarint(data.length);
    for (const x of data) this.byte(x);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter | Uint8Array): this {
    return this.bytes(field, m instanceof ProtoWriter ? m.finish() : m);
  }

  /** A packed repeated varint field (int64s may be negative). */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(v);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated float field. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(4 * values.length);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i], true);
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

// ---------------------------------------------------------------------------------------------
// ONNX messages
// ---------------------------------------------------------------------------------------------

export const FLOAT = 1;
export const INT64 = 7;
export const DOUBLE = 11;

export interface TensorSpec {
  name: string;
  dims: readonly number[];
  /** FLOAT (default) or INT64. */
  dataType?: number;
  /** The values (ignored for external tensors). */
  data?: ArrayLike<number>;
  /**
   * How the values are stored: `raw` (raw_data, little-endian, the default), or `typed`
   * (float_data / int64_data / double_data fields, packed).
   */
  encoding?: 'raw' | 'typed';
  /** data_location = EXTERNAL with these external_data entries (values as strings, as ONNX stores them). */
  external?: { location: string; offset?: number; length?: number; extra?: Record<string, string> };
}

/** Little-endian bytes of values as float32 (FLOAT), int64 (INT64) or float64 (DOUBLE). */
export function rawBytes(values: ArrayLike<number>, dataType: number = FLOAT): Uint8Array {
  const width = dataType === FLOAT ? 4 : 8;
  const b = new Uint8Array(width * values.length);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dataType === FLOAT) dv.setFloat32(4 * i, values[i], true);
    else if (dataType === INT64) dv.setBigInt64(8 * i, BigInt(values[i]), true);
    else if (dataType === DOUBLE) dv.setFloat64(8 * i, values[i], true);
    else throw new Error(`rawBytes: data type ${dataType} is not supported by the test writer`);
  }
  return b;
}

export function tensorProto(t: TensorSpec): ProtoWriter {
  const dataType = t.dataType ?? FLOAT;
  const w = new ProtoWriter();
  if (t.dims.length > 0) w.packedVarints(1, t.dims);
  w.varint(2, dataType);
  w.string(8, t.name);
  if (t.external) {
    const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
    w.message(13, entry('location', t.external.location));
    if (t.external.offset !== undefined) w.message(13, entry('offset', String(t.external.offset)));
    if (t.external.length !== undefined) w.message(13, entry('length', String(t.external.length)));
    for (const [k, v] of Object.entries(t.external.extra ?? {})) w.message(13, entry(k, v));
    w.varint(14, 1); // DataLocation.EXTERNAL
    return w;
  }
  const data = t.data ?? [];
  if ((t.encoding ?? 'raw') === 'raw') {
    w.bytes(9, rawBytes(data, dataType));
  } else if (dataType === FLOAT) {
    w.packedFloats(4, data);
  } else if (dataType === INT64) {
    w.packedVarints(7, Array.from(data));
  } else if (dataType === DOUBLE) {
    const inner = new Uint8Array(8 * data.length);
    for (let i = 0; i < data.length; i++) new DataView(inner.buffer).setFloat64(8 * i, data[i], true);
    w.bytes(10, inner);
  } else {
    throw new Error(`tensorProto: typed encoding of data type ${dataType} is not supported by the test writer`);
  }
  return w;
}

export type AttrValue =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { t: TensorSpec };

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function attributeProto(name: string, v: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if ('i' in v) w.varint(3, v.i).varint(20, ATTR_INT);
  else if ('f' in v) w.float32(2, v.f).varint(20, ATTR_FLOAT);
  else if ('s' in v) w.string(4, v.s).varint(20, ATTR_STRING);
  else if ('ints' in v) w.packedVarints(8, v.ints).varint(20, ATTR_INTS);
  else if ('floats' in v) w.packedFloats(7, v.floats).varint(20, ATTR_FLOATS);
  else w.message(5, tensorProto(v.t)).varint(20, ATTR_TENSOR);
  return w;
}

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
  /** Hand-made AttributeProto payloads, appended after `attrs` (for malformed-input tests). */
  rawAttrs?: readonly Uint8Array[];
}

/** Shorthand for a NodeSpec. */
export function node(
  op: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}, name?: string,
): NodeSpec {
  return { op, inputs, outputs, attrs, name };
}

function nodeProto(n: NodeSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name !== undefined) w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, attributeProto(k, v));
  for (const raw of n.rawAttrs ?? []) w.message(5, raw);
  if (n.domain !== undefined) w.string(7, n.domain);
  return w;
}

export interface ValueSpec {
  name: string;
  /** Numbers are dim_value, strings dim_param (symbolic, e.g. 'N'). Omit for no shape. */
  dims?: readonly (number | string)[];
  elemType?: number;
}

function valueInfoProto(v: ValueSpec): ProtoWriter {
  const tensor = new ProtoWriter().varint(1, v.elemType ?? FLOAT);
  if (v.dims) {
    const shape = new ProtoWriter();
    for (const d of v.dims) {
      shape.message(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
    }
    tensor.message(2, shape);
  }
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensor));
}

export interface ModelSpec {
  nodes: readonly NodeSpec[];
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  initializers?: readonly TensorSpec[];
  /** Default opset 13 of the default domain. */
  opset?: number;
  /** Extra opset imports, e.g. `{ 'ai.onnx.ml': 3 }`. */
  extraOpsets?: Record<string, number>;
  graphName?: string;
  irVersion?: number;
  producer?: string;
}

export function modelProto(m: ModelSpec): Uint8Array {
  const g = new ProtoWriter();
  for (const n of m.nodes) g.message(1, nodeProto(n));
  g.string(2, m.graphName ?? 'test-graph');
  for (const t of m.initializers ?? []) g.message(5, tensorProto(t));
  for (const v of m.inputs) g.message(11, valueInfoProto(v));
  for (const v of m.outputs) g.message(12, valueInfoProto(v));
  const w = new ProtoWriter()
    .varint(1, m.irVersion ?? 7)
    .string(2, m.producer ?? 'webgpu-lrp tests');
  w.message(8, new ProtoWriter().string(1, '').varint(2, m.opset ?? 13));
  for (const [domain, version] of Object.entries(m.extraOpsets ?? {})) {
    w.message(8, new ProtoWriter().string(1, domain).varint(2, version));
  }
  w.message(7, g);
  return w.finish();
}
