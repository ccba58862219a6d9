// The backward half of an LRP rule on a convolution: the transposed convolution that
// redistributes s_j = R_j / stab(d_j) to the inputs, times the rule's input factor:
//   R_i (+)= OUT(x)_i * sum_t coef_t * sum_j W_t(w_ij) * s[SLICE_t]_j
//
// One dispatch per stride phase (input rows iy = py + i * strideH, columns ix = px + j * strideW):
// within a phase only the taps ky = ky0 + a * stepY (a < NTY) reach an output, at output row
// oy = i + offY - a * dY (offY = (py + pad - ky0 * dil) / stride, dY = stepY * dil / stride, both
// whole numbers by the choice of the taps), likewise for columns. Flipping the taps (a' = NTY-1-a)
// makes that an ordinary stride-1 convolution over s with NTY x NTX taps, dilation dY and padding
// padY = (NTY - 1) * dY - offY (negative where a phase starts past the first output):
//   A[m = (sample, i, j), k = (co, a', b')] = s[sample, co, i - padY + a' dY, j - padX + b' dX]
// so the GEMM is forward/conv2d.wgsl's, tile for tile (TX x TY threads, PQ quads x TN channels
// each; the host picks the tile as for a forward layer of this shape): m runs over the phase's
// pixels, n over the input channels of the group, k over (output channel, tap). A stride-1 layer
// is one phase with every tap. The tap counts and the tile are the only constants (the
// decomposition of k divides by constants); shapes and the rule come in the uniform, so every
// rule shares the pipeline of a phase shape (see conv_stab.wgsl).
//
// The weight is re-laid out once per model (src/lrp/ops/conv-layouts.ts) to one section per
// phase, [g][co * NTY * NTX + a' * NTX + b'][Cpad], k-major and zero-padded like the forward's:
// a tile row is aligned vec4 loads. `wOffset` (in vec4s) is where this phase's section starts.
// Several terms of one rule that share the input factor (alpha-beta's alpha W+ s_p and -beta W- s_n
// for inputs >= 0) are segments of one reduction (segs * Kpad deep), each reading its slice of s
// and the weight through its modifier (codes as in conv_stab.wgsl; `out` uses the IN codes).
// `accumulate` adds into R (fan-out, or the second factor of a rule on signed inputs).
//
// Split K (SPLIT): as in conv_stab.wgsl, slices of the reduction write raw partial sums to `r`
// (then a scratch buffer) and conv_transpose_sum.wgsl adds them and applies the epilogue.

// On adapters whose subgroups are rows of consecutive invocations (lavapipe), the host runs the
// subgroups variant generated from this file (src/gpu/subgroups.ts): same text, the B reads of
// the GEMM step broadcast through the subgroup.
// <variants: subgroups>

struct Params {
  batch: u32, sC: u32, sH: u32, sW: u32,
  inC: u32, Hp: u32, Wp: u32, groups: u32,
  padY: i32, padX: i32, dY: u32, dX: u32,
  cinPerGroup: u32, coutPerGroup: u32, K: u32, Kpad: u32,
  Npad: u32, M: u32, wOffset: u32, sliceLen: u32,
  py: u32, px: u32, strideH: u32, strideW: u32,
  inH: u32, inW: u32, gamma: f32, splits: u32,
  kChunk: u32, splitStride: u32,
  // The rule: the input factor OUT(x) read through a ReLU or not, add into R or not; segments,
  // each with its slice of s, weight modifier code and coefficient.
  reluIn: u32, out: u32, accumulate: u32, segs: u32,
  slice: vec4<u32>, wCode: vec4<u32>, coef: vec4<f32>,
}

override NTY: u32 = 3u;
override NTX: u32 = 3u;
override TX: u32 = 16u;
override TY: u32 = 8u;
override PQ: u32 = 1u;
override TN: u32 = 8u;
override BK: u32 = 16u;
// Invocations per subgroup in the subgroups variant: 4 or 8 (unused here).
override SG: u32 = 8u;
override SPLIT: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> bounds: array<f32>;
@group(0) @binding(5) var<storage, read_write> r: array<f32>;

// The A tile at [0, BK * PQ * TX), then the B tile (see forward/conv2d.wgsl).
var<workgroup> tile: array<vec4<f32>, 1024>;

