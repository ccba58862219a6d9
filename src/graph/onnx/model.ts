/**
 * Decodes the parts of an ONNX ModelProto that a feedforward CNN uses into plain objects.
 * Field numbers are those of onnx/onnx.proto3; fields we have no use for are skipped.
 */
import { expectWireType, fields, float32, ProtobufError, str, varints, WireType, type Field } from './protobuf.ts';

export const enum DataType {
  FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, STRING = 8,
  BOOL = 9, FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 = 13, BFLOAT16 = 16,
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Numeric contents, widened to float64 (shape constants) or kept as float32 (weights). */
  data: Float32Array | Float64Array;
}

export interface OnnxAttribute {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  floats?: number[];
  ints?: number[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** A number per known dimension, a string for a symbolic one (`N`, `batch`), null when absent. */
  dims: (number | string | null)[] | null;
}

export interface OnnxModel {
  irVersion: number;
  producer: string;
  opsets: Map<string, number>;
  graphName: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

/** Reads the bytes an external-data tensor points to: `location` is relative to the model file. */
export type ExternalDataReader = (location: string, offset: number, length: number | null) => Uint8Array;

export interface DecodeOptions {
  /** Named in every error, e.g. the model's path. */
  source: string;
  externalData?: ExternalDataReader;
}

export function decodeModel(bytes: Uint8Array, opts: DecodeOptions): OnnxModel {
  try {
    return decodeModelProto(bytes, opts);
  } catch (e) {
    if (e instanceof ProtobufError) {
      throw new Error(`${opts.source}: not a readable ONNX model (corrupt or truncated protobuf: ${e.message})`);
    }
    throw e;
  }
}

function decodeModelProto(bytes: Uint8Array, opts: DecodeOptions): OnnxModel {
  const model: OnnxModel = {
    irVersion: 0, producer: '', opsets: new Map(), graphName: '', nodes: [],
    initializers: new Map(), inputs: [], outputs: [],
  };
  let sawGraph = false;
  for (const f of fields(bytes)) {
    if (f.number === 1 && f.wireType === WireType.Varint) model.irVersion = f.varint;
    else if (f.number === 2 && f.wireType === WireType.LengthDelimited) model.producer = str(f);
    else if (f.number === 8 && f.wireType === WireType.LengthDelimited) {
      let domain = '';
      let version = 0;
      for (const g of fields(f.bytes, f.offset)) {
        if (g.number === 1) domain = str(g);
        else if (g.number === 2) version = g.varint;
      }
      model.opsets.set(domain === 'ai.onnx' ? '' : domain, version);
    } else if (f.number === 7 && f.wireType === WireType.LengthDelimited) {
      decodeGraph(f, model, opts);
      sawGraph = true;
    }
  }
  if (!sawGraph) throw new Error(`${opts.source}: not an ONNX model (no graph found)`);
  return model;
}

function decodeGraph(g: Field, model: OnnxModel, opts: DecodeOptions): void {
  for (const f of fields(g.bytes, g.offset)) {
    if (f.wireType !== WireType.LengthDelimited) continue;
    switch (f.number) {
      case 1: model.nodes.push(decodeNode(f, opts)); break;
      case 2: model.graphName = str(f); break;
      case 5: {
        const t = decodeTensor(f, opts);
        model.initializers.set(t.name, t);
        break;
      }
      case 11: model.inputs.push(decodeValueInfo(f)); break;
      case 12: model.outputs.push(decodeValueInfo(f)); break;
      case 15: throw new Error(`${opts.source}: sparse initializers are not supported`);
    }
  }
}

function decodeNode(n: Field, opts: DecodeOptions): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: new Map() };
  for (const f of fields(n.bytes, n.offset)) {
    switch (f.number) {
      case 1: node.inputs.push(str(f)); break;
      case 2: node.outputs.push(str(f)); break;
      case 3: node.name = str(f); break;
      case 4: node.opType = str(f); break;
      case 5: {
        const a = decodeAttribute(f, opts);
        node.attributes.set(a.name, a);
        break;
      }
      case 7: node.domain = str(f); break;
    }
  }
  return node;
}

