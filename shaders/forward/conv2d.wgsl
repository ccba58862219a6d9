// 2-D convolution as a tiled implicit GEMM.
//
//   C[m, n] = sum_k A[m, k] * B[k, n] + bias[n]
//   m = (sample, oy, ox)   output pixel        (M = batch * outH * outW)
//   n = output channel within the group         (N = outC / groups)
//   k = (ci, ky, kx)       input channel and tap (K = inC / groups * KH * KW)
//
// A is never materialised: each BK-deep tile of it is gathered from the NCHW input on the fly
// (the "implicit" im2col) into workgroup memory. B is the weight, re-laid out once at load time
// to [groups][Kpad][Npad] (k-major, zero-padded to whole BK tiles and vec4 rows) so a tile row is
// aligned vec4 loads.
//
// A workgroup of TX x TY threads owns a BM x BN = (4*PQ*TX) x (TN*TY) tile of C. Thread (tx, ty)
// keeps PQ x TN vec4s in registers: PQ quads of 4 consecutive pixels (quads tx, tx + TX, ...:
// neighbouring threads own neighbouring pixels, so gathers and stores coalesce along m) times TN
// channels. Per k it reads PQ vec4s of A and TN/4 vec4s of B from workgroup memory and does
// 4*PQ*TN FMAs. The B reads are the same address for all threads of a row: a broadcast on a GPU.
// On a CPU adapter (lavapipe: SIMD lanes run along x, i.e. along m) every workgroup-memory read
// costs a per-lane loop whatever its address, so there the host picks wide thread blocks (large
// PQ * TN) that amortise the reads over more FMAs.
//
// Split K: when a layer has too few output tiles to fill the device (VGG-16's 14x14 layers, any
// layer at batch 1 on a big GPU), wid.z also runs over `splits` slices of the reduction, each
// writing its partial sums (no bias) to slice s of a scratch buffer; forward/conv2d_splitk_sum.wgsl
// then adds the slices and the bias. Without it most of an H100 idles on those layers.
//
// Tile shape (TX, TY, PQ, TN) and depth BK are override constants chosen per layer on the host
// (src/forward/conv.ts), and so is the kernel size, so the tap decomposition divides by
// constants. Shapes and flags come in a uniform, so that layers differing only in them share a
// pipeline (a CPU driver takes seconds to compile one).

// On adapters whose subgroups are rows of consecutive invocations (lavapipe), the host runs the
// subgroups variant generated from this file (src/gpu/subgroups.ts): same text, the B reads of
// the GEMM step broadcast through the subgroup.
// <variants: subgroups>

