// The evaluation's per-pair numbers, reduced on the GPU (shared/docs/evaluation-protocol.md):
// R = the relevance summed over channels, per pixel; R_in = sum of max(R, 0) over the pair's mask,
// R_tot = sum of max(R, 0) over the image, S_in = the mask's pixel count. One workgroup per pair.
//
// Accuracy: the values summed are all >= 0, so the relative error of a sum is bounded by the depth
// of its additions times the unit roundoff. Each thread adds its pixels (strided by WG) in blocks
// of BLOCK, adds the block sums into its total, then the workgroup adds the WG totals in a tree:
// depth BLOCK + plane / (WG * BLOCK) + log2(WG), about 37 for 224 x 224 (worst case 2e-6 relative,
// typically ~1e-7), instead of plane / WG for one running sum per thread. Kahan compensation is
// not used: compilers that reassociate inexact float adds may optimise it away.
//
// Workgroup arrays are sized by module constants (arrays sized by override expressions crash Dawn).

struct Params {
  channels: u32,
  plane: u32,   // H * W
  pairs: u32,
  words: u32,   // u32 words per packed mask: ceil(plane / 32)
}

const WG: u32 = 256u;
const BLOCK: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
// N x C x H x W float32: the batch's input relevance.
@group(0) @binding(1) var<storage, read> rel: array<f32>;
// Packed masks, `words` per mask; pixel i is bit (i & 31) of word (i >> 5), row-major.
@group(0) @binding(2) var<storage, read> masks: array<u32>;
// Per pair: [relevance sample index, mask index].
@group(0) @binding(3) var<storage, read> table: array<u32>;
// Per pair: [bits of R_in as f32, bits of R_tot as f32, S_in, 0].
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

var<workgroup> sumIn: array<f32, WG>;
var<workgroup> sumTot: array<f32, WG>;
var<workgroup> count: array<u32, WG>;

@compute @workgroup_size(WG, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let pair = wid.y * nwg.x + wid.x;
  if (pair >= p.pairs) { return; } // uniform per workgroup
  let base = table[2u * pair] * p.channels * p.plane;
  let mbase = table[2u * pair + 1u] * p.words;

  var totIn = 0.0;
  var totAll = 0.0;
  var n = 0u;
  var i = lid;
  while (i < p.plane) {
    var blockIn = 0.0;
    var blockAll = 0.0;
    for (var k = 0u; k < BLOCK && i < p.plane; k++) {
      var r = 0.0;
      for (var c = 0u; c < p.channels; c++) { r += rel[base + c * p.plane + i]; }
      let pos = max(r, 0.0);
      let bit = (masks[mbase + (i >> 5u)] >> (i & 31u)) & 1u;
      blockAll += pos;
      blockIn += select(0.0, pos, bit == 1u);
      n += bit;
      i += WG;
    }
    totIn += blockIn;
    totAll += blockAll;
  }
  sumIn[lid] = totIn;
  sumTot[lid] = totAll;
  count[lid] = n;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      sumIn[lid] += sumIn[lid + s];
      sumTot[lid] += sumTot[lid + s];
      count[lid] += count[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[4u * pair] = bitcast<u32>(sumIn[0]);
    out[4u * pair + 1u] = bitcast<u32>(sumTot[0]);
    out[4u * pair + 2u] = count[0];
    out[4u * pair + 3u] = 0u;
  }
}
