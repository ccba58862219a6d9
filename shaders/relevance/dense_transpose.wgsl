// The backward half of an LRP rule on a dense layer (see conv_transpose.wgsl):
//   R[n, i] (+)= OUT(x[n, i]) * sum_t coef_t sum_o W_t(w[o, i]) s[SLICE_t][n, o]
// Weight-bound, like the forward dense kernel: each thread owns 4 consecutive input features (one
// vec4 column of the forward kernel's own row chunk, rows inF4 vec4s apart) for up to NB samples
// and walks the chunk's rows; each weight vec4 it loads serves NB samples, and the s values it
// multiplies are the same for the whole workgroup. Consecutive threads read consecutive vec4s of
// a row. Terms sharing the input factor are segments (codes as in conv_stab.wgsl).

struct Params {
  batch: u32, inF: u32, rows: u32, rowOffset: u32,
  outF: u32, sliceLen: u32, inF4: u32, gamma: f32,
  // The rule, as in conv_transpose.wgsl.
  reluIn: u32, out: u32, accumulate: u32, segs: u32,
  slice: vec4<u32>, wCode: vec4<u32>, coef: vec4<f32>,
}

// Samples per workgroup, 1 to 8 (the host compiles 1 for batch 1, 8 otherwise).
override NB: u32 = 1u;
const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> bounds: array<f32>;
@group(0) @binding(5) var<storage, read_write> r: array<f32>;

// <generated: weight-modifier>
fn wMod(code: u32, v: vec4<f32>) -> vec4<f32> {
  switch code {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return min(v, vec4<f32>(0.0)); }
    case 3u: { return vec4<f32>(1.0); }
    case 4u: { return v * v; }
    case 5u: { return v + p.gamma * max(v, vec4<f32>(0.0)); }
    case 6u: { return v + p.gamma * min(v, vec4<f32>(0.0)); }
    default: { return v; }
  }
}
// </generated>

// <generated: transpose-epilogue channels=p.inF>
// R at input o (channel or feature c) from the redistributed sum a: times the input factor.
fn epilogue(o: u32, c: u32, a: f32) {
  var f = 1.0;
  switch p.out {
    case 3u: { f = 1.0; }
    case 4u: { f = bounds[c]; }
    case 5u: { f = bounds[p.inF + c]; }
    default: {
      f = x[o];
      if (p.reluIn != 0u) { f = max(f, 0.0); }
      if (p.out == 1u) { f = max(f, 0.0); }
      if (p.out == 2u) { f = min(f, 0.0); }
    }
  }
  var v = f * a;
  if (p.accumulate != 0u) { v += r[o]; }
  r[o] = v;
}
// </generated>

