// Region perturbation: where each patch falls in its row's two orders, one invocation per
// (row, patch). MoRF takes the highest score first, LeRF the lowest; ties keep row-major order
// (the lower patch index first) in both. So patch i's MoRF rank is the number of patches j with
// s_j > s_i, or s_j == s_i and j < i; its LeRF rank the number with s_j < s_i, or s_j == s_i and
// j < i. A quadratic count rather than a sort: patches number hundreds to a few thousand (224 x 224
// in 8 x 8 patches: 784), and the count needs no synchronisation and gives the tie rule exactly.

struct Params {
  patches: u32,
  rows: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
// rows x patches float32 (patch_scores.wgsl).
@group(0) @binding(1) var<storage, read> scores: array<f32>;
// rows x 2 x patches: per row, the MoRF ranks then the LeRF ranks.
@group(0) @binding(2) var<storage, read_write> ranks: array<u32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.rows * p.patches) { return; }
  let row = i / p.patches;
  let q = i - row * p.patches;
  let base = row * p.patches;
  let s = scores[i];
  var more = 0u;
  var less = 0u;
  for (var j = 0u; j < p.patches; j++) {
    let t = scores[base + j];
    let before = j < q && t == s;
    more += select(0u, 1u, t > s || before);
    less += select(0u, 1u, t < s || before);
  }
  ranks[2u * base + q] = more;
  ranks[2u * base + p.patches + q] = less;
}
