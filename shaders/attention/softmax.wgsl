// Softmax over the last axis, one invocation per row of `len` values:
//   MODE 0 (forward): y = exp(x - max x) / sum exp(x - max x).
//   MODE 1 (gradient): relIn = y * (g - sum_k y_k g_k), y the forward output (bound as x), g the
//     upper gradient.
// x is read through a ReLU with RELU_IN (a ReLU view; forward only).

struct Params { rows: u32, len: u32 }

override MODE: u32 = 0u;
override RELU_IN: bool = false;
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn load(i: u32) -> f32 {
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  return v;
}

fn store(i: u32, v: f32) {
  if (ACCUMULATE) {
    y[i] += v;
  } else {
    y[i] = v;
  }
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y * nwg.x * WG + gid.x;
  if (row >= p.rows) { return; }
  let base = row * p.len;
  if (MODE == 0u) {
    var m = load(base);
    for (var k = 1u; k < p.len; k++) { m = max(m, load(base + k)); }
    var s = 0.0;
    for (var k = 0u; k < p.len; k++) { s += exp(load(base + k) - m); }
    for (var k = 0u; k < p.len; k++) { store(base + k, exp(load(base + k) - m) / s); }
  } else {
    var d = 0.0;
    for (var k = 0u; k < p.len; k++) { d += x[base + k] * g[base + k]; }
    for (var k = 0u; k < p.len; k++) { store(base + k, x[base + k] * (g[base + k] - d)); }
  }
}
