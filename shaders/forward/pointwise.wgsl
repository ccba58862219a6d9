// Element-wise layers other than ReLU (which is a view):
//   MODE 0 (BatchNorm): y = x * coef[c] + coef[channels + c], the per-channel affine map with
//     scale g / sqrt(v + e) and shift beta - m * scale, c = the element's channel.
//   MODE 1 (Clip): y = min(max(x, lo), hi); absent bounds come as -+FLT_MAX.
//   MODE 2 (LeakyRelu): y = x for x > 0, alpha * x otherwise.
// x is read through a ReLU with RELU_IN (a ReLU view). Modes 1 and 2 bind any buffer as coef.

struct Params { total: u32, channels: u32, plane: u32, lo: f32, hi: f32, alpha: f32 }

override MODE: u32 = 0u;
override RELU_IN: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  if (MODE == 0u) {
    let c = (i / p.plane) % p.channels;
    v = fma(v, coef[c], coef[p.channels + c]);
  } else if (MODE == 1u) {
    v = min(max(v, p.lo), p.hi);
  } else {
    v = select(p.alpha * v, v, v > 0.0);
  }
  y[i] = v;
}