struct Params {
  batch: u32, inC: u32, inH: u32, inW: u32,
  outC: u32, outH: u32, outW: u32, groups: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, cinPerGroup: u32, coutPerGroup: u32,
  K: u32, Kpad: u32, Npad: u32, M: u32,
  // Apply max(x, 0) while gathering: a ReLU before this layer is a view, not a pass over memory.
  reluIn: u32,
  // The output plane is a whole number of vec4s (outH * outW % 4 == 0): each quad is 4 adjacent
  // floats of one output channel plane, written as one aligned vec4.
  vecOut: u32,
  // Slices of the reduction (1: no split), each kChunk deep (a multiple of BK), and the distance
  // between the slices' partial outputs (batch * outC * outH * outW).
  splits: u32,
  kChunk: u32,
  splitStride: u32,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
// Threads along m (a multiple of 8: on a CPU adapter the SIMD lanes run along x).
override TX: u32 = 16u;
// Threads along n.
override TY: u32 = 8u;
// Pixel quads per thread: 1, 2, 3 or 4.
override PQ: u32 = 1u;
// Output channels per thread: a multiple of 4, at most 32.
override TN: u32 = 8u;
// Reduction depth per step. The host keeps BK * (PQ * TX + TY * TN / 4) <= 1024.
override BK: u32 = 16u;
// Invocations per subgroup in the subgroups variant (4 or 8; unused in this one).
override SG: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// Viewed as vec4s for the aligned stores; single floats are written as components.
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;

// The A tile As[kk][quad] at [0, BK * PQ * TX), then the B tile Bs[kk][n / 4]: vec4 along m / n.
// A constant size (16 KiB, the WebGPU default limit): Dawn crashes compiling workgroup arrays
// sized by override expressions, so the host checks each configuration fits instead.
var<workgroup> tile: array<vec4<f32>, 1024>;

// One quad of pixels, decomposed once: `row` is each pixel's input offset at tap (0, 0) of the
// group's channel 0 (padding included), (iy0, ix0) its input position there, `out` its output
// offset in channel 0.
struct Quad {
  row: vec4<i32>,
  iy0: vec4<i32>,
  ix0: vec4<i32>,
  out: vec4<u32>,
  ok: vec4<bool>,
}

fn quadAt(m: u32, g: u32, s: u32) -> Quad {
  let mq = vec4<u32>(m) + vec4<u32>(0u, 1u, 2u, 3u);
  let ox = mq % p.outW;
  let oyn = mq / p.outW;
  let oy = oyn % p.outH;
  let sample = oyn / p.outH;
  let iy0 = vec4<i32>(oy * p.strideH) - i32(p.padT);
  let ix0 = vec4<i32>(ox * p.strideW) - i32(p.padL);
  let row = vec4<i32>((sample * p.inC + g * p.cinPerGroup) * p.inH * p.inW) + iy0 * i32(p.inW) + ix0;
  let out = s * p.splitStride + sample * p.outC * p.outH * p.outW + oy * p.outW + ox;
  return Quad(row, iy0, ix0, out, mq < vec4<u32>(p.M));
}

// A[quad pixels, k]: zero in the padding, past K and past M.
fn gatherA(k: u32, q: Quad) -> vec4<f32> {
  let ci = k / (KH * KW);
  let r = k - ci * (KH * KW);
  let ky = r / KW;
  let kx = r - ky * KW;
  let dy = i32(ky * p.dilH);
  let dx = i32(kx * p.dilW);
  // Unsigned compares: a negative coordinate wraps past the bound.
  let ok = q.ok & (vec4<u32>(q.iy0 + dy) < vec4<u32>(p.inH)) & (vec4<u32>(q.ix0 + dx) < vec4<u32>(p.inW))
    & vec4<bool>(k < p.K);
  let idx = select(vec4<i32>(0), q.row + (i32(ci * p.inH * p.inW) + dy * i32(p.inW) + dx), ok);
  var v = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
  if (p.reluIn != 0u) { v = max(v, vec4<f32>(0.0)); }
  return v;
}

// The bias of channel `co`, added once: by the slice-summing pass when K is split.
fn biasOf(co: u32) -> vec4<f32> {
  if (p.splits > 1u) { return vec4<f32>(0.0); }
  return vec4<f32>(bias[co]);
}

// Writes one quad's values of output channel `co`.
fn storeQuad(q: Quad, co: u32, v: vec4<f32>) {
  let o = q.out + vec4<u32>(co * p.outH * p.outW);
  if (p.vecOut != 0u) {
    // The whole quad is in range or none of it (M is a multiple of 4 too).
    if (q.ok.x) { y[o.x / 4u] = v; }
  } else {
    if (q.ok.x) { y[o.x / 4u][o.x % 4u] = v.x; }
    if (q.ok.y) { y[o.y / 4u][o.y % 4u] = v.y; }
    if (q.ok.z) { y[o.z / 4u][o.z % 4u] = v.z; }
    if (q.ok.w) { y[o.w / 4u][o.w % 4u] = v.w; }
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
  let s = wid.z - g * p.splits;
  let kBegin = s * p.kChunk;
  let kEnd = min(p.Kpad, kBegin + p.kChunk);
  // <generated: fold-grid columns=p.coutPerGroup bn="TY * TN" bm="4u * AQ">
  // The grid may fold m-tiles into x (tileGrid in src/gpu/grid.ts); this undoes it. Spare
  // workgroups of the last row leave before any barrier (all of it is uniform per workgroup).
  let nTiles = (p.coutPerGroup + TY * TN - 1u) / (TY * TN);
  let fold = nwg.x / nTiles;
  let m0 = (wid.y * fold + wid.x / nTiles) * 4u * AQ;
  let n0 = (wid.x % nTiles) * TY * TN;
  if (m0 >= p.M) { return; }
  // </generated>
  let tx = lid.x;
  let ty = lid.y;

  // (Separate variables for the quads, and only constant indices into `acc` below: that is what
  // lets a compiler keep them in registers. The FMA and store blocks are unrolled for that reason,
  // written by `npm run shaders`; blocks past PQ and TN fold away when the pipeline is created.)
  let q0 = quadAt(m0 + 4u * tx, g, s);
  let q1 = quadAt(m0 + 4u * (tx + TX), g, s);
  let q2 = quadAt(m0 + 4u * (tx + 2u * TX), g, s);
  let q3 = quadAt(m0 + 4u * (tx + 3u * TX), g, s);

  let npad4 = p.Npad / 4u;
  let wBase = g * p.Kpad * npad4 + n0 / 4u;
  let colsLeft = npad4 - n0 / 4u;

  var acc: array<array<vec4<f32>, 32>, 4>;

  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    // The A tile: rows kk = ty, ty + TY, ...; this thread's quads in each.
    for (var kk = ty; kk < BK; kk += TY) {
      let aRow = kk * AQ + tx;
      tile[aRow] = gatherA(k0 + kk, q0);
      if (PQ > 1u) { tile[aRow + TX] = gatherA(k0 + kk, q1); }
      if (PQ > 2u) { tile[aRow + 2u * TX] = gatherA(k0 + kk, q2); }
      if (PQ > 3u) { tile[aRow + 3u * TX] = gatherA(k0 + kk, q3); }
    }
    // The B tile: BK rows of BN4 vec4s, straight copies (the weight is zero-padded along k).
    for (var i = tid; i < BK * BN4; i += TX * TY) {
      let kk = i / BN4;
      let c = i - kk * BN4;
      let src = wBase + (k0 + kk) * npad4 + c;
      tile[bOff + i] = select(vec4<f32>(0.0), w[select(0u, src, c < colsLeft)], c < colsLeft);
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

  let nRow = n0 + ty * TN;
  // <generated: conv2d-store quads=4 channels=32>
  if (nRow < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][0] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][0] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][0] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][0] + b); }
  }
  if (TN > 1u && nRow + 1u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 1u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][1] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][1] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][1] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][1] + b); }
  }
  if (TN > 2u && nRow + 2u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 2u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][2] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][2] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][2] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][2] + b); }
  }
  if (TN > 3u && nRow + 3u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 3u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][3] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][3] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][3] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][3] + b); }
  }
  if (TN > 4u && nRow + 4u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 4u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][4] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][4] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][4] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][4] + b); }
  }
  if (TN > 5u && nRow + 5u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 5u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][5] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][5] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][5] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][5] + b); }
  }
  if (TN > 6u && nRow + 6u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 6u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][6] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][6] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][6] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][6] + b); }
  }
  if (TN > 7u && nRow + 7u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 7u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][7] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][7] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][7] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][7] + b); }
  }
  if (TN > 8u && nRow + 8u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 8u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][8] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][8] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][8] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][8] + b); }
  }
  if (TN > 9u && nRow + 9u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 9u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][9] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][9] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][9] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][9] + b); }
  }
  if (TN > 10u && nRow + 10u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 10u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][10] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][10] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][10] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][10] + b); }
  }
  if (TN > 11u && nRow + 11u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 11u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][11] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][11] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][11] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][11] + b); }
  }
  if (TN > 12u && nRow + 12u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 12u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][12] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][12] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][12] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][12] + b); }
  }
  if (TN > 13u && nRow + 13u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 13u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][13] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][13] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][13] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][13] + b); }
  }
  if (TN > 14u && nRow + 14u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 14u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][14] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][14] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][14] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][14] + b); }
  }
  if (TN > 15u && nRow + 15u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 15u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][15] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][15] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][15] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][15] + b); }
  }
  if (TN > 16u && nRow + 16u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 16u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][16] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][16] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][16] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][16] + b); }
  }
  if (TN > 17u && nRow + 17u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 17u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][17] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][17] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][17] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][17] + b); }
  }
  if (TN > 18u && nRow + 18u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 18u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][18] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][18] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][18] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][18] + b); }
  }
  if (TN > 19u && nRow + 19u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 19u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][19] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][19] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][19] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][19] + b); }
  }
  if (TN > 20u && nRow + 20u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 20u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][20] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][20] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][20] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][20] + b); }
  }
  if (TN > 21u && nRow + 21u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 21u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][21] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][21] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][21] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][21] + b); }
  }
  if (TN > 22u && nRow + 22u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 22u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][22] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][22] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][22] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][22] + b); }
  }
  if (TN > 23u && nRow + 23u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 23u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][23] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][23] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][23] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][23] + b); }
  }
  if (TN > 24u && nRow + 24u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 24u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][24] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][24] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][24] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][24] + b); }
  }
  if (TN > 25u && nRow + 25u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 25u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][25] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][25] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][25] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][25] + b); }
  }
  if (TN > 26u && nRow + 26u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 26u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][26] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][26] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][26] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][26] + b); }
  }
  if (TN > 27u && nRow + 27u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 27u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][27] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][27] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][27] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][27] + b); }
  }
  if (TN > 28u && nRow + 28u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 28u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][28] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][28] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][28] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][28] + b); }
  }
  if (TN > 29u && nRow + 29u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 29u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][29] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][29] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][29] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][29] + b); }
  }
  if (TN > 30u && nRow + 30u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 30u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][30] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][30] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][30] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][30] + b); }
  }
  if (TN > 31u && nRow + 31u < p.coutPerGroup) {
    let co = g * p.coutPerGroup + nRow + 31u;
    let b = biasOf(co);
    storeQuad(q0, co, acc[0][31] + b);
    if (PQ > 1u) { storeQuad(q1, co, acc[1][31] + b); }
    if (PQ > 2u) { storeQuad(q2, co, acc[2][31] + b); }
    if (PQ > 3u) { storeQuad(q3, co, acc[3][31] + b); }
  }
  // </generated>
}
