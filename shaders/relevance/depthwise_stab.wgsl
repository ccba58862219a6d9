// The denominators of an LRP rule on a depthwise convolution (see relevance/conv_stab.wgsl for
// the rules' segments, modifier codes and epilogues; forward/depthwise.wgsl for the layout):
//   d[n, co] = sum_t coef_t * sum_{ky, kx} IN_t(x)[n, co / mult] * W_t(w[co, ky, kx]) + bias'[co]
// then s = R / stab(d) (and the z-based epilogues) as conv_stab writes it, so the transposed pass
// (depthwise_transpose.wgsl) or conv_transpose reads the same s.
//
// Each invocation computes a PY x PX block of one output channel, as the forward kernel: every
// input row the block covers is loaded once, and each loaded value feeds every segment (SEGS, 1 to
// 3, a constant: a rule's terms cost FMAs, not loads); rows are read as aligned vec4s, as there.
// Rules that read no x (flat, wsquare: ones inside the image) load nothing (p.readsX).

struct Params {
  total: u32, outC: u32, inC: u32, mult: u32,
  inH: u32, inW: u32, outH: u32, outW: u32,
  padT: u32, padL: u32, blocksX: u32, blocksY: u32,
  eps: f32, gamma: f32, sliceLen: u32, outSlice: u32,
  // The rule (relevance/conv_stab.wgsl): read x through a ReLU, whether any segment reads x, the
  // epilogue, per segment its input and weight modifier codes and its coefficient.
  reluIn: u32, readsX: u32, mode: u32, gate: u32,
  inCode: vec4<u32>, wCode: vec4<u32>, coef: vec4<f32>,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;
override PY: u32 = 4u;
override PX: u32 = 4u;
override SEGS: u32 = 1u;
override WG: u32 = 64u;

override KK4: u32 = (KH * KW + 3u) / 4u;
override SY: u32 = (PY - 1u) * SH + (KH - 1u) * DH + 1u;
override SX: u32 = (PX - 1u) * SW + (KW - 1u) * DW + 1u;
override NV: u32 = (SX + 6u) / 4u;

const MAX_K4: u32 = 32u;
const MAX_SX: u32 = 32u;
const MAX_OUT: u32 = 16u;
const MAX_NV: u32 = 9u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> rel: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> bounds: array<f32>;
@group(0) @binding(7) var<storage, read_write> s: array<f32>;

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

// IN(x) of input code `code` for a value v (x, through the ReLU view) at a tap inside (ok) or
// outside the image: 0 x, 1 x+, 2 x-, 3 ones, 4 low, 5 high (the channel's zbox bounds lo, hi).
fn inMod(code: u32, v: f32, ok: bool, lo: f32, hi: f32) -> f32 {
  switch code {
    case 1u: { return max(v, 0.0); }
    case 2u: { return min(v, 0.0); }
    case 3u: { return select(0.0, 1.0, ok); }
    case 4u: { return select(0.0, lo, ok); }
    case 5u: { return select(0.0, hi, ok); }
    default: { return v; }
  }
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * WG + gid.x;
  if (t >= p.total) { return; }
  let bx = t % p.blocksX;
  let t1 = t / p.blocksX;
  let by = t1 % p.blocksY;
  let nc = t1 / p.blocksY;
  let co = nc % p.outC;
  let n = nc / p.outC;
  let ci = co / p.mult;
  let ox0 = bx * PX;
  let oy0 = by * PY;
  let iy0 = i32(oy0 * SH) - i32(p.padT);
  let ix0 = i32(ox0 * SW) - i32(p.padL);
  let plane = (n * p.inC + ci) * p.inH * p.inW;
  let lo = bounds[min(ci, p.inC - 1u)];
  let hi = bounds[min(p.inC + ci, 2u * p.inC - 1u)];

  // Per segment its modified, scaled taps. The segments are written out, not a loop: a loop over
  // them inside the unrolled block kept lavapipe from unrolling it (arrays indexed at run time:
  // a two-segment pass ran 5 to 17 times slower than a one-segment one).
  var taps0: array<vec4<f32>, MAX_K4>;
  var taps1: array<vec4<f32>, MAX_K4>;
  var taps2: array<vec4<f32>, MAX_K4>;
  for (var i = 0u; i < KK4; i++) {
    let v = w[co * KK4 + i];
    taps0[i] = p.coef[0] * wMod(p.wCode[0], v);
    if (SEGS > 1u) { taps1[i] = p.coef[1] * wMod(p.wCode[1], v); }
    if (SEGS > 2u) { taps2[i] = p.coef[2] * wMod(p.wCode[2], v); }
  }
  var acc: array<f32, MAX_OUT>;
  for (var o = 0u; o < PY * PX; o++) { acc[o] = 0.0; }

  for (var r = 0u; r < SY; r++) {
    let iy = iy0 + i32(r);
    let rowOk = u32(iy) < p.inH;
    var xs: array<f32, MAX_SX>;
    if (rowOk && p.readsX != 0u) {
      // As forward/depthwise.wgsl: the NV aligned vec4s holding the row, each lane's SX values
      // picked by its offset mod 4.
      let off = i32(plane) + iy * i32(p.inW) + ix0;
      let a = u32(off & 3);
      let q = (off - i32(a)) / 4;
      var v: array<vec4<f32>, MAX_NV>;
      for (var i = 0u; i < NV; i++) { v[i] = x[u32(q + i32(i))]; }
      for (var j = 0u; j < SX; j++) {
        let l0 = select(v[j / 4u][j % 4u], v[(j + 1u) / 4u][(j + 1u) % 4u], a == 1u);
        let h0 = select(v[(j + 2u) / 4u][(j + 2u) % 4u], v[(j + 3u) / 4u][(j + 3u) % 4u], a == 3u);
        xs[j] = select(l0, h0, a >= 2u);
      }
    } else {
      for (var j = 0u; j < SX; j++) { xs[j] = 0.0; }
    }
    var row0: array<f32, MAX_SX>;
    var row1: array<f32, MAX_SX>;
    var row2: array<f32, MAX_SX>;
    for (var j = 0u; j < SX; j++) {
      let ok = rowOk && u32(ix0 + i32(j)) < p.inW;
      var v = select(0.0, xs[j], ok);
      if (p.reluIn != 0u) { v = max(v, 0.0); }
      row0[j] = inMod(p.inCode[0], v, ok, lo, hi);
      if (SEGS > 1u) { row1[j] = inMod(p.inCode[1], v, ok, lo, hi); }
      if (SEGS > 2u) { row2[j] = inMod(p.inCode[2], v, ok, lo, hi); }
    }
    for (var py = 0u; py < PY; py++) {
      if (r >= py * SH && (r - py * SH) % DH == 0u && (r - py * SH) / DH < KH) {
        let ky = (r - py * SH) / DH;
        for (var kx = 0u; kx < KW; kx++) {
          let k = ky * KW + kx;
          for (var px = 0u; px < PX; px++) {
            let j = px * SW + kx * DW;
            var a = fma(row0[j], taps0[k / 4u][k % 4u], acc[py * PX + px]);
            if (SEGS > 1u) { a = fma(row1[j], taps1[k / 4u][k % 4u], a); }
            if (SEGS > 2u) { a = fma(row2[j], taps2[k / 4u][k % 4u], a); }
            acc[py * PX + px] = a;
          }
        }
      }
    }
  }

  let b = bias[co];
  let outBase = nc * p.outH * p.outW;
  for (var py = 0u; py < PY; py++) {
    let oy = oy0 + py;
    for (var px = 0u; px < PX; px++) {
      let ox = ox0 + px;
      if (oy < p.outH && ox < p.outW) { epilogue(outBase + oy * p.outW + ox, acc[py * PX + px] + b); }
    }
  }
}
