/**
 * Constant folding at import: the ONNX nodes whose every input is a constant (or, for `Shape`, an
 * activation whose per-sample shape is known) are evaluated here, so that the shape arithmetic an
 * exporter writes around a Reshape (`Shape → Gather → Unsqueeze → Concat → Reshape`) and weights
 * reshaped at run time (MNIST-7) become constants before the IR sees them.
 *
 * Decisions:
 * - The batch size is unknown until run time: `Shape` of an activation yields BATCH (NaN) where its
 *   axis holds the batch (the first, unless the graph moved it: batch-layout.ts), and arithmetic carries it along (NaN in, NaN out), so a Reshape target that
 *   starts with it keeps the batch. A NaN anywhere else in a shape is refused by whoever reads it.
 * - Integer types are held as float64 (exact to 2^53, far beyond any shape); integer Div and Cast
 *   to an integer type truncate toward zero, as ONNX's integer arithmetic does.
 * - Broadcasting follows numpy (ONNX's multidirectional broadcasting).
 * - Equal, Where, ConstantOfShape and Expand fold too (ViT's class token: `Expand(class_token,
 *   Where(Equal(s, -1), 1, s))` with s = [N, -1, -1]). Equal treats BATCH as unequal to every
 *   number, so Where keeps it. Expand to a BATCH dimension keeps that dimension 1: every per-sample
 *   value is the same for every sample, which is what expanding over the batch means, and the
 *   importer reads a leading 1 as "the same for every sample".
 */
import type { OnnxNode, OnnxTensor } from './model.ts';

/** TensorProto data types used here (onnx.proto's DataType; model.ts's const enum does not cross modules). */
const FLOAT = 1;
const INT64 = 7;
const FLOAT16 = 10;
const DOUBLE = 11;
const BFLOAT16 = 16;

/** The batch dimension as read by `Shape` of an activation: unknown until run time. */
export const BATCH = Number.NaN;

const OPS = new Set([
  'Constant', 'Identity', 'Reshape', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Cast', 'Slice', 'Add', 'Sub', 'Mul', 'Div',
  'Equal', 'Where', 'ConstantOfShape', 'Expand',
]);
const BOOL = 9;

/** Whether `op` can fold when its inputs are constant. */
export function isConstantOp(op: string): boolean {
  return OPS.has(op);
}

type Data = Float32Array | Float64Array;

const isFloatType = (t: number): boolean => t === FLOAT || t === DOUBLE || t === FLOAT16 || t === BFLOAT16;

function tensor(dims: number[], dataType: number, values: ArrayLike<number>): OnnxTensor {
  const data: Data = dataType === FLOAT ? Float32Array.from(values) : Float64Array.from(values);
  return { name: '', dims, dataType, data };
}

function ints(node: OnnxNode, name: string): number[] | undefined {
  return node.attributes.get(name)?.ints;
}

function int(node: OnnxNode, name: string, dflt: number): number {
  return node.attributes.get(name)?.i ?? dflt;
}

/** Row-major strides of `dims`. */
function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function axis(a: number, rank: number, what: string): number {
  const r = a < 0 ? a + rank : a;
  if (!Number.isInteger(r) || r < 0 || r >= rank) throw new Error(`${what} ${a} is out of range for rank ${rank}`);
  return r;
}

/**
 * Evaluates `node` on constant inputs. `inputs[i]` is null for an absent optional input or (only
 * for Shape) an activation, whose ONNX shape `shapeOf` gives (BATCH where an axis holds the batch).
 */
