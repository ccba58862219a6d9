// Region perturbation: the perturbed inputs x_k, one invocation per value. Output sample n takes
// clean input table[4n] and replaces, in every channel, the pixels of the patches whose rank in the
// order at ranks[table[4n + 1] ..] is below k = table[4n + 2] by the baseline:
//   baseline 0 (zero): 0, the mean pixel of the normalised input;
//   baseline 1 (uniform): keyed(key, e) >> 8 scaled to [-1, 1) (a multiple of 2^-23, exact in
//     float32), e the value's index in the sample (c * H * W + y * W + x), key = table[4n + 3],
//     the image's (src/eval/region-perturbation.ts). So an image's baseline is one fixed picture,
//     the same at every step, in every order and for every analyzer.

struct Params {
  channels: u32,
  height: u32,
  width: u32,
  side: u32,    // patch side in pixels
  cols: u32,     // patches per row of patches
  total: u32,    // output values: samples x C x H x W
  baseline: u32, // 0 zero, 1 uniform
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// Clean inputs, S x C x H x W float32.
@group(0) @binding(1) var<storage, read> x: array<f32>;
// patch_ranks.wgsl's ranks.
@group(0) @binding(2) var<storage, read> ranks: array<u32>;
// Per output sample: [clean input, offset of its order in ranks, k, baseline key].
@group(0) @binding(3) var<storage, read> table: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// <generated: keyed-hash>
fn fmix32(h0: u32) -> u32 {
  var h = h0;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

fn keyed(k: u32, e: u32) -> u32 {
  return fmix32(k ^ fmix32(e ^ 0x9e3779b9u));
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let plane = p.height * p.width;
  let per = p.channels * plane;
  let n = i / per;
  let e = i - n * per;
  let pix = e % plane;
  let y = pix / p.width;
  let xx = pix - y * p.width;
  let q = (y / p.side) * p.cols + xx / p.side;
  if (ranks[table[4u * n + 1u] + q] < table[4u * n + 2u]) {
    var v = 0.0;
    if (p.baseline == 1u) {
      v = f32(keyed(table[4u * n + 3u], e) >> 8u) * (1.0 / 8388608.0) - 1.0;
    }
    out[i] = v;
  } else {
    out[i] = x[table[4u * n] * per + e];
  }
}