function decodeAttribute(a: Field, opts: DecodeOptions): OnnxAttribute {
  const attr: OnnxAttribute = { name: '' };
  let type = 0;
  for (const f of fields(a.bytes, a.offset)) {
    switch (f.number) {
      case 1: attr.name = str(f); break;
      case 2: attr.f = float32(f); break;
      case 3: attr.i = varints(f, true)[0]; break;
      case 4: attr.s = str(f); break;
      case 5: attr.t = decodeTensor(f, opts); break;
      case 7: (attr.floats ??= []).push(...floats(f)); break;
      case 8: (attr.ints ??= []).push(...varints(f, true)); break;
      case 20: type = f.varint; break;
    }
  }
  // proto3 leaves a zero scalar off the wire: an attribute typed INT or FLOAT with no value is 0,
  // not absent (`group = 0` must reach the checks rather than read as the default 1).
  if (type === ATTR_FLOAT && attr.f === undefined) attr.f = 0;
  if (type === ATTR_INT && attr.i === undefined) attr.i = 0;
  if (type === ATTR_STRING && attr.s === undefined) attr.s = '';
  return attr;
}

/** AttributeProto.AttributeType values. */
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3;

function floats(f: Field): number[] {
  expectWireType(f, WireType.Fixed32, WireType.LengthDelimited);
  if (f.wireType === WireType.Fixed32) return [float32(f)];
  const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
  const out: number[] = [];
  for (let o = 0; o + 4 <= f.bytes.byteLength; o += 4) out.push(dv.getFloat32(o, true));
  return out;
}

function decodeValueInfo(v: Field): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, dims: null };
  for (const f of fields(v.bytes, v.offset)) {
    if (f.number === 1) info.name = str(f);
    else if (f.number === 2) {
      for (const t of fields(f.bytes, f.offset)) {
        if (t.number !== 1) continue; // tensor_type
        for (const tt of fields(t.bytes, t.offset)) {
          if (tt.number === 1) info.elemType = tt.varint;
          else if (tt.number === 2) {
            info.dims = [];
            for (const d of fields(tt.bytes, tt.offset)) {
              if (d.number !== 1) continue;
              let dim: number | string | null = null;
              for (const dd of fields(d.bytes, d.offset)) {
                if (dd.number === 1) dim = varints(dd, true)[0];
                else if (dd.number === 2) dim = str(dd);
              }
              info.dims.push(dim);
            }
          }
        }
      }
    }
  }
  return info;
}

const TYPE_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16',
};

export function decodeTensor(t: Field | Uint8Array, opts: DecodeOptions): OnnxTensor {
  if (t instanceof Uint8Array) {
    // A standalone TensorProto file (e.g. an ONNX test set's input_0.pb): errors name the file,
    // as decodeModel's do for a whole model.
    try {
      return decodeTensorProto(t, opts);
    } catch (e) {
      if (e instanceof ProtobufError) {
        throw new Error(`${opts.source}: not a readable ONNX TensorProto (corrupt or truncated protobuf: ${e.message})`);
      }
      throw e;
    }
  }
  return decodeTensorProto(t, opts);
}