// One quad of phase pixels: `row` is each pixel's offset in s at tap (0, 0) of the group's
// channel 0 (padding included), (iy0, ix0) its position in s there, `out` its offset in R in
// input channel 0.
struct Quad {
  row: vec4<i32>,
  iy0: vec4<i32>,
  ix0: vec4<i32>,
  out: vec4<u32>,
  ok: vec4<bool>,
}

fn quadAt(m: u32, g: u32) -> Quad {
  let mq = vec4<u32>(m) + vec4<u32>(0u, 1u, 2u, 3u);
  let j = mq % p.Wp;
  let iyn = mq / p.Wp;
  let i = iyn % p.Hp;
  let sample = iyn / p.Hp;
  let iy0 = vec4<i32>(i) - p.padY;
  let ix0 = vec4<i32>(j) - p.padX;
  let row = vec4<i32>((sample * p.sC + g * p.coutPerGroup) * p.sH * p.sW) + iy0 * i32(p.sW) + ix0;
  let out = sample * p.inC * p.inH * p.inW + (p.py + i * p.strideH) * p.inW + p.px + j * p.strideW;
  return Quad(row, iy0, ix0, out, mq < vec4<u32>(p.M));
}

// s[slice][quad pixels, k] (sOff: the slice's offset): zero outside the output, past K, past M.
fn gatherA(k: u32, q: Quad, sOff: i32) -> vec4<f32> {
  let co = k / (NTY * NTX);
  let t = k - co * (NTY * NTX);
  let a = t / NTX;
  let b = t - a * NTX;
  let dy = i32(a * p.dY);
  let dx = i32(b * p.dX);
  // Unsigned compares: a negative coordinate wraps past the bound.
  let ok = q.ok & (vec4<u32>(q.iy0 + dy) < vec4<u32>(p.sH)) & (vec4<u32>(q.ix0 + dx) < vec4<u32>(p.sW))
    & vec4<bool>(k < p.K);
  let idx = select(vec4<i32>(0), q.row + (sOff + i32(co * p.sH * p.sW) + dy * i32(p.sW) + dx), ok);
  return select(vec4<f32>(0.0), vec4<f32>(s[idx.x], s[idx.y], s[idx.z], s[idx.w]), ok);
}

// <generated: weight-modifier>
fn wMod(code: u32, v: vec4<f32>) -> vec4<f32> {
  switch code {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return min(v, vec4<f32>(0.0)); }
    case 3u: { return vec4<f32>(1.0); }
    case 4u: { return v * v; }
    case 5u: { return v + p.gamma * max(v, vec4<f32>(0.0)); }
    case 6u: { return v + p.gamma * min(v, vec4<f32>(0.0)); }
    default: { return v; }
  }
}
// </generated>

// <generated: transpose-epilogue channels=p.inC>
// R at input o (channel or feature c) from the redistributed sum a: times the input factor.
fn epilogue(o: u32, c: u32, a: f32) {
  var f = 1.0;
  switch p.out {
    case 3u: { f = 1.0; }
    case 4u: { f = bounds[c]; }
    case 5u: { f = bounds[p.inC + c]; }
    default: {
      f = x[o];
      if (p.reluIn != 0u) { f = max(f, 0.0); }
      if (p.out == 1u) { f = max(f, 0.0); }
      if (p.out == 2u) { f = min(f, 0.0); }
    }
  }
  var v = f * a;
  if (p.accumulate != 0u) { v += r[o]; }
  r[o] = v;
}
// </generated>

// One output of the GEMM: a raw partial sum (split K) or R through the input factor.
fn finishOne(o: u32, ci: u32, a: f32, slice: u32) {
  if (SPLIT) {
    r[slice * p.splitStride + o] = a;
  } else {
    epilogue(o, ci, a);
  }
}

// The quad's outputs of input channel n of group g.
fn finish(q: Quad, n: u32, g: u32, slice: u32, v: vec4<f32>) {
  let ci = g * p.cinPerGroup + n;
  let o = q.out + vec4<u32>(ci * p.inH * p.inW);
  for (var c = 0u; c < 4u; c++) {
    if (q.ok[c]) { finishOne(o[c], ci, v[c], slice); }
  }
}