export function foldConstantNode(
  node: OnnxNode, inputs: readonly (OnnxTensor | null)[], opset: number, shapeOf: (value: string) => readonly number[],
): OnnxTensor {
  const need = (i: number, what: string): OnnxTensor => {
    const t = inputs[i];
    if (!t) throw new Error(`${what} must be a constant`);
    return t;
  };
  const listInput = (i: number, attr: string): number[] | undefined =>
    opsetInputs(opset, node.opType) ? (inputs[i] ? Array.from(inputs[i]!.data) : undefined) : ints(node, attr);
  switch (node.opType) {
    case 'Constant': {
      const a = (k: string) => node.attributes.get(k);
      const t = a('value')?.t;
      if (t) return { ...t };
      const vf = a('value_float')?.f;
      const vfs = a('value_floats')?.floats;
      const vi = a('value_int')?.i;
      const vis = a('value_ints')?.ints;
      if (vf !== undefined) return tensor([], FLOAT, [vf]);
      if (vfs) return tensor([vfs.length], FLOAT, vfs);
      if (vi !== undefined) return tensor([], INT64, [vi]);
      if (vis) return tensor([vis.length], INT64, vis);
      throw new Error('has no supported value attribute');
    }
    case 'Identity':
      return { ...need(0, 'the input') };
    case 'Reshape': {
      const t = need(0, 'the data');
      const target = inputs[1] ? Array.from(inputs[1].data) : ints(node, 'shape');
      if (!target) throw new Error('has no target shape');
      const allowZero = int(node, 'allowzero', 0) === 1;
      const dims = target.map((d, i) => (d === 0 && !allowZero ? t.dims[i] : d));
      const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const resolved = dims.map((d) => (d === -1 ? t.data.length / known : d));
      if (resolved.some((d) => !Number.isInteger(d) || d < 0) || count(resolved) !== t.data.length) {
        throw new Error(`cannot reshape [${t.dims.join(', ')}] to [${target.join(', ')}]`);
      }
      return { ...t, dims: resolved };
    }
    case 'Shape': {
      const full = inputs[0] ? inputs[0].dims : shapeOf(node.inputs[0]);
      const rank = full.length;
      const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
      const start = clampAxis(int(node, 'start', 0));
      const end = clampAxis(node.attributes.get('end')?.i ?? rank);
      const dims = full.slice(start, Math.max(start, end));
      return tensor([dims.length], INT64, dims);
    }
    case 'Gather': {
      const data = need(0, 'the data');
      const idx = need(1, 'the indices');
      const rank = data.dims.length;
      const ax = axis(int(node, 'axis', 0), rank, 'axis');
      const n = data.dims[ax];
      const outer = count(data.dims.slice(0, ax));
      const inner = count(data.dims.slice(ax + 1));
      const out: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const raw of idx.data) {
          const k = raw < 0 ? raw + n : raw;
          if (!Number.isInteger(k) || k < 0 || k >= n) throw new Error(`index ${raw} is out of range for a dimension of ${n}`);
          for (let i = 0; i < inner; i++) out.push(data.data[(o * n + k) * inner + i]);
        }
      }
      return tensor([...data.dims.slice(0, ax), ...idx.dims, ...data.dims.slice(ax + 1)], data.dataType, out);
    }
    case 'Unsqueeze': {
      const t = need(0, 'the data');
      const axes = listInput(1, 'axes');
      if (!axes) throw new Error('has no axes');
      const rank = t.dims.length + axes.length;
      const at = new Set(axes.map((a) => axis(a, rank, 'axis')));
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) dims.push(at.has(i) ? 1 : t.dims[k++]);
      return { ...t, dims };
    }
    case 'Squeeze': {
      const t = need(0, 'the data');
      const axes = listInput(1, 'axes');
      const at = new Set((axes ?? t.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => axis(a, t.dims.length, 'axis')));
      for (const a of at) if (t.dims[a] !== 1) throw new Error(`cannot squeeze axis ${a} of size ${t.dims[a]}`);
      return { ...t, dims: t.dims.filter((_, i) => !at.has(i)) };
    }
    case 'Concat': {
      const ts = inputs.map((t, i) => t ?? need(i, `input ${i}`));
      const rank = ts[0].dims.length;
      const ax = axis(int(node, 'axis', 0), rank, 'axis');
      const outer = count(ts[0].dims.slice(0, ax));
      const out: number[] = [];
      for (const t of ts) {
        if (t.dims.length !== rank || t.dims.some((d, i) => i !== ax && d !== ts[0].dims[i])) {
          throw new Error(`cannot concatenate [${t.dims.join(', ')}] with [${ts[0].dims.join(', ')}] along axis ${ax}`);
        }
      }
      for (let o = 0; o < outer; o++) {
        for (const t of ts) {
          const block = count(t.dims.slice(ax));
          for (let i = 0; i < block; i++) out.push(t.data[o * block + i]);
        }
      }
      const dims = [...ts[0].dims];
      dims[ax] = ts.reduce((s, t) => s + t.dims[ax], 0);
      return tensor(dims, ts[0].dataType, out);
    }
    case 'Cast': {
      const t = need(0, 'the input');
      const to = int(node, 'to', 0);
      const values = isFloatType(to) ? Array.from(t.data) : Array.from(t.data, (v) => (Number.isNaN(v) ? v : Math.trunc(v)));
      return tensor([...t.dims], to, values);
    }
    case 'Slice':
      return slice(node, inputs, opset, need);
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div': {
      const a = need(0, 'input A');
      const b = need(1, 'input B');
      const intDiv = node.opType === 'Div' && !isFloatType(a.dataType);
      const f = {
        Add: (x: number, y: number) => x + y,
        Sub: (x: number, y: number) => x - y,
        Mul: (x: number, y: number) => x * y,
        Div: (x: number, y: number) => (intDiv ? Math.trunc(x / y) : x / y),
      }[node.opType];
      return broadcast(a, b, f);
    }
    case 'Equal':
      // NaN (BATCH) equals nothing, as IEEE says.
      return { ...broadcast(need(0, 'input A'), need(1, 'input B'), (x, y) => (x === y ? 1 : 0)), dataType: BOOL };
    case 'Where': {
      const cond = need(0, 'the condition');
      const x = need(1, 'X');
      const y = need(2, 'Y');
      const { dims } = broadcast(broadcast(cond, x, () => 0), y, () => 0);
      const [cs, xs, ys] = [cond, x, y].map((t) => broadcastTo(t, dims));
      return tensor(dims, x.dataType, cs.map((c, i) => (c ? xs[i] : ys[i])));
    }
    case 'ConstantOfShape': {
      const dims = Array.from(need(0, 'the shape').data);
      if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`cannot build a constant of shape [${dims.map((d) => (Number.isNaN(d) ? 'N' : d)).join(', ')}]`);
      const v = node.attributes.get('value')?.t;
      return tensor(dims, v?.dataType ?? FLOAT, new Array<number>(count(dims)).fill(v ? v.data[0] : 0));
    }
    case 'Expand': {
      const t = need(0, 'the input');
      const shape = Array.from(need(1, 'the shape').data, (d) => (Number.isNaN(d) ? 1 : d));
      if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`cannot expand to [${shape.join(', ')}]`);
      return broadcast(t, tensor(shape, t.dataType, new Array<number>(count(shape)).fill(0)), (x) => x);
    }
    default:
      throw new Error(`internal: ${node.opType} does not fold`);
  }
}

