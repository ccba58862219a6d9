// The forward half of an LRP rule on a dense layer (see conv_stab.wgsl for the segments,
// modifier codes and epilogues): d[n, o] = sum_t coef_t sum_i IN_t(x[n, i]) W_t(w[o, i]) + bias[o],
// then s = R / stab(d) in the epilogue. forward/dense.wgsl's work split: a workgroup owns ROWS
// rows for up to NB samples, its WG threads stride along the reduction in vec4s (each weight vec4
// serves NB samples, each input vec4 ROWS rows) and reduce once at the end. The weight is one row
// chunk of the forward kernel's own buffer (rows inF4 vec4s apart); `rowOffset` places it.
// Zbox bounds in the dense case are per input feature (`bounds` holds low then high).

struct Params {
  batch: u32, inF: u32, rows: u32, rowOffset: u32,
  outF: u32, sliceLen: u32, outSlice: u32, inF4: u32,
  eps: f32, gamma: f32,
  // The rule, as in conv_stab.wgsl.
  reluIn: u32, segs: u32, mode: u32, gate: u32,
  inCode: vec4<u32>, wCode: vec4<u32>, coef: vec4<f32>,
}

// Samples per workgroup, 1 to 8 (the host compiles 1 for batch 1, 8 otherwise).
override NB: u32 = 1u;
const WG: u32 = 64u;
const ROWS: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> rel: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> bounds: array<f32>;
@group(0) @binding(7) var<storage, read_write> s: array<f32>;

// Partial sums: red[(row * 8 + sample) * WG + thread].
var<workgroup> red: array<f32, ROWS * 8u * WG>;

// IN(x)[sample, k .. k + 4] of input code `code`, from the sample's offset `base` (zero past inF).
fn xIn(base: u32, k: u32, code: u32) -> vec4<f32> {
  let kq = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u);
  let ok = kq < vec4<u32>(p.inF);
  switch code {
    case 3u: { return select(vec4<f32>(0.0), vec4<f32>(1.0), ok); }
    case 4u, 5u: {
      let b = select(vec4<u32>(0u), kq + vec4<u32>(select(0u, p.inF, code == 5u)), ok);
      return select(vec4<f32>(0.0), vec4<f32>(bounds[b.x], bounds[b.y], bounds[b.z], bounds[b.w]), ok);
    }
    default: {
      let idx = select(vec4<u32>(0u), vec4<u32>(base) + kq, ok);
      var v = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
      if (p.reluIn != 0u) { v = max(v, vec4<f32>(0.0)); }
      if (code == 1u) { v = max(v, vec4<f32>(0.0)); }
      if (code == 2u) { v = min(v, vec4<f32>(0.0)); }
      return v;
    }
  }
}

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

fn stab(d: f32) -> f32 {
  return d + p.eps * select(-1.0, 1.0, d >= 0.0);
}