// Sample n's four features of vec4 column c.
fn store(n: u32, c: u32, a: vec4<f32>) {
  let i = 4u * c;
  let o = n * p.inF + i;
  if (i < p.inF) { epilogue(o, i, a.x); }
  if (i + 1u < p.inF) { epilogue(o + 1u, i + 1u, a.y); }
  if (i + 2u < p.inF) { epilogue(o + 2u, i + 2u, a.z); }
  if (i + 3u < p.inF) { epilogue(o + 3u, i + 3u, a.w); }
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = wid.x * WG + t;
  let cc = min(c, p.inF4 - 1u);
  let n0 = wid.y * NB;
  let nLast = min(p.batch, n0 + NB) - 1u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  for (var seg = 0u; seg < p.segs; seg++) {
    let wm = p.wCode[seg];
    let coef = p.coef[seg];
    // Each sample's s row in this chunk; samples past the batch read the last one (not written).
    let sOff = p.slice[seg] * p.sliceLen + p.rowOffset;
    let sb0 = sOff + min(n0 + 0u, nLast) * p.outF;
    let sb1 = sOff + min(n0 + 1u, nLast) * p.outF;
    let sb2 = sOff + min(n0 + 2u, nLast) * p.outF;
    let sb3 = sOff + min(n0 + 3u, nLast) * p.outF;
    let sb4 = sOff + min(n0 + 4u, nLast) * p.outF;
    let sb5 = sOff + min(n0 + 5u, nLast) * p.outF;
    let sb6 = sOff + min(n0 + 6u, nLast) * p.outF;
    let sb7 = sOff + min(n0 + 7u, nLast) * p.outF;
    var o = 0u;
    // Four rows a step: lavapipe blends every loop-carried register with the loop's mask, once
    // per step, and the step's loop overhead and weight-modifier branch come once per four rows.
    for (; o + 4u <= p.rows; o += 4u) {
      // <generated: dense-transpose-fma samples=8 rows=4>
      let wv0 = coef * wMod(wm, w[(o + 0u) * p.inF4 + cc]);
      let wv1 = coef * wMod(wm, w[(o + 1u) * p.inF4 + cc]);
      let wv2 = coef * wMod(wm, w[(o + 2u) * p.inF4 + cc]);
      let wv3 = coef * wMod(wm, w[(o + 3u) * p.inF4 + cc]);
      acc0 = fma(wv3, vec4<f32>(s[sb0 + o + 3u]), fma(wv2, vec4<f32>(s[sb0 + o + 2u]), fma(wv1, vec4<f32>(s[sb0 + o + 1u]), fma(wv0, vec4<f32>(s[sb0 + o + 0u]), acc0))));
      if (NB > 1u) { acc1 = fma(wv3, vec4<f32>(s[sb1 + o + 3u]), fma(wv2, vec4<f32>(s[sb1 + o + 2u]), fma(wv1, vec4<f32>(s[sb1 + o + 1u]), fma(wv0, vec4<f32>(s[sb1 + o + 0u]), acc1)))); }
      if (NB > 2u) { acc2 = fma(wv3, vec4<f32>(s[sb2 + o + 3u]), fma(wv2, vec4<f32>(s[sb2 + o + 2u]), fma(wv1, vec4<f32>(s[sb2 + o + 1u]), fma(wv0, vec4<f32>(s[sb2 + o + 0u]), acc2)))); }
      if (NB > 3u) { acc3 = fma(wv3, vec4<f32>(s[sb3 + o + 3u]), fma(wv2, vec4<f32>(s[sb3 + o + 2u]), fma(wv1, vec4<f32>(s[sb3 + o + 1u]), fma(wv0, vec4<f32>(s[sb3 + o + 0u]), acc3)))); }
      if (NB > 4u) { acc4 = fma(wv3, vec4<f32>(s[sb4 + o + 3u]), fma(wv2, vec4<f32>(s[sb4 + o + 2u]), fma(wv1, vec4<f32>(s[sb4 + o + 1u]), fma(wv0, vec4<f32>(s[sb4 + o + 0u]), acc4)))); }
      if (NB > 5u) { acc5 = fma(wv3, vec4<f32>(s[sb5 + o + 3u]), fma(wv2, vec4<f32>(s[sb5 + o + 2u]), fma(wv1, vec4<f32>(s[sb5 + o + 1u]), fma(wv0, vec4<f32>(s[sb5 + o + 0u]), acc5)))); }
      if (NB > 6u) { acc6 = fma(wv3, vec4<f32>(s[sb6 + o + 3u]), fma(wv2, vec4<f32>(s[sb6 + o + 2u]), fma(wv1, vec4<f32>(s[sb6 + o + 1u]), fma(wv0, vec4<f32>(s[sb6 + o + 0u]), acc6)))); }
      if (NB > 7u) { acc7 = fma(wv3, vec4<f32>(s[sb7 + o + 3u]), fma(wv2, vec4<f32>(s[sb7 + o + 2u]), fma(wv1, vec4<f32>(s[sb7 + o + 1u]), fma(wv0, vec4<f32>(s[sb7 + o + 0u]), acc7)))); }
      // </generated>
    }
    for (; o < p.rows; o++) {
      // <generated: dense-transpose-fma samples=8>
      let wv = coef * wMod(wm, w[o * p.inF4 + cc]);
      acc0 = fma(wv, vec4<f32>(s[sb0 + o]), acc0);
      if (NB > 1u) { acc1 = fma(wv, vec4<f32>(s[sb1 + o]), acc1); }
      if (NB > 2u) { acc2 = fma(wv, vec4<f32>(s[sb2 + o]), acc2); }
      if (NB > 3u) { acc3 = fma(wv, vec4<f32>(s[sb3 + o]), acc3); }
      if (NB > 4u) { acc4 = fma(wv, vec4<f32>(s[sb4 + o]), acc4); }
      if (NB > 5u) { acc5 = fma(wv, vec4<f32>(s[sb5 + o]), acc5); }
      if (NB > 6u) { acc6 = fma(wv, vec4<f32>(s[sb6 + o]), acc6); }
      if (NB > 7u) { acc7 = fma(wv, vec4<f32>(s[sb7 + o]), acc7); }
      // </generated>
    }
  }
  if (c >= p.inF4) { return; }
  store(n0, c, acc0);
  if (NB > 1u && n0 + 1u <= nLast) { store(n0 + 1u, c, acc1); }
  if (NB > 2u && n0 + 2u <= nLast) { store(n0 + 2u, c, acc2); }
  if (NB > 3u && n0 + 3u <= nLast) { store(n0 + 3u, c, acc3); }
  if (NB > 4u && n0 + 4u <= nLast) { store(n0 + 4u, c, acc4); }
  if (NB > 5u && n0 + 5u <= nLast) { store(n0 + 5u, c, acc5); }
  if (NB > 6u && n0 + 6u <= nLast) { store(n0 + 6u, c, acc6); }
  if (NB > 7u && n0 + 7u <= nLast) { store(n0 + 7u, c, acc7); }
}
