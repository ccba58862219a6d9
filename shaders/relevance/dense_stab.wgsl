// The forward half of an LRP rule on a dense layer (see conv_stab.wgsl for the segments,
// modifier codes and epilogues): d[n, o] = sum_t coef_t sum_i IN_t(x[n, i]) W_t(w[o, i]) + bias[o],
// then s = R / stab(d) in the epilogue. Same work split as the forward dense kernel: a workgroup
// owns ROWS rows for up to NB samples, its threads stride along the reduction and reduce once.
// The weight is one row chunk of the forward kernel's buffer; `rowOffset` places it.
// Zbox bounds in the dense case are per input feature (`bounds` holds low then high).

struct Params {
  batch: u32, inF: u32, rows: u32, rowOffset: u32,
  outF: u32, sliceLen: u32, outSlice: u32,
  eps: f32, gamma: f32,
  coef0: f32, coef1: f32, coef2: f32,
}

override RELU_IN: bool = false;
override SEGS: u32 = 1u;
override IN0: u32 = 0u;
override IN1: u32 = 0u;
override IN2: u32 = 0u;
override W0: u32 = 0u;
override W1: u32 = 0u;
override W2: u32 = 0u;
override MODE: u32 = 0u;
override GATE: u32 = 0u;
const WG: u32 = 64u;
const ROWS: u32 = 4u;
const NB: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> rel: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> bounds: array<f32>;
@group(0) @binding(7) var<storage, read_write> s: array<f32>;

var<workgroup> red: array<array<f32, 32>, WG>;

fn inMod(code: u32, v: f32, ci: u32) -> f32 {
  switch code {
    case 1u: { return max(v, 0.0); }
    case 2u: { return min(v, 0.0); }
    case 3u: { return 1.0; }
    case 4u: { return bounds[ci]; }
    case 5u: { return bounds[p.inF + ci]; }
    default: { return v; }
  }
}

fn wMod(code: u32, v: f32) -> f32 {
  switch code {
    case 1u: { return max(v, 0.0); }
    case 2u: { return min(v, 0.0); }
    case 3u: { return 1.0; }
    case 4u: { return v * v; }
    case 5u: { return v + p.gamma * max(v, 0.0); }
    case 6u: { return v + p.gamma * min(v, 0.0); }
    default: { return v; }
  }
}

fn segIn(seg: u32) -> u32 { return select(select(IN0, IN1, seg == 1u), IN2, seg == 2u); }
fn segW(seg: u32) -> u32 { return select(select(W0, W1, seg == 1u), W2, seg == 2u); }
fn segCoef(seg: u32) -> f32 { return select(select(p.coef0, p.coef1, seg == 1u), p.coef2, seg == 2u); }

fn stab(d: f32) -> f32 {
  return d + p.eps * select(-1.0, 1.0, d >= 0.0);
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let r0 = wid.x * ROWS;
  let n0 = wid.y * NB;
  let nCount = min(NB, p.batch - n0);
  let rCount = min(ROWS, p.rows - r0);

  var acc: array<f32, 32>;
  for (var i = 0u; i < 32u; i++) { acc[i] = 0.0; }

  for (var seg = 0u; seg < SEGS; seg++) {
    let im = segIn(seg);
    let wm = segW(seg);
    let coef = segCoef(seg);
    for (var k = t; k < p.inF; k += WG) {
      var xv: array<f32, NB>;
      for (var n = 0u; n < NB; n++) {
        var v = 0.0;
        if (n < nCount) {
          v = x[(n0 + n) * p.inF + k];
          if (RELU_IN) { v = max(v, 0.0); }
          v = inMod(im, v, k);
        }
        xv[n] = v;
      }
      for (var r = 0u; r < ROWS; r++) {
        var wv = 0.0;
        if (r < rCount) { wv = coef * wMod(wm, w[(r0 + r) * p.inF + k]); }
        for (var n = 0u; n < NB; n++) { acc[r * NB + n] = fma(wv, xv[n], acc[r * NB + n]); }
      }
    }
  }

  red[t] = acc;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (t < st) {
      for (var i = 0u; i < 32u; i++) { red[t][i] += red[t + st][i]; }
    }
    workgroupBarrier();
  }
  if (t < ROWS * NB) {
    let r = t / NB;
    let n = t % NB;
    if (r < rCount && n < nCount) {
      let o = (n0 + n) * p.outF + p.rowOffset + r0 + r;
      let d = red[0][t] + bias[r0 + r];
      let rv = rel[o];
      if (MODE == 1u) {
        s[o] = rv / stab(d);
        // n = z - p <= 0 by definition (a sum of non-positive terms); rounding can leave z - p at 0
        // or slightly above when n is below float32's resolution of z, and stab() would then add
        // +eps where the true n takes -eps, flipping the sign of s_n. So n is clamped and always
        // stabilised downwards (n = 0 exactly means every term x_i w-_ij is 0: s_n multiplies nothing).
        s[p.sliceLen + o] = rv / (min(z[o] - d, 0.0) - p.eps);
      } else if (MODE == 2u) {
        let zo = z[o];
        s[o] = select(0.0, rv / stab(zo + p.gamma * d), zo > 0.0);
        s[p.sliceLen + o] = select(0.0, rv / stab(zo + p.gamma * min(zo - d, 0.0)), zo < 0.0);
      } else {
        var gate = 1.0;
        if (GATE == 1u) { gate = select(0.0, 1.0, z[o] > 0.0); }
        if (GATE == 2u) { gate = select(0.0, 1.0, z[o] < 0.0); }
        s[p.outSlice * p.sliceLen + o] = gate * rv / stab(d);
      }
    }
  }
}