// <generated: stab-epilogue>
// s from the denominator d of output o: the rule's epilogue, by p.mode and p.gate.
fn epilogue(o: u32, d: f32) {
  let r = rel[o];
  if (p.mode == 1u) {
    s[o] = r / stab(d);
    // n = z - p <= 0 by definition (a sum of non-positive terms); rounding can leave z - p at 0
    // or slightly above when n is below float32's resolution of z, and stab() would then add
    // +eps where the true n takes -eps, flipping the sign of s_n. So n is clamped and always
    // stabilised downwards (n = 0 exactly means every term x_i w-_ij is 0: s_n multiplies nothing).
    s[p.sliceLen + o] = r / (min(z[o] - d, 0.0) - p.eps);
  } else if (p.mode == 2u) {
    let zo = z[o];
    s[o] = select(0.0, r / stab(zo + p.gamma * d), zo > 0.0);
    s[p.sliceLen + o] = select(0.0, r / stab(zo + p.gamma * min(zo - d, 0.0)), zo < 0.0);
  } else {
    var gate = 1.0;
    if (p.gate == 1u) { gate = select(0.0, 1.0, z[o] > 0.0); }
    if (p.gate == 2u) { gate = select(0.0, 1.0, z[o] < 0.0); }
    s[p.outSlice * p.sliceLen + o] = gate * r / stab(d);
  }
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let r0 = wid.x * ROWS;
  let n0 = wid.y * NB;
  let nLast = min(p.batch, n0 + NB) - 1u;
  let rLast = min(p.rows, r0 + ROWS) - 1u;
  // Row and sample offsets; rows past the chunk and samples past the batch read the last one
  // (their sums are not written).
  // <generated: dense-offsets rows=4 samples=8>
  let b0 = min(r0 + 0u, rLast) * p.inF4;
  let b1 = min(r0 + 1u, rLast) * p.inF4;
  let b2 = min(r0 + 2u, rLast) * p.inF4;
  let b3 = min(r0 + 3u, rLast) * p.inF4;
  let xb0 = min(n0 + 0u, nLast) * p.inF;
  let xb1 = min(n0 + 1u, nLast) * p.inF;
  let xb2 = min(n0 + 2u, nLast) * p.inF;
  let xb3 = min(n0 + 3u, nLast) * p.inF;
  let xb4 = min(n0 + 4u, nLast) * p.inF;
  let xb5 = min(n0 + 5u, nLast) * p.inF;
  let xb6 = min(n0 + 6u, nLast) * p.inF;
  let xb7 = min(n0 + 7u, nLast) * p.inF;
  // </generated>

  var acc: array<array<vec4<f32>, 8>, ROWS>;
  for (var seg = 0u; seg < p.segs; seg++) {
    let im = p.inCode[seg];
    let wm = p.wCode[seg];
    let coef = p.coef[seg];
    for (var c = t; c < p.inF4; c += WG) {
      let k = 4u * c;
      // <generated: dense-stab-fma rows=4 samples=8>
      let w0 = coef * wMod(wm, w[b0 + c]);
      let w1 = coef * wMod(wm, w[b1 + c]);
      let w2 = coef * wMod(wm, w[b2 + c]);
      let w3 = coef * wMod(wm, w[b3 + c]);
      let x0 = xIn(xb0, k, im);
      var x1 = vec4<f32>(0.0); if (NB > 1u) { x1 = xIn(xb1, k, im); }
      var x2 = vec4<f32>(0.0); if (NB > 2u) { x2 = xIn(xb2, k, im); }
      var x3 = vec4<f32>(0.0); if (NB > 3u) { x3 = xIn(xb3, k, im); }
      var x4 = vec4<f32>(0.0); if (NB > 4u) { x4 = xIn(xb4, k, im); }
      var x5 = vec4<f32>(0.0); if (NB > 5u) { x5 = xIn(xb5, k, im); }
      var x6 = vec4<f32>(0.0); if (NB > 6u) { x6 = xIn(xb6, k, im); }
      var x7 = vec4<f32>(0.0); if (NB > 7u) { x7 = xIn(xb7, k, im); }
      acc[0][0] = fma(w0, x0, acc[0][0]);
      if (NB > 1u) { acc[0][1] = fma(w0, x1, acc[0][1]); }
      if (NB > 2u) { acc[0][2] = fma(w0, x2, acc[0][2]); }
      if (NB > 3u) { acc[0][3] = fma(w0, x3, acc[0][3]); }
      if (NB > 4u) { acc[0][4] = fma(w0, x4, acc[0][4]); }
      if (NB > 5u) { acc[0][5] = fma(w0, x5, acc[0][5]); }
      if (NB > 6u) { acc[0][6] = fma(w0, x6, acc[0][6]); }
      if (NB > 7u) { acc[0][7] = fma(w0, x7, acc[0][7]); }
      acc[1][0] = fma(w1, x0, acc[1][0]);
      if (NB > 1u) { acc[1][1] = fma(w1, x1, acc[1][1]); }
      if (NB > 2u) { acc[1][2] = fma(w1, x2, acc[1][2]); }
      if (NB > 3u) { acc[1][3] = fma(w1, x3, acc[1][3]); }
      if (NB > 4u) { acc[1][4] = fma(w1, x4, acc[1][4]); }
      if (NB > 5u) { acc[1][5] = fma(w1, x5, acc[1][5]); }
      if (NB > 6u) { acc[1][6] = fma(w1, x6, acc[1][6]); }
      if (NB > 7u) { acc[1][7] = fma(w1, x7, acc[1][7]); }
      acc[2][0] = fma(w2, x0, acc[2][0]);
      if (NB > 1u) { acc[2][1] = fma(w2, x1, acc[2][1]); }
      if (NB > 2u) { acc[2][2] = fma(w2, x2, acc[2][2]); }
      if (NB > 3u) { acc[2][3] = fma(w2, x3, acc[2][3]); }
      if (NB > 4u) { acc[2][4] = fma(w2, x4, acc[2][4]); }
      if (NB > 5u) { acc[2][5] = fma(w2, x5, acc[2][5]); }
      if (NB > 6u) { acc[2][6] = fma(w2, x6, acc[2][6]); }
      if (NB > 7u) { acc[2][7] = fma(w2, x7, acc[2][7]); }
      acc[3][0] = fma(w3, x0, acc[3][0]);
      if (NB > 1u) { acc[3][1] = fma(w3, x1, acc[3][1]); }
      if (NB > 2u) { acc[3][2] = fma(w3, x2, acc[3][2]); }
      if (NB > 3u) { acc[3][3] = fma(w3, x3, acc[3][3]); }
      if (NB > 4u) { acc[3][4] = fma(w3, x4, acc[3][4]); }
      if (NB > 5u) { acc[3][5] = fma(w3, x5, acc[3][5]); }
      if (NB > 6u) { acc[3][6] = fma(w3, x6, acc[3][6]); }
      if (NB > 7u) { acc[3][7] = fma(w3, x7, acc[3][7]); }
      // </generated>
    }
  }

  // <generated: dense-reduce rows=4 samples=8>
  red[0u * WG + t] = dot(acc[0][0], vec4<f32>(1.0));
  if (NB > 1u) { red[1u * WG + t] = dot(acc[0][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[2u * WG + t] = dot(acc[0][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[3u * WG + t] = dot(acc[0][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[4u * WG + t] = dot(acc[0][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[5u * WG + t] = dot(acc[0][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[6u * WG + t] = dot(acc[0][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[7u * WG + t] = dot(acc[0][7], vec4<f32>(1.0)); }
  red[8u * WG + t] = dot(acc[1][0], vec4<f32>(1.0));
  if (NB > 1u) { red[9u * WG + t] = dot(acc[1][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[10u * WG + t] = dot(acc[1][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[11u * WG + t] = dot(acc[1][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[12u * WG + t] = dot(acc[1][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[13u * WG + t] = dot(acc[1][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[14u * WG + t] = dot(acc[1][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[15u * WG + t] = dot(acc[1][7], vec4<f32>(1.0)); }
  red[16u * WG + t] = dot(acc[2][0], vec4<f32>(1.0));
  if (NB > 1u) { red[17u * WG + t] = dot(acc[2][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[18u * WG + t] = dot(acc[2][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[19u * WG + t] = dot(acc[2][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[20u * WG + t] = dot(acc[2][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[21u * WG + t] = dot(acc[2][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[22u * WG + t] = dot(acc[2][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[23u * WG + t] = dot(acc[2][7], vec4<f32>(1.0)); }
  red[24u * WG + t] = dot(acc[3][0], vec4<f32>(1.0));
  if (NB > 1u) { red[25u * WG + t] = dot(acc[3][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[26u * WG + t] = dot(acc[3][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[27u * WG + t] = dot(acc[3][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[28u * WG + t] = dot(acc[3][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[29u * WG + t] = dot(acc[3][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[30u * WG + t] = dot(acc[3][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[31u * WG + t] = dot(acc[3][7], vec4<f32>(1.0)); }
  // </generated>
  workgroupBarrier();
  // Thread o < ROWS * 8 sums output (row, sample) = (o / 8, o % 8) over the WG partials.
  if (t < ROWS * 8u) {
    let r = t / 8u;
    let n = t % 8u;
    if (n < NB && r0 + r <= rLast && n0 + n <= nLast) {
      var d = 0.0;
      for (var i = 0u; i < WG; i++) { d += red[t * WG + i]; }
      epilogue((n0 + n) * p.outF + p.rowOffset + r0 + r, d + bias[r0 + r]);
    }
  }
}