function decodeTensorProto(t: Field | Uint8Array, opts: DecodeOptions): OnnxTensor {
  const bytes = t instanceof Uint8Array ? t : t.bytes;
  const base = t instanceof Uint8Array ? 0 : t.offset;
  const tensor = { name: '', dims: [] as number[], dataType: 0 };
  let raw: Uint8Array | null = null;
  let floatData: number[] | null = null;
  let intData: number[] | null = null;
  let doubleData: number[] | null = null;
  let external = false;
  const ext = new Map<string, string>();
  for (const f of fields(bytes, base)) {
    switch (f.number) {
      case 1: tensor.dims.push(...varints(f, true)); break;
      case 2: tensor.dataType = f.varint; break;
      case 4: (floatData ??= []).push(...floats(f)); break;
      case 5: (intData ??= []).push(...varints(f, true)); break;
      case 7: (intData ??= []).push(...varints(f, true)); break;
      case 8: tensor.name = str(f); break;
      case 9: expectWireType(f, WireType.LengthDelimited); raw = f.bytes; break;
      case 10: {
        expectWireType(f, WireType.Fixed64, WireType.LengthDelimited);
        const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
        doubleData ??= [];
        if (f.wireType === WireType.Fixed64) doubleData.push(dv.getFloat64(0, true));
        else for (let o = 0; o + 8 <= f.bytes.byteLength; o += 8) doubleData.push(dv.getFloat64(o, true));
        break;
      }
      case 13: {
        let k = '';
        let v = '';
        for (const e of fields(f.bytes, f.offset)) {
          if (e.number === 1) k = str(e);
          else if (e.number === 2) v = str(e);
        }
        ext.set(k, v);
        break;
      }
      case 14: external = f.varint === 1; break;
    }
  }
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  const what = `${opts.source}: tensor '${tensor.name}'`;
  if (external) {
    const location = ext.get('location');
    if (!location) throw new Error(`${what} is stored externally but names no location`);
    if (!opts.externalData) throw new Error(`${what} is stored in external file '${location}', which cannot be read here`);
    const offset = Number(ext.get('offset') ?? 0);
    const length = ext.has('length') ? Number(ext.get('length')) : null;
    raw = opts.externalData(location, offset, length);
  }
  let data: Float32Array | Float64Array;
  if (raw) data = fromRaw(raw, tensor.dataType, count, what);
  else if (floatData) data = Float32Array.from(floatData);
  else if (doubleData) data = Float64Array.from(doubleData);
  else if (intData) data = intData2(intData, tensor.dataType);
  else data = new Float32Array(0);
  if (data.length !== count) {
    throw new Error(`${what} has ${data.length} values but its shape [${tensor.dims.join(', ')}] needs ${count}`);
  }
  return { ...tensor, data };
}

function intData2(values: number[], dataType: number): Float32Array | Float64Array {
  // int32_data also carries float16/bfloat16 bit patterns, one per element.
  if (dataType === DataType.FLOAT16) return Float32Array.from(values, halfToFloat);
  if (dataType === DataType.BFLOAT16) return Float32Array.from(values, (b) => bf16ToFloat(b));
  return Float64Array.from(values);
}

function fromRaw(raw: Uint8Array, dataType: number, count: number, what: string): Float32Array | Float64Array {
  const size: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };
  const width = size[dataType];
  if (!width) throw new Error(`${what} has unsupported data type ${TYPE_NAMES[dataType] ?? dataType}`);
  if (raw.byteLength !== count * width) {
    throw new Error(`${what} holds ${raw.byteLength} bytes but its shape needs ${count * width} (truncated file?)`);
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dataType) {
    case DataType.FLOAT: {
      // Copy: the view may be unaligned, and the weights outlive the file buffer.
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(raw);
      return out;
    }
    case DataType.DOUBLE: {
      const out = new Float64Array(count);
      new Uint8Array(out.buffer).set(raw);
      return out;
    }
    case DataType.FLOAT16: return Float32Array.from({ length: count }, (_, i) => halfToFloat(dv.getUint16(2 * i, true)));
    case DataType.BFLOAT16: return Float32Array.from({ length: count }, (_, i) => bf16ToFloat(dv.getUint16(2 * i, true)));
    case DataType.INT64: return Float64Array.from({ length: count }, (_, i) => Number(dv.getBigInt64(8 * i, true)));
    case DataType.UINT64: return Float64Array.from({ length: count }, (_, i) => Number(dv.getBigUint64(8 * i, true)));
    case DataType.INT32: return Float64Array.from({ length: count }, (_, i) => dv.getInt32(4 * i, true));
    case DataType.UINT32: return Float64Array.from({ length: count }, (_, i) => dv.getUint32(4 * i, true));
    case DataType.INT16: return Float64Array.from({ length: count }, (_, i) => dv.getInt16(2 * i, true));
    case DataType.UINT16: return Float64Array.from({ length: count }, (_, i) => dv.getUint16(2 * i, true));
    case DataType.INT8: return Float64Array.from({ length: count }, (_, i) => dv.getInt8(i));
    default: return Float64Array.from({ length: count }, (_, i) => dv.getUint8(i));
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bf16ToFloat(b: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, b << 16, true);
  return dv.getFloat32(0, true);
}

export function dataTypeName(t: number): string {
  return TYPE_NAMES[t] ?? `type ${t}`;
}
