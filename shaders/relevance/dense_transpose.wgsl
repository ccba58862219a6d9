// The backward half of an LRP rule on a dense layer (see conv_transpose.wgsl):
//   R[n, i] (+)= OUT(x[n, i]) * sum_t coef_t sum_o W_t(w[o, i]) s[SLICE_t][n, o]
// Threads own input features and walk the output rows of this weight chunk: consecutive threads
// read consecutive weights of a row (the forward [out][in] layout serves as is), and each s
// value is shared by the whole workgroup. A workgroup owns COLS*WG features for up to NB samples.

struct Params {
  batch: u32, inF: u32, rows: u32, rowOffset: u32,
  outF: u32, sliceLen: u32,
  gamma: f32,
  coef0: f32, coef1: f32, coef2: f32,
}

override RELU_IN: bool = false;
override SEGS: u32 = 1u;
override SLICE0: u32 = 0u;
override SLICE1: u32 = 0u;
override SLICE2: u32 = 0u;
override W0: u32 = 0u;
override W1: u32 = 0u;
override W2: u32 = 0u;
override OUT: u32 = 0u;
override ACCUMULATE: bool = false;
const WG: u32 = 64u;
const COLS: u32 = 4u;
const NB: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> bounds: array<f32>;
@group(0) @binding(5) var<storage, read_write> r: array<f32>;

fn outMod(v: f32, i: u32) -> f32 {
  switch OUT {
    case 1u: { return max(v, 0.0); }
    case 2u: { return min(v, 0.0); }
    case 3u: { return 1.0; }
    case 4u: { return bounds[i]; }
    case 5u: { return bounds[p.inF + i]; }
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

fn segSlice(seg: u32) -> u32 { return select(select(SLICE0, SLICE1, seg == 1u), SLICE2, seg == 2u); }
fn segW(seg: u32) -> u32 { return select(select(W0, W1, seg == 1u), W2, seg == 2u); }
fn segCoef(seg: u32) -> f32 { return select(select(p.coef0, p.coef1, seg == 1u), p.coef2, seg == 2u); }

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let i0 = wid.x * WG * COLS + t;
  let n0 = wid.y * NB;
  let nCount = min(NB, p.batch - n0);

  var acc: array<f32, 32>;
  for (var q = 0u; q < 32u; q++) { acc[q] = 0.0; }

  for (var seg = 0u; seg < SEGS; seg++) {
    let sOff = segSlice(seg) * p.sliceLen + p.rowOffset;
    let wm = segW(seg);
    let coef = segCoef(seg);
    for (var o = 0u; o < p.rows; o++) {
      var sv: array<f32, NB>;
      for (var n = 0u; n < NB; n++) {
        sv[n] = select(0.0, coef * s[sOff + (n0 + n) * p.outF + o], n < nCount);
      }
      for (var c = 0u; c < COLS; c++) {
        let i = i0 + c * WG;
        var wv = 0.0;
        if (i < p.inF) { wv = wMod(wm, w[o * p.inF + i]); }
        for (var n = 0u; n < NB; n++) { acc[c * NB + n] = fma(wv, sv[n], acc[c * NB + n]); }
      }
    }
  }

  for (var c = 0u; c < COLS; c++) {
    let i = i0 + c * WG;
    if (i >= p.inF) { break; }
    for (var n = 0u; n < nCount; n++) {
      let idx = (n0 + n) * p.inF + i;
      var xv = 0.0;
      if (OUT != 3u) {
        xv = x[idx];
        if (RELU_IN) { xv = max(xv, 0.0); }
      }
      var v = outMod(xv, i) * acc[c * NB + n];
      if (ACCUMULATE) { v += r[idx]; }
      r[idx] = v;
    }
  }
}