@compute @workgroup_size(TX, TY, 1)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let AQ = PQ * TX;            // quads in the A tile
  let BN4 = TY * TN / 4u;      // vec4 columns of the B tile
  let bOff = BK * AQ;          // where the B tile starts in `tile`
  let g = wid.z / p.splits;
  let slice = wid.z - g * p.splits;
  let kBegin = slice * p.kChunk;
  let kEnd = min(p.segs * p.Kpad, kBegin + p.kChunk);
  // <generated: fold-grid columns=p.cinPerGroup bn="TY * TN" bm="4u * AQ">
  // The grid may fold m-tiles into x (tileGrid in src/gpu/grid.ts); this undoes it. Spare
  // workgroups of the last row leave before any barrier (all of it is uniform per workgroup).
  let nTiles = (p.cinPerGroup + TY * TN - 1u) / (TY * TN);
  let fold = nwg.x / nTiles;
  let m0 = (wid.y * fold + wid.x / nTiles) * 4u * AQ;
  let n0 = (wid.x % nTiles) * TY * TN;
  if (m0 >= p.M) { return; }
  // </generated>
  let tx = lid.x;
  let ty = lid.y;

  let q0 = quadAt(m0 + 4u * tx, g);
  let q1 = quadAt(m0 + 4u * (tx + TX), g);
  let q2 = quadAt(m0 + 4u * (tx + 2u * TX), g);
  let q3 = quadAt(m0 + 4u * (tx + 3u * TX), g);

  let npad4 = p.Npad / 4u;
  let wBase = p.wOffset + g * p.Kpad * npad4 + n0 / 4u;
  let colsLeft = npad4 - n0 / 4u;

  var acc: array<array<vec4<f32>, 32>, 4>;

  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    // A BK step never straddles two segments (Kpad is a whole number of steps).
    let seg = k0 / p.Kpad;
    let kSeg = k0 - seg * p.Kpad;
    let sOff = i32(p.slice[seg] * p.sliceLen);
    for (var kk = ty; kk < BK; kk += TY) {
      let aRow = kk * AQ + tx;
      tile[aRow] = gatherA(kSeg + kk, q0, sOff);
      if (PQ > 1u) { tile[aRow + TX] = gatherA(kSeg + kk, q1, sOff); }
      if (PQ > 2u) { tile[aRow + 2u * TX] = gatherA(kSeg + kk, q2, sOff); }
      if (PQ > 3u) { tile[aRow + 3u * TX] = gatherA(kSeg + kk, q3, sOff); }
    }
    let wCode = p.wCode[seg];
    let coef = p.coef[seg];
    for (var i = tid; i < BK * BN4; i += TX * TY) {
      let kk = i / BN4;
      let c = i - kk * BN4;
      let src = wBase + (kSeg + kk) * npad4 + c;
      tile[bOff + i] = select(vec4<f32>(0.0), coef * wMod(wCode, w[select(0u, src, c < colsLeft)]), c < colsLeft);
    }
    workgroupBarrier();

    for (var kk = 0u; kk < BK; kk++) {
      let aRow = kk * AQ + tx;
      let a0 = tile[aRow];
      var a1 = vec4<f32>(0.0);
      var a2 = vec4<f32>(0.0);
      var a3 = vec4<f32>(0.0);
      if (PQ > 1u) { a1 = tile[aRow + TX]; }
      if (PQ > 2u) { a2 = tile[aRow + 2u * TX]; }
      if (PQ > 3u) { a3 = tile[aRow + 3u * TX]; }
      let bRow = bOff + kk * BN4 + ty * (TN / 4u);
      // <generated: gemm-fma quads=4 channels=32>
      {
        let b = tile[bRow];
        acc[0][0] = fma(a0, vec4<f32>(b.x), acc[0][0]); acc[0][1] = fma(a0, vec4<f32>(b.y), acc[0][1]); acc[0][2] = fma(a0, vec4<f32>(b.z), acc[0][2]); acc[0][3] = fma(a0, vec4<f32>(b.w), acc[0][3]);
        if (PQ > 1u) { acc[1][0] = fma(a1, vec4<f32>(b.x), acc[1][0]); acc[1][1] = fma(a1, vec4<f32>(b.y), acc[1][1]); acc[1][2] = fma(a1, vec4<f32>(b.z), acc[1][2]); acc[1][3] = fma(a1, vec4<f32>(b.w), acc[1][3]); }
        if (PQ > 2u) { acc[2][0] = fma(a2, vec4<f32>(b.x), acc[2][0]); acc[2][1] = fma(a2, vec4<f32>(b.y), acc[2][1]); acc[2][2] = fma(a2, vec4<f32>(b.z), acc[2][2]); acc[2][3] = fma(a2, vec4<f32>(b.w), acc[2][3]); }
        if (PQ > 3u) { acc[3][0] = fma(a3, vec4<f32>(b.x), acc[3][0]); acc[3][1] = fma(a3, vec4<f32>(b.y), acc[3][1]); acc[3][2] = fma(a3, vec4<f32>(b.z), acc[3][2]); acc[3][3] = fma(a3, vec4<f32>(b.w), acc[3][3]); }
      }
      if (TN > 4u) {
        let b = tile[bRow + 1u];
        acc[0][4] = fma(a0, vec4<f32>(b.x), acc[0][4]); acc[0][5] = fma(a0, vec4<f32>(b.y), acc[0][5]); acc[0][6] = fma(a0, vec4<f32>(b.z), acc[0][6]); acc[0][7] = fma(a0, vec4<f32>(b.w), acc[0][7]);
        if (PQ > 1u) { acc[1][4] = fma(a1, vec4<f32>(b.x), acc[1][4]); acc[1][5] = fma(a1, vec4<f32>(b.y), acc[1][5]); acc[1][6] = fma(a1, vec4<f32>(b.z), acc[1][6]); acc[1][7] = fma(a1, vec4<f32>(b.w), acc[1][7]); }
        if (PQ > 2u) { acc[2][4] = fma(a2, vec4<f32>(b.x), acc[2][4]); acc[2][5] = fma(a2, vec4<f32>(b.y), acc[2][5]); acc[2][6] = fma(a2, vec4<f32>(b.z), acc[2][6]); acc[2][7] = fma(a2, vec4<f32>(b.w), acc[2][7]); }
        if (PQ > 3u) { acc[3][4] = fma(a3, vec4<f32>(b.x), acc[3][4]); acc[3][5] = fma(a3, vec4<f32>(b.y), acc[3][5]); acc[3][6] = fma(a3, vec4<f32>(b.z), acc[3][6]); acc[3][7] = fma(a3, vec4<f32>(b.w), acc[3][7]); }
      }
      if (TN > 8u) {
        let b = tile[bRow + 2u];
        acc[0][8] = fma(a0, vec4<f32>(b.x), acc[0][8]); acc[0][9] = fma(a0, vec4<f32>(b.y), acc[0][9]); acc[0][10] = fma(a0, vec4<f32>(b.z), acc[0][10]); acc[0][11] = fma(a0, vec4<f32>(b.w), acc[0][11]);
        if (PQ > 1u) { acc[1][8] = fma(a1, vec4<f32>(b.x), acc[1][8]); acc[1][9] = fma(a1, vec4<f32>(b.y), acc[1][9]); acc[1][10] = fma(a1, vec4<f32>(b.z), acc[1][10]); acc[1][11] = fma(a1, vec4<f32>(b.w), acc[1][11]); }
        if (PQ > 2u) { acc[2][8] = fma(a2, vec4<f32>(b.x), acc[2][8]); acc[2][9] = fma(a2, vec4<f32>(b.y), acc[2][9]); acc[2][10] = fma(a2, vec4<f32>(b.z), acc[2][10]); acc[2][11] = fma(a2, vec4<f32>(b.w), acc[2][11]); }
        if (PQ > 3u) { acc[3][8] = fma(a3, vec4<f32>(b.x), acc[3][8]); acc[3][9] = fma(a3, vec4<f32>(b.y), acc[3][9]); acc[3][10] = fma(a3, vec4<f32>(b.z), acc[3][10]); acc[3][11] = fma(a3, vec4<f32>(b.w), acc[3][11]); }
      }
      if (TN > 12u) {
        let b = tile[bRow + 3u];
        acc[0][12] = fma(a0, vec4<f32>(b.x), acc[0][12]); acc[0][13] = fma(a0, vec4<f32>(b.y), acc[0][13]); acc[0][14] = fma(a0, vec4<f32>(b.z), acc[0][14]); acc[0][15] = fma(a0, vec4<f32>(b.w), acc[0][15]);
        if (PQ > 1u) { acc[1][12] = fma(a1, vec4<f32>(b.x), acc[1][12]); acc[1][13] = fma(a1, vec4<f32>(b.y), acc[1][13]); acc[1][14] = fma(a1, vec4<f32>(b.z), acc[1][14]); acc[1][15] = fma(a1, vec4<f32>(b.w), acc[1][15]); }
        if (PQ > 2u) { acc[2][12] = fma(a2, vec4<f32>(b.x), acc[2][12]); acc[2][13] = fma(a2, vec4<f32>(b.y), acc[2][13]); acc[2][14] = fma(a2, vec4<f32>(b.z), acc[2][14]); acc[2][15] = fma(a2, vec4<f32>(b.w), acc[2][15]); }
        if (PQ > 3u) { acc[3][12] = fma(a3, vec4<f32>(b.x), acc[3][12]); acc[3][13] = fma(a3, vec4<f32>(b.y), acc[3][13]); acc[3][14] = fma(a3, vec4<f32>(b.z), acc[3][14]); acc[3][15] = fma(a3, vec4<f32>(b.w), acc[3][15]); }
      }
      if (TN > 16u) {
        let b = tile[bRow + 4u];
        acc[0][16] = fma(a0, vec4<f32>(b.x), acc[0][16]); acc[0][17] = fma(a0, vec4<f32>(b.y), acc[0][17]); acc[0][18] = fma(a0, vec4<f32>(b.z), acc[0][18]); acc[0][19] = fma(a0, vec4<f32>(b.w), acc[0][19]);
        if (PQ > 1u) { acc[1][16] = fma(a1, vec4<f32>(b.x), acc[1][16]); acc[1][17] = fma(a1, vec4<f32>(b.y), acc[1][17]); acc[1][18] = fma(a1, vec4<f32>(b.z), acc[1][18]); acc[1][19] = fma(a1, vec4<f32>(b.w), acc[1][19]); }
        if (PQ > 2u) { acc[2][16] = fma(a2, vec4<f32>(b.x), acc[2][16]); acc[2][17] = fma(a2, vec4<f32>(b.y), acc[2][17]); acc[2][18] = fma(a2, vec4<f32>(b.z), acc[2][18]); acc[2][19] = fma(a2, vec4<f32>(b.w), acc[2][19]); }
        if (PQ > 3u) { acc[3][16] = fma(a3, vec4<f32>(b.x), acc[3][16]); acc[3][17] = fma(a3, vec4<f32>(b.y), acc[3][17]); acc[3][18] = fma(a3, vec4<f32>(b.z), acc[3][18]); acc[3][19] = fma(a3, vec4<f32>(b.w), acc[3][19]); }
      }
      if (TN > 20u) {
        let b = tile[bRow + 5u];
        acc[0][20] = fma(a0, vec4<f32>(b.x), acc[0][20]); acc[0][21] = fma(a0, vec4<f32>(b.y), acc[0][21]); acc[0][22] = fma(a0, vec4<f32>(b.z), acc[0][22]); acc[0][23] = fma(a0, vec4<f32>(b.w), acc[0][23]);
        if (PQ > 1u) { acc[1][20] = fma(a1, vec4<f32>(b.x), acc[1][20]); acc[1][21] = fma(a1, vec4<f32>(b.y), acc[1][21]); acc[1][22] = fma(a1, vec4<f32>(b.z), acc[1][22]); acc[1][23] = fma(a1, vec4<f32>(b.w), acc[1][23]); }
        if (PQ > 2u) { acc[2][20] = fma(a2, vec4<f32>(b.x), acc[2][20]); acc[2][21] = fma(a2, vec4<f32>(b.y), acc[2][21]); acc[2][22] = fma(a2, vec4<f32>(b.z), acc[2][22]); acc[2][23] = fma(a2, vec4<f32>(b.w), acc[2][23]); }
        if (PQ > 3u) { acc[3][20] = fma(a3, vec4<f32>(b.x), acc[3][20]); acc[3][21] = fma(a3, vec4<f32>(b.y), acc[3][21]); acc[3][22] = fma(a3, vec4<f32>(b.z), acc[3][22]); acc[3][23] = fma(a3, vec4<f32>(b.w), acc[3][23]); }
      }
      if (TN > 24u) {
        let b = tile[bRow + 6u];
        acc[0][24] = fma(a0, vec4<f32>(b.x), acc[0][24]); acc[0][25] = fma(a0, vec4<f32>(b.y), acc[0][25]); acc[0][26] = fma(a0, vec4<f32>(b.z), acc[0][26]); acc[0][27] = fma(a0, vec4<f32>(b.w), acc[0][27]);
        if (PQ > 1u) { acc[1][24] = fma(a1, vec4<f32>(b.x), acc[1][24]); acc[1][25] = fma(a1, vec4<f32>(b.y), acc[1][25]); acc[1][26] = fma(a1, vec4<f32>(b.z), acc[1][26]); acc[1][27] = fma(a1, vec4<f32>(b.w), acc[1][27]); }
        if (PQ > 2u) { acc[2][24] = fma(a2, vec4<f32>(b.x), acc[2][24]); acc[2][25] = fma(a2, vec4<f32>(b.y), acc[2][25]); acc[2][26] = fma(a2, vec4<f32>(b.z), acc[2][26]); acc[2][27] = fma(a2, vec4<f32>(b.w), acc[2][27]); }
        if (PQ > 3u) { acc[3][24] = fma(a3, vec4<f32>(b.x), acc[3][24]); acc[3][25] = fma(a3, vec4<f32>(b.y), acc[3][25]); acc[3][26] = fma(a3, vec4<f32>(b.z), acc[3][26]); acc[3][27] = fma(a3, vec4<f32>(b.w), acc[3][27]); }
      }
      if (TN > 28u) {
        let b = tile[bRow + 7u];
        acc[0][28] = fma(a0, vec4<f32>(b.x), acc[0][28]); acc[0][29] = fma(a0, vec4<f32>(b.y), acc[0][29]); acc[0][30] = fma(a0, vec4<f32>(b.z), acc[0][30]); acc[0][31] = fma(a0, vec4<f32>(b.w), acc[0][31]);
        if (PQ > 1u) { acc[1][28] = fma(a1, vec4<f32>(b.x), acc[1][28]); acc[1][29] = fma(a1, vec4<f32>(b.y), acc[1][29]); acc[1][30] = fma(a1, vec4<f32>(b.z), acc[1][30]); acc[1][31] = fma(a1, vec4<f32>(b.w), acc[1][31]); }
        if (PQ > 2u) { acc[2][28] = fma(a2, vec4<f32>(b.x), acc[2][28]); acc[2][29] = fma(a2, vec4<f32>(b.y), acc[2][29]); acc[2][30] = fma(a2, vec4<f32>(b.z), acc[2][30]); acc[2][31] = fma(a2, vec4<f32>(b.w), acc[2][31]); }
        if (PQ > 3u) { acc[3][28] = fma(a3, vec4<f32>(b.x), acc[3][28]); acc[3][29] = fma(a3, vec4<f32>(b.y), acc[3][29]); acc[3][30] = fma(a3, vec4<f32>(b.z), acc[3][30]); acc[3][31] = fma(a3, vec4<f32>(b.w), acc[3][31]); }
      }
      // </generated>
    }
    workgroupBarrier();
  }

  // The epilogue walks the accumulators in a loop (see acc-spill): past this point speed does
  // not matter, code size (compile time on a CPU driver) does.
  var res: array<vec4<f32>, 128>;
  // <generated: acc-spill quads=4 channels=32>
  res[0] = acc[0][0]; res[1] = acc[0][1]; res[2] = acc[0][2]; res[3] = acc[0][3];
  if (TN > 4u) { res[4] = acc[0][4]; res[5] = acc[0][5]; res[6] = acc[0][6]; res[7] = acc[0][7]; }
  if (TN > 8u) { res[8] = acc[0][8]; res[9] = acc[0][9]; res[10] = acc[0][10]; res[11] = acc[0][11]; }
  if (TN > 12u) { res[12] = acc[0][12]; res[13] = acc[0][13]; res[14] = acc[0][14]; res[15] = acc[0][15]; }
  if (TN > 16u) { res[16] = acc[0][16]; res[17] = acc[0][17]; res[18] = acc[0][18]; res[19] = acc[0][19]; }
  if (TN > 20u) { res[20] = acc[0][20]; res[21] = acc[0][21]; res[22] = acc[0][22]; res[23] = acc[0][23]; }
  if (TN > 24u) { res[24] = acc[0][24]; res[25] = acc[0][25]; res[26] = acc[0][26]; res[27] = acc[0][27]; }
  if (TN > 28u) { res[28] = acc[0][28]; res[29] = acc[0][29]; res[30] = acc[0][30]; res[31] = acc[0][31]; }
  if (PQ > 1u) { res[32] = acc[1][0]; res[33] = acc[1][1]; res[34] = acc[1][2]; res[35] = acc[1][3]; }
  if (PQ > 1u && TN > 4u) { res[36] = acc[1][4]; res[37] = acc[1][5]; res[38] = acc[1][6]; res[39] = acc[1][7]; }
  if (PQ > 1u && TN > 8u) { res[40] = acc[1][8]; res[41] = acc[1][9]; res[42] = acc[1][10]; res[43] = acc[1][11]; }
  if (PQ > 1u && TN > 12u) { res[44] = acc[1][12]; res[45] = acc[1][13]; res[46] = acc[1][14]; res[47] = acc[1][15]; }
  if (PQ > 1u && TN > 16u) { res[48] = acc[1][16]; res[49] = acc[1][17]; res[50] = acc[1][18]; res[51] = acc[1][19]; }
  if (PQ > 1u && TN > 20u) { res[52] = acc[1][20]; res[53] = acc[1][21]; res[54] = acc[1][22]; res[55] = acc[1][23]; }
  if (PQ > 1u && TN > 24u) { res[56] = acc[1][24]; res[57] = acc[1][25]; res[58] = acc[1][26]; res[59] = acc[1][27]; }
  if (PQ > 1u && TN > 28u) { res[60] = acc[1][28]; res[61] = acc[1][29]; res[62] = acc[1][30]; res[63] = acc[1][31]; }
  if (PQ > 2u) { res[64] = acc[2][0]; res[65] = acc[2][1]; res[66] = acc[2][2]; res[67] = acc[2][3]; }
  if (PQ > 2u && TN > 4u) { res[68] = acc[2][4]; res[69] = acc[2][5]; res[70] = acc[2][6]; res[71] = acc[2][7]; }
  if (PQ > 2u && TN > 8u) { res[72] = acc[2][8]; res[73] = acc[2][9]; res[74] = acc[2][10]; res[75] = acc[2][11]; }
  if (PQ > 2u && TN > 12u) { res[76] = acc[2][12]; res[77] = acc[2][13]; res[78] = acc[2][14]; res[79] = acc[2][15]; }
  if (PQ > 2u && TN > 16u) { res[80] = acc[2][16]; res[81] = acc[2][17]; res[82] = acc[2][18]; res[83] = acc[2][19]; }
  if (PQ > 2u && TN > 20u) { res[84] = acc[2][20]; res[85] = acc[2][21]; res[86] = acc[2][22]; res[87] = acc[2][23]; }
  if (PQ > 2u && TN > 24u) { res[88] = acc[2][24]; res[89] = acc[2][25]; res[90] = acc[2][26]; res[91] = acc[2][27]; }
  if (PQ > 2u && TN > 28u) { res[92] = acc[2][28]; res[93] = acc[2][29]; res[94] = acc[2][30]; res[95] = acc[2][31]; }
  if (PQ > 3u) { res[96] = acc[3][0]; res[97] = acc[3][1]; res[98] = acc[3][2]; res[99] = acc[3][3]; }
  if (PQ > 3u && TN > 4u) { res[100] = acc[3][4]; res[101] = acc[3][5]; res[102] = acc[3][6]; res[103] = acc[3][7]; }
  if (PQ > 3u && TN > 8u) { res[104] = acc[3][8]; res[105] = acc[3][9]; res[106] = acc[3][10]; res[107] = acc[3][11]; }
  if (PQ > 3u && TN > 12u) { res[108] = acc[3][12]; res[109] = acc[3][13]; res[110] = acc[3][14]; res[111] = acc[3][15]; }
  if (PQ > 3u && TN > 16u) { res[112] = acc[3][16]; res[113] = acc[3][17]; res[114] = acc[3][18]; res[115] = acc[3][19]; }
  if (PQ > 3u && TN > 20u) { res[116] = acc[3][20]; res[117] = acc[3][21]; res[118] = acc[3][22]; res[119] = acc[3][23]; }
  if (PQ > 3u && TN > 24u) { res[120] = acc[3][24]; res[121] = acc[3][25]; res[122] = acc[3][26]; res[123] = acc[3][27]; }
  if (PQ > 3u && TN > 28u) { res[124] = acc[3][28]; res[125] = acc[3][29]; res[126] = acc[3][30]; res[127] = acc[3][31]; }
  // </generated>
  var quads = array<Quad, 4>(q0, q1, q2, q3);
  let nRow = n0 + ty * TN;
  for (var j = 0u; j < PQ; j++) {
    for (var t = 0u; t < TN; t++) {
      if (nRow + t < p.cinPerGroup) { finish(quads[j], nRow + t, g, slice, res[j * 32u + t]); }
    }
  }
}
