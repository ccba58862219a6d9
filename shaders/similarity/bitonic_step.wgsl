// The randomization check's ranking, step 2 of 3: one compare-exchange stage (k, j) of a bitonic
// sort of every map's `pad` keys (a power of two), ascending, carrying the pixel indices along.
// The host runs the stages k = 2, 4, ..., pad and, within each, j = k/2, ..., 1: log2(pad) *
// (log2(pad) + 1) / 2 dispatches (78 for 64 x 64 maps, 136 for 224 x 224) of pad / 2 invocations
// per map, O(pad log^2 pad) work instead of a counting pass's O(plane^2). The sort is not stable;
// it need not be, since rank_sorted.wgsl gives equal keys the same rank from their values.

struct Params {
  pad: u32,
  total: u32,   // maps * pad / 2: one invocation per compared pair
  k: u32,
  j: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> keys: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<u32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * WG + gid.x;
  if (t >= p.total) { return; }
  let half = p.pad / 2u;
  let m = t / half;
  let r = t - m * half;
  // The lower element of the r-th pair: bit j of its index clear; its partner has it set.
  let i = (r / p.j) * 2u * p.j + r % p.j;
  let a = m * p.pad + i;
  let b = a + p.j;
  let ascending = (i & p.k) == 0u;
  let ka = keys[a];
  let kb = keys[b];
  if ((ka > kb) == ascending && ka != kb) {
    keys[a] = kb;
    keys[b] = ka;
    let ia = idx[a];
    idx[a] = idx[b];
    idx[b] = ia;
  }
}
