// The true derivative of ONNX LRN (for the gradient methods; LRP passes relevance through LRN),
// one invocation per INPUT element k, as a gather over the outputs whose window contains it:
//   y_i = x_i / D_i^beta,  D_i = bias + alpha / size * sum_{c in win(i)} x_c^2
//   g_in_k = g_k D_k^-beta - (2 alpha beta / size) x_k sum_{i : k in win(i)} g_i x_i D_i^(-beta-1)
// win(i) = [i - floor((size-1)/2), i + ceil((size-1)/2)] clipped to the channels, so k is in win(i)
// for i in [k - ceil((size-1)/2), k + floor((size-1)/2)]. Each D_i is recomputed (size loads)
// rather than stored: size^2 loads per element, cheap next to the convolutions, and no scratch.

struct Params {
  total: u32, channels: u32, plane: u32, size: u32,
  alpha: f32, beta: f32, bias: f32,
}

override RELU_IN: bool = false;
// Add into relIn instead of overwriting it: another consumer of the same value wrote there first.
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> relOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> relIn: array<f32>;

fn load(i: u32) -> f32 {
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  return v;
}

// D at channel c of the pixel whose channel-0 element is at `base` (channels `plane` apart).
fn denom(base: u32, c: i32) -> f32 {
  let lo = max(c - i32((p.size - 1u) / 2u), 0);
  let hi = min(c + i32(p.size / 2u), i32(p.channels) - 1);
  var sq = 0.0;
  for (var cc = lo; cc <= hi; cc++) {
    let v = load(base + u32(cc) * p.plane);
    sq = fma(v, v, sq);
  }
  return p.bias + p.alpha / f32(p.size) * sq;
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.y * nwg.x * WG + gid.x;
  if (k >= p.total) { return; }
  let pix = k % p.plane;
  let c = i32((k / p.plane) % p.channels);
  let n = k / (p.plane * p.channels);
  let base = n * p.channels * p.plane + pix;
  let lo = max(c - i32(p.size / 2u), 0);
  let hi = min(c + i32((p.size - 1u) / 2u), i32(p.channels) - 1);
  var sum = 0.0;
  for (var i = lo; i <= hi; i++) {
    let at = base + u32(i) * p.plane;
    sum += relOut[at] * load(at) * pow(denom(base, i), -p.beta - 1.0);
  }
  let g = relOut[k] * pow(denom(base, c), -p.beta) - 2.0 * p.alpha * p.beta / f32(p.size) * load(k) * sum;
  if (ACCUMULATE) {
    relIn[k] += g;
  } else {
    relIn[k] = g;
  }
}
