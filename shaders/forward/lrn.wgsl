// Local response normalisation across channels (ONNX LRN), one invocation per element:
//   y = x / (bias + alpha / size * sum_{c' in window(c)} x[c']^2) ^ beta
// window(c) = [c - floor((size-1)/2), c + ceil((size-1)/2)], clipped to the channels.

struct Params {
  total: u32, channels: u32, plane: u32, size: u32,
  alpha: f32, beta: f32, bias: f32,
}

override RELU_IN: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn load(i: u32) -> f32 {
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  return v;
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let pix = i % p.plane;
  let c = (i / p.plane) % p.channels;
  let n = i / (p.plane * p.channels);
  let lo = max(i32(c) - i32((p.size - 1u) / 2u), 0);
  let hi = min(i32(c) + i32(p.size / 2u), i32(p.channels) - 1);
  var sq = 0.0;
  for (var cc = lo; cc <= hi; cc++) {
    let v = load((n * p.channels + u32(cc)) * p.plane + pix);
    sq = fma(v, v, sq);
  }
  let scale = p.bias + p.alpha / f32(p.size) * sq;
  y[i] = load(i) / pow(scale, p.beta);
}
