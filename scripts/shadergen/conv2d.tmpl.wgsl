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
  // The grid may fold m-tiles into x (tileGrid in src/forward/tensor.ts); this undoes it. Spare
  // workgroups of the last row leave before any barrier (all of it is uniform per workgroup).
  let nTiles = (p.coutPerGroup + TY * TN - 1u) / (TY * TN);
  let fold = nwg.x / nTiles;
  let m0 = (wid.y * fold + wid.x / nTiles) * 4u * AQ;
  let n0 = (wid.x % nTiles) * TY * TN;
  if (m0 >= p.M) { return; }
  let tx = lid.x;
  let ty = lid.y;

  // (Separate variables for the quads, and only constant indices into `acc` below: that is what
  // lets a compiler keep them in registers. The FMA and store blocks are unrolled by hand for
  // that reason; blocks past PQ and TN fold away when the pipeline is created.)
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
//FMA_BLOCKS//
    }
    workgroupBarrier();
  }

  let nRow = n0 + ty * TN;
//STORE_BLOCKS//
}