/** Ops whose list parameters moved from attributes to inputs, and the opset where they did. */
function opsetInputs(opset: number, op: string): boolean {
  return op === 'Slice' ? opset >= 10 : opset >= 13;
}

function broadcast(a: OnnxTensor, b: OnnxTensor, f: (x: number, y: number) => number): OnnxTensor {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: readonly number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
  const da = pad(a.dims);
  const db = pad(b.dims);
  const dims = da.map((x, i) => {
    if (x !== db[i] && x !== 1 && db[i] !== 1) throw new Error(`shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`);
    return Math.max(x, db[i]);
  });
  const sa = strides(da).map((s, i) => (da[i] === 1 ? 0 : s));
  const sb = strides(db).map((s, i) => (db[i] === 1 ? 0 : s));
  const so = strides(dims);
  const out = new Array<number>(count(dims));
  for (let k = 0; k < out.length; k++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      const c = Math.floor(k / so[d]) % dims[d];
      ia += c * sa[d];
      ib += c * sb[d];
    }
    out[k] = f(a.data[ia], b.data[ib]);
  }
  return tensor(dims, a.dataType, out);
}

/** `t`'s values broadcast to `dims` (which t must broadcast to), row-major. */
function broadcastTo(t: OnnxTensor, dims: readonly number[]): number[] {
  return Array.from(broadcast(t, tensor([...dims], DOUBLE, new Array<number>(count(dims)).fill(0)), (x) => x).data);
}

function slice(
  node: OnnxNode, inputs: readonly (OnnxTensor | null)[], opset: number, need: (i: number, what: string) => OnnxTensor,
): OnnxTensor {
  const t = need(0, 'the data');
  const rank = t.dims.length;
  const fromInputs = opsetInputs(opset, 'Slice');
  const list = (i: number, attr: string): number[] | undefined =>
    fromInputs ? (inputs[i] ? Array.from(inputs[i]!.data) : undefined) : ints(node, attr);
  const starts = list(1, 'starts');
  const ends = list(2, 'ends');
  if (!starts || !ends || starts.length !== ends.length) throw new Error('needs starts and ends of one length');
  const axes = (list(3, 'axes') ?? starts.map((_, i) => i)).map((a) => axis(a, rank, 'axis'));
  const steps = (fromInputs ? list(4, 'steps') : undefined) ?? starts.map(() => 1);
  const begin = new Array<number>(rank).fill(0);
  const step = new Array<number>(rank).fill(1);
  const size = [...t.dims];
  axes.forEach((ax, i) => {
    const n = t.dims[ax];
    const st = steps[i];
    if (!Number.isInteger(st) || st === 0) throw new Error(`step ${st} is not supported`);
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    const norm = (v: number) => (v < 0 ? v + n : v);
    const s = st > 0 ? clamp(norm(starts[i]), 0, n) : clamp(norm(starts[i]), -1, n - 1);
    const e = st > 0 ? clamp(norm(ends[i]), 0, n) : clamp(norm(ends[i]), -1, n - 1);
    begin[ax] = s;
    step[ax] = st;
    size[ax] = Math.max(0, Math.ceil((e - s) / st));
  });
  const src = strides(t.dims);
  const so = strides(size);
  const out = new Array<number>(count(size));
  for (let k = 0; k < out.length; k++) {
    let idx = 0;
    for (let d = 0; d < rank; d++) idx += (begin[d] + (Math.floor(k / so[d]) % size[d]) * step[d]) * src[d];
    out[k] = t.data[idx];
  }
  return tensor(size, t.dataType, out);
}
