// Region perturbation (shared/docs/evaluation-protocol.md, "Faithfulness"): one score per p x p
// patch of a score row, one invocation per (row, patch). Patches tile the input row-major from the
// top-left corner; the last row and column of patches are cut short by the input's edge.
//
// A row's mode (table) says where its scores come from:
//   0: the relevance of one sample (N x C x H x W): the sum of R over the patch's pixels and every
//      channel, in float32, channel by channel, row by row;
//   1: the random order: a seeded key per patch, keyed(key, patch) >> 8, a whole number below 2^24
//      (exact in float32), so that its orders are permutations that depend only on the key (the
//      image's) and on no relevance.
//
// keyed(key, i) = fmix32(key ^ fmix32(i ^ 0x9e3779b9)), MurmurHash3's finaliser (as in
// src/synth/rng.ts); src/eval/region-perturbation.ts computes the keys per image.

struct Params {
  channels: u32,
  height: u32,
  width: u32,
  side: u32,    // patch side in pixels
  cols: u32,    // patches per row of patches: ceil(width / patch)
  patches: u32, // cols * ceil(height / patch)
  rows: u32,    // score rows
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
// N x C x H x W float32: relevance (any buffer when every row is random).
@group(0) @binding(1) var<storage, read> rel: array<f32>;
// Per row: [relevance sample, mode, key].
@group(0) @binding(2) var<storage, read> table: array<u32>;
// rows x patches float32.
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;

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
  if (i >= p.rows * p.patches) { return; }
  let row = i / p.patches;
  let q = i - row * p.patches;
  if (table[3u * row + 1u] == 1u) {
    scores[i] = f32(keyed(table[3u * row + 2u], q) >> 8u);
    return;
  }
  let py = q / p.cols;
  let px = q - py * p.cols;
  let y0 = py * p.side;
  let x0 = px * p.side;
  let y1 = min(y0 + p.side, p.height);
  let x1 = min(x0 + p.side, p.width);
  let plane = p.height * p.width;
  let base = table[3u * row] * p.channels * plane;
  var s = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    for (var y = y0; y < y1; y++) {
      for (var x = x0; x < x1; x++) { s += rel[base + c * plane + y * p.width + x]; }
    }
  }
  scores[i] = s;
}
