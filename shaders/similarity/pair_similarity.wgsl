// Per pair of maps (an original and its randomised model's map, both scaled to [0, 1] by
// scale_map.wgsl, with their average ranks from rank_sorted.wgsl), the sums the host turns into the
// Spearman rank correlation and the mean SSIM. One workgroup per pair.
//
// Spearman: the Pearson correlation of the ranks. Average ranks always have the mean
// (plane + 1) / 2, so the sums are taken about it directly: S_ab = sum (a - m)(b - m),
// S_aa = sum (a - m)^2, S_bb = sum (b - m)^2; rho = S_ab / sqrt(S_aa S_bb) on the host (float64).
//
// SSIM (Wang et al. 2004, as skimage.metrics.structural_similarity with gaussian_weights=True,
// sigma=1.5, truncate 3.5 (an 11 x 11 window), use_sample_covariance=False, data_range=1,
// K1=0.01, K2=0.03): per pixel, Gaussian-weighted local means, variances and covariance, then
// S = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)). skimage
// averages S over the pixels at least RADIUS from every border (its crop of the filtered
// image), so the window never leaves the map and its border mode never matters: the sum runs
// over that interior only, and the host divides by its size. The 2-D weights are the outer
// product of the normalised 1-D Gaussian the host passes in `g` (2 RADIUS + 1 values).
//
// Sums: blocks of BLOCK per invocation, then a tree over the workgroup (as masked_sums.wgsl).
// Identical maps give S = 1 at every pixel and S_ab = S_aa = S_bb exactly, so the "nothing
// randomised" step compares as exactly 1.

struct Params {
  height: u32,
  width: u32,
  pairs: u32,
}

const WG: u32 = 256u;
const BLOCK: u32 = 16u;
const RADIUS: u32 = 5u;
const C1: f32 = 0.0001; // (0.01 * 1)^2
const C2: f32 = 0.0009; // (0.03 * 1)^2

@group(0) @binding(0) var<uniform> p: Params;
// pairs x H x W: the original maps, scaled.
@group(0) @binding(1) var<storage, read> a: array<f32>;
// pairs x H x W: the randomised maps, scaled.
@group(0) @binding(2) var<storage, read> b: array<f32>;
// pairs x H x W: their average ranks.
@group(0) @binding(3) var<storage, read> ra: array<f32>;
@group(0) @binding(4) var<storage, read> rb: array<f32>;
// 2 RADIUS + 1 Gaussian weights summing to 1.
@group(0) @binding(5) var<storage, read> g: array<f32>;
// Per pair: [S_ab, S_aa, S_bb, sum of S over the interior] as f32.
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

var<workgroup> w0: array<f32, WG>;
var<workgroup> w1: array<f32, WG>;
var<workgroup> w2: array<f32, WG>;
var<workgroup> w3: array<f32, WG>;

fn ssimAt(base: u32, y: u32, x: u32) -> f32 {
  var mx = 0.0;
  var my = 0.0;
  var mxy = 0.0;
  var mdd = 0.0;
  for (var dy = 0u; dy <= 2u * RADIUS; dy++) {
    let row = base + (y + dy - RADIUS) * p.width + x - RADIUS;
    let gy = g[dy];
    for (var dx = 0u; dx <= 2u * RADIUS; dx++) {
      let wt = gy * g[dx];
      let u = a[row + dx];
      let v = b[row + dx];
      mx += wt * u;
      my += wt * v;
      mxy += wt * u * v;
      mdd += wt * (u - v) * (u - v);
    }
  }
  // skimage's denominators written as the numerators plus what differs between the maps:
  // mu_x^2 + mu_y^2 = 2 mu_x mu_y + (mu_x - mu_y)^2 and s_x^2 + s_y^2 = 2 s_xy + E_w[(x - y)^2]
  // - (mu_x - mu_y)^2 (the same quantities, rearranged). For identical maps the differences
  // are exactly 0, so S is exactly 1 whatever the compiler fuses.
  let a1 = 2.0 * mx * my + C1;
  let a2 = 2.0 * (mxy - mx * my) + C2;
  let dm = (mx - my) * (mx - my);
  return (a1 * a2) / ((a1 + dm) * (a2 + mdd - dm));
}

@compute @workgroup_size(WG, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let pair = wid.y * nwg.x + wid.x;
  if (pair >= p.pairs) { return; } // uniform per workgroup
  let plane = p.height * p.width;
  let base = pair * plane;
  let mean = 0.5 * f32(plane + 1u);

  var sab = 0.0;
  var saa = 0.0;
  var sbb = 0.0;
  var i = lid;
  while (i < plane) {
    var bab = 0.0;
    var baa = 0.0;
    var bbb = 0.0;
    for (var k = 0u; k < BLOCK && i < plane; k++) {
      let da = ra[base + i] - mean;
      let db = rb[base + i] - mean;
      bab += da * db;
      baa += da * da;
      bbb += db * db;
      i += WG;
    }
    sab += bab;
    saa += baa;
    sbb += bbb;
  }

  let iw = p.width - 2u * RADIUS;
  let inner = (p.height - 2u * RADIUS) * iw;
  var ss = 0.0;
  var q = lid;
  while (q < inner) {
    var bs = 0.0;
    for (var k = 0u; k < BLOCK && q < inner; k++) {
      let y = q / iw;
      bs += ssimAt(base, y + RADIUS, q - y * iw + RADIUS);
      q += WG;
    }
    ss += bs;
  }

  w0[lid] = sab;
  w1[lid] = saa;
  w2[lid] = sbb;
  w3[lid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      w0[lid] += w0[lid + s];
      w1[lid] += w1[lid + s];
      w2[lid] += w2[lid + s];
      w3[lid] += w3[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[4u * pair] = w0[0];
    out[4u * pair + 1u] = w1[0];
    out[4u * pair + 2u] = w2[0];
    out[4u * pair + 3u] = w3[0];
  }
}
