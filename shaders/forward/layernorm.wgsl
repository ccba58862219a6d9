// LayerNorm over the last axis, and its relevance and gradient: one workgroup per row (a row is one
// position of the leading axes: rows = N x their product), the n values of the row strided over
// the WG threads. mean and the biased variance are two passes over the row, each reduced in
// workgroup memory (no E[x^2] - mean^2 cancellation); s = sqrt(var + eps).
//   MODE 0 (forward):  y = (x - mean) / s * gamma + beta.
//   MODE 1 (LRP, lrp-rules.md: the deviation s held constant, y then linear in x with bias beta):
//     u = gamma * (R_y / stab(y)) / s, R_x = x * (u - mean(u)); `rel` is R_y, `z` the forward y.
//   MODE 2 (gradient, the true derivative, s included): g = gamma * R_y, xh = (x - mean) / s,
//     dx = (g - mean(g) - xh * mean(g * xh)) / s; `rel` is the upper gradient.
// coef holds gamma then beta. x is read through a ReLU with RELU_IN (a ReLU view); the backward
// modes add into `out` with ACCUMULATE (another consumer of the value wrote there first).

struct Params { rows: u32, n: u32, eps: f32, stab: f32 }

override MODE: u32 = 0u;
override RELU_IN: bool = false;
override ACCUMULATE: bool = false;
const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read> rel: array<f32>;
@group(0) @binding(4) var<storage, read> z: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> redA: array<f32, WG>;
var<workgroup> redB: array<f32, WG>;

// The workgroup's sums of a and b (every thread gets both).
fn reduce2(t: u32, a: f32, b: f32) -> vec2<f32> {
  redA[t] = a;
  redB[t] = b;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) {
      redA[t] += redA[t + s];
      redB[t] += redB[t + s];
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(redA[0], redB[0]);
  workgroupBarrier();
  return r;
}

fn xAt(i: u32) -> f32 {
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  return v;
}

// stab(d) = d + eps sign(d), sign(0) = +1.
fn stabilize(d: f32) -> f32 {
  return select(d - p.stab, d + p.stab, d >= 0.0);
}

fn put(i: u32, v: f32) {
  if (ACCUMULATE) {
    out[i] += v;
  } else {
    out[i] = v;
  }
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.n;
  let nf = f32(p.n);
  var s1 = 0.0;
  for (var c = t; c < p.n; c += WG) { s1 += xAt(base + c); }
  let mean = reduce2(t, s1, 0.0).x / nf;
  var s2 = 0.0;
  for (var c = t; c < p.n; c += WG) {
    let d = xAt(base + c) - mean;
    s2 += d * d;
  }
  let inv = 1.0 / sqrt(reduce2(t, s2, 0.0).x / nf + p.eps);
  if (MODE == 0u) {
    for (var c = t; c < p.n; c += WG) { out[base + c] = (xAt(base + c) - mean) * inv * coef[c] + coef[p.n + c]; }
  } else if (MODE == 1u) {
    var su = 0.0;
    for (var c = t; c < p.n; c += WG) { su += coef[c] * rel[base + c] / stabilize(z[base + c]) * inv; }
    let mu = reduce2(t, su, 0.0).x / nf;
    for (var c = t; c < p.n; c += WG) {
      let u = coef[c] * rel[base + c] / stabilize(z[base + c]) * inv;
      put(base + c, xAt(base + c) * (u - mu));
    }
  } else {
    var sg = 0.0;
    var sgx = 0.0;
    for (var c = t; c < p.n; c += WG) {
      let g = coef[c] * rel[base + c];
      sg += g;
      sgx += g * (xAt(base + c) - mean) * inv;
    }
    let r = reduce2(t, sg, sgx) / nf;
    for (var c = t; c < p.n; c += WG) {
      let g = coef[c] * rel[base + c];
      put(base + c, inv * (g - r.x - (xAt(base + c) - mean) * inv * r.y));
    }
  }
}
