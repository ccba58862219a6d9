// The randomization check's ranking, step 3 of 3: average ranks (1-based; ties share the mean of
// their positions, as scipy's rankdata 'average') from each map's sorted keys. The invocation of
// sorted position q finds the run of keys equal to its own by two binary searches (the first
// position whose key is not below it, the last whose key is not above it) and writes the run's
// mean position + 1 to its pixel. Exact in f32 while positions stay below 2^23 (the host refuses
// larger maps).

struct Params {
  plane: u32,
  pad: u32,
  total: u32,   // maps * plane
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// maps x pad sorted keys (the padding, 2, after every value) and their pixel indices.
@group(0) @binding(1) var<storage, read> keys: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
// maps x plane average ranks, by pixel.
@group(0) @binding(3) var<storage, read_write> ranks: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * WG + gid.x;
  if (t >= p.total) { return; }
  let m = t / p.plane;
  let q = t - m * p.plane;
  let base = m * p.pad;
  let v = keys[base + q];
  // First position in [0, q] whose key is >= v.
  var lo = 0u;
  var hi = q;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (keys[base + mid] < v) { lo = mid + 1u; } else { hi = mid; }
  }
  let first = lo;
  // Last position in [q, plane - 1] whose key is <= v.
  lo = q;
  hi = p.plane - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (keys[base + mid] > v) { hi = mid - 1u; } else { lo = mid; }
  }
  ranks[m * p.plane + idx[base + q]] = 0.5 * f32(first + lo) + 1.0;
}
