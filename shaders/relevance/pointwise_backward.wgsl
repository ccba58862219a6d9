// Relevance (or gradient) through the element-wise layers of residual networks, one invocation
// per element of relIn:
//   MODE 0 (add, norm): relIn = x * relOut / stab(z), x one input of the sum, z the sum (zennit's
//     Sum with the Norm rule: each input's share of the relevance).
//   MODE 1 (BatchNorm gradient): relIn = relOut * coef[c], coef the per-channel scale g / sqrt(v + e).
//   MODE 2 (Clip gradient): relIn = relOut * [lo < x < hi] (PyTorch's hardtanh: strict at both ends).
//   MODE 3 (LeakyRelu gradient): relIn = relOut * (x > 0 ? 1 : alpha).
//   MODE 4 (Pad, any rule): relIn = the crop of relOut at (top, left): what reached the zeros is dropped.
// x is read through a ReLU with RELU_IN. Bindings a mode does not read take any buffer.
// stab(d) = d + eps * sign(d), sign(0) = +1.

struct Params {
  total: u32, channels: u32, plane: u32, inH: u32, inW: u32, outH: u32, outW: u32, top: u32, left: u32,
  eps: f32, lo: f32, hi: f32, alpha: f32,
}

override MODE: u32 = 0u;
override RELU_IN: bool = false;
// Add into relIn instead of overwriting it: another consumer of the same value wrote there first.
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> relOut: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> z: array<f32>;
@group(0) @binding(4) var<storage, read> coef: array<f32>;
@group(0) @binding(5) var<storage, read_write> relIn: array<f32>;

fn stab(d: f32) -> f32 {
  return select(d - p.eps, d + p.eps, d >= 0.0);
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var g: f32;
  if (MODE == 4u) {
    let w = i % p.inW;
    let h = (i / p.inW) % p.inH;
    let nc = i / (p.inW * p.inH);
    g = relOut[(nc * p.outH + h + p.top) * p.outW + w + p.left];
  } else if (MODE == 1u) {
    g = relOut[i] * coef[(i / p.plane) % p.channels];
  } else {
    var v = x[i];
    if (RELU_IN) { v = max(v, 0.0); }
    if (MODE == 0u) {
      g = v * (relOut[i] / stab(z[i]));
    } else if (MODE == 2u) {
      g = select(0.0, relOut[i], v > p.lo && v < p.hi);
    } else {
      g = select(p.alpha * relOut[i], relOut[i], v > 0.0);
    }
  }
  if (ACCUMULATE) {
    relIn[i] += g;
  } else {
    relIn[i] = g;
  }
}
