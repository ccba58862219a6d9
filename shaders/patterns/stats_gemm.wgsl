// PatternAttribution's statistics of one linear layer for one batch, as a tiled implicit GEMM
// (shared/docs/lrp-rules.md, "PatternAttribution"; the host side is src/patterns/statistics.ts):
//
//   S[c', k] = sum_r B[r, c'] * X[r, k]
//   r  = (sample, oy, ox)  a row: an output position of a sample   (M = batch * outH * outW)
//   k  = (ci, ky, kx)      an input of the receptive field          (K = inC / groups * KH * KW)
//   c' = (half, c)         half 0: B = m = [z > 0]; half 1: B = m * y, y = z - bias
//
// so half 0 is sum m x and half 1 is sum m x y, for the nCh channels c of this chunk in every
// group. It is a convolution's weight gradient with (m, m y) in place of the output gradient: X is
// the implicit im2col of the input (gathered on the fly, zero in the padding), B is read from the
// layer's stored output z, nothing else is materialised. A dense layer runs as a 1x1 convolution
// of a 1x1 map whose channels are its input features.
//
// The tiling is forward/conv2d.wgsl's with m and k exchanged: a workgroup of TX x TY threads owns
// a BM x BN = (4*PQ*TX) x (TN*TY) tile of S along (k, c'); thread (tx, ty) keeps PQ quads of 4
// consecutive k (quads tx, tx + TX, ...) times TN columns in registers, and each step reduces BR
// rows through workgroup memory. The thread's k quads are decomposed into (channel, tap) once,
// before the loop; each row is decomposed into (sample, oy, ox) once per step.
//
// The result is added into the running sums across batches, compensated (Neumaier's variant of
// Kahan summation: a float32 sum and a float32 running compensation per element, ~44 significant
// bits together), so a statistics set of any size loses no precision while only the end result
// comes back. `state` holds the sums in [0, stateLen) and their compensations in
// [stateLen, 2 stateLen), element (half, g, c, k) at ((half * groups + g) * nCh + c) * K + k.
// With a split reduction (splits > 1: too few output tiles to fill the device), wid.z also runs
// over row slices of rChunk rows, each writing its partial sums to slice s of `part`, and
// patterns/stats_fold.wgsl adds the slices in order.

struct Params {
  inC: u32, inH: u32, inW: u32, outC: u32,
  outH: u32, outW: u32, strideH: u32, strideW: u32,
  padT: u32, padL: u32, dilH: u32, dilW: u32,
  cinPerGroup: u32, coutPerGroup: u32, K: u32, plane: u32,
  // Rows of the batch (batch * plane).
  M: u32,
  // This chunk's channels: chBase .. chBase + nCh within every group (a dense layer's sums larger
  // than one binding are chunked by output rows).
  chBase: u32,
  nCh: u32,
  groups: u32,
  splits: u32,
  rChunk: u32,
  // Elements of one half of `state` (2 * groups * nCh * K): where the compensations start, and the
  // distance between the slices of `part`.
  stateLen: u32,
  // Apply max(x, 0) while gathering: a ReLU before this layer is a view, not a pass over memory.
  reluIn: u32,
  // The kernel's size: uniforms, not constants as in forward/conv2d.wgsl, because k is decomposed
  // once per thread outside the loop, so every layer of a tile shape shares one pipeline.
  kh: u32,
  kw: u32,
}

// Threads along k (a multiple of 8: on a CPU adapter the SIMD lanes run along x).
override TX: u32 = 8u;
// Threads along c'.
override TY: u32 = 8u;
// k quads per thread: 1, 2, 3 or 4.
override PQ: u32 = 1u;
// Columns per thread: a multiple of 4, at most 32.
override TN: u32 = 16u;
// Rows per step. The host keeps BR * (PQ * TX + TY * TN / 4) <= 1024.
override BR: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> part: array<f32>;

// The X tile Xs[rr][k quad] at [0, BR * PQ * TX), then the B tile Bs[rr][c' / 4]: vec4 along k / c'.
// A constant size (16 KiB, the WebGPU default limit), as in forward/conv2d.wgsl.
var<workgroup> tile: array<vec4<f32>, 1024>;

// Four consecutive k, decomposed once: each one's input offset from the row's tap (0, 0) of the
// group's channel 0, its tap offset (dy, dx), and whether it lies within K.
struct KQuad {
  off: vec4<i32>,
  dy: vec4<i32>,
  dx: vec4<i32>,
  ok: vec4<bool>,
}

fn kquadAt(k: u32) -> KQuad {
  let kq = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u);
  let taps = p.kh * p.kw;
  let ci = kq / vec4<u32>(taps);
  let t = kq - ci * taps;
  let ky = t / vec4<u32>(p.kw);
  let kx = t - ky * p.kw;
  let dy = vec4<i32>(ky * p.dilH);
  let dx = vec4<i32>(kx * p.dilW);
  return KQuad(vec4<i32>(ci * p.inH * p.inW) + dy * i32(p.inW) + dx, dy, dx, kq < vec4<u32>(p.K));
}

// One row: the input offset of its tap (0, 0) in the group's channel 0 (padding included), its
// input position there, its offset in z (channel 0), and whether it lies within the slice's rows.
struct Row {
  base: i32,
  iy0: i32,
  ix0: i32,
  zOff: u32,
  ok: bool,
}

// A row's output position (ox, oy, sample), kept incrementally: rows advance in steps of TY and
// BR, so the loop divides by no uniform (on lavapipe each such division is a per-lane loop).
fn positionOf(r: u32) -> vec3<u32> {
  let oyn = r / p.outW;
  return vec3<u32>(r % p.outW, oyn % p.outH, oyn / p.outH);
}

fn advance(pos: vec3<u32>, n: u32) -> vec3<u32> {
  var ox = pos.x + n;
  var oy = pos.y;
  var sample = pos.z;
  loop {
    if (ox < p.outW) { break; }
    ox -= p.outW;
    oy += 1u;
    if (oy == p.outH) {
      oy = 0u;
      sample += 1u;
    }
  }
  return vec3<u32>(ox, oy, sample);
}

fn rowOf(pos: vec3<u32>, ok: bool, g: u32) -> Row {
  let iy0 = i32(pos.y * p.strideH) - i32(p.padT);
  let ix0 = i32(pos.x * p.strideW) - i32(p.padL);
  let base = i32((pos.z * p.inC + g * p.cinPerGroup) * p.inH * p.inW) + iy0 * i32(p.inW) + ix0;
  return Row(base, iy0, ix0, pos.z * p.outC * p.plane + pos.y * p.outW + pos.x, ok);
}

// X[row, quad's k]: zero in the padding, past K and past the slice's rows.
fn gatherX(row: Row, q: KQuad) -> vec4<f32> {
  // Unsigned compares: a negative coordinate wraps past the bound.
  let ok = q.ok & vec4<bool>(row.ok) & (vec4<u32>(row.iy0 + q.dy) < vec4<u32>(p.inH))
    & (vec4<u32>(row.ix0 + q.dx) < vec4<u32>(p.inW));
  let idx = select(vec4<i32>(0), vec4<i32>(row.base) + q.off, ok);
  var v = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
  if (p.reluIn != 0u) { v = max(v, vec4<f32>(0.0)); }
  return v;
}

// Four consecutive columns c', decomposed once: each one's offset in z (co * plane), its bias,
// whether it is a column of m y (else m), and whether it exists.
struct ColQuad {
  off: vec4<u32>,
  b: vec4<f32>,
  isY: vec4<bool>,
  ok: vec4<bool>,
}

fn colquadAt(col0: u32, g: u32) -> ColQuad {
  let col = vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u);
  let isY = col >= vec4<u32>(p.nCh);
  let c = col - select(vec4<u32>(0u), vec4<u32>(p.nCh), isY);
  let ok = c < vec4<u32>(p.nCh);
  let co = select(vec4<u32>(0u), vec4<u32>(g * p.coutPerGroup + p.chBase) + c, ok);
  return ColQuad(co * p.plane, vec4<f32>(bias[co.x], bias[co.y], bias[co.z], bias[co.w]), isY, ok);
}

// B[row, 4 columns]: m = [z > 0] or m (z - bias), zero past the columns or the rows.
fn bQuad(row: Row, q: ColQuad) -> vec4<f32> {
  let ok = q.ok & vec4<bool>(row.ok);
  let idx = select(vec4<u32>(0u), vec4<u32>(row.zOff) + q.off, ok);
  let zv = vec4<f32>(z[idx.x], z[idx.y], z[idx.z], z[idx.w]);
  let m = ok & (zv > vec4<f32>(0.0));
  return select(vec4<f32>(0.0), select(vec4<f32>(1.0), zv - q.b, q.isY), m);
}

// <generated: neumaier-accumulate comp=p.stateLen>
// Adds v into the running sum of element e, compensated (Neumaier): the compensation collects the
// rounding error of each addition, exactly (Fast2Sum with the larger magnitude first).
fn accumulate(e: u32, v: f32) {
  let s = state[e];
  let t = s + v;
  let err = select((v - t) + s, (s - t) + v, abs(s) >= abs(v));
  state[e] = t;
  state[p.stateLen + e] += err;
}
// </generated>

// Stores 4 values of column col, at k .. k + 3 (those below K): into slice s of `part`, or into
// the running sums.
fn store4(k: u32, col: u32, g: u32, s: u32, v: vec4<f32>) {
  let half = select(0u, 1u, col >= p.nCh);
  let c = col - half * p.nCh;
  let e = ((half * p.groups + g) * p.nCh + c) * p.K + k;
  let ok = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.K);
  if (p.splits > 1u) {
    let o = s * p.stateLen + e;
    if (ok.x) { part[o] = v.x; }
    if (ok.y) { part[o + 1u] = v.y; }
    if (ok.z) { part[o + 2u] = v.z; }
    if (ok.w) { part[o + 3u] = v.w; }
  } else {
    if (ok.x) { accumulate(e, v.x); }
    if (ok.y) { accumulate(e + 1u, v.y); }
    if (ok.z) { accumulate(e + 2u, v.z); }
    if (ok.w) { accumulate(e + 3u, v.w); }
  }
}

@compute @workgroup_size(TX, TY, 1)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let AQ = PQ * TX;            // k quads in the X tile
  let BN4 = TY * TN / 4u;      // vec4 columns of the B tile
  let bOff = BR * AQ;          // where the B tile starts in `tile`
  let N2 = 2u * p.nCh;         // columns c'
  let g = wid.z / p.splits;
  let s = wid.z - g * p.splits;
  let rBegin = s * p.rChunk;
  let rEnd = min(p.M, rBegin + p.rChunk);
  // The output's rows (m) are the k of the reduction's patches.
  // <generated: fold-grid columns=N2 bn="TY * TN" bm="4u * AQ" rows=p.K>
  // The grid may fold m-tiles into x (tileGrid in src/gpu/grid.ts); this undoes it. Spare
  // workgroups of the last row leave before any barrier (all of it is uniform per workgroup).
  let nTiles = (N2 + TY * TN - 1u) / (TY * TN);
  let fold = nwg.x / nTiles;
  let m0 = (wid.y * fold + wid.x / nTiles) * 4u * AQ;
  let n0 = (wid.x % nTiles) * TY * TN;
  if (m0 >= p.K) { return; }
  // </generated>
  let k0 = m0;
  let tx = lid.x;
  let ty = lid.y;

  let q0 = kquadAt(k0 + 4u * tx);
  let q1 = kquadAt(k0 + 4u * (tx + TX));
  let q2 = kquadAt(k0 + 4u * (tx + 2u * TX));
  let q3 = kquadAt(k0 + 4u * (tx + 3u * TX));
  // This thread's B columns in each of its rows: quads tx, tx + TX, ... of the BN4 (the host
  // keeps BN4 <= 4 TX).
  let c0 = colquadAt(n0 + 4u * tx, g);
  let c1 = colquadAt(n0 + 4u * (tx + TX), g);
  let c2 = colquadAt(n0 + 4u * (tx + 2u * TX), g);
  let c3 = colquadAt(n0 + 4u * (tx + 3u * TX), g);

  var acc: array<array<vec4<f32>, 32>, 4>;

  // The position of row r0 + ty, this thread's first row of each step.
  var pos = positionOf(rBegin + ty);
  for (var r0 = rBegin; r0 < rEnd; r0 += BR) {
    // Rows rr = ty, ty + TY, ...: this thread's k quads of X and column quads of B in each.
    var rp = pos;
    for (var rr = ty; rr < BR; rr += TY) {
      let row = rowOf(rp, r0 + rr < rEnd, g);
      let xRow = rr * AQ + tx;
      tile[xRow] = gatherX(row, q0);
      if (PQ > 1u) { tile[xRow + TX] = gatherX(row, q1); }
      if (PQ > 2u) { tile[xRow + 2u * TX] = gatherX(row, q2); }
      if (PQ > 3u) { tile[xRow + 3u * TX] = gatherX(row, q3); }
      let bRow = bOff + rr * BN4 + tx;
      if (tx < BN4) { tile[bRow] = bQuad(row, c0); }
      if (tx + TX < BN4) { tile[bRow + TX] = bQuad(row, c1); }
      if (tx + 2u * TX < BN4) { tile[bRow + 2u * TX] = bQuad(row, c2); }
      if (tx + 3u * TX < BN4) { tile[bRow + 3u * TX] = bQuad(row, c3); }
      rp = advance(rp, TY);
    }
    pos = advance(pos, BR);
    workgroupBarrier();

    for (var kk = 0u; kk < BR; kk++) {
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

  // The epilogue goes through workgroup memory, one quad row j at a time: each thread parks its
  // TN vec4s of quad j at tile[(ty * TN + t) * TX + tx] (TX * TY * TN <= 1024), then all threads
  // walk the BN x 4 TX values with consecutive threads on consecutive k, so the read-modify-write
  // of the running sums is coalesced, and the store code exists once instead of PQ x TN times
  // (unrolled, it took LLVM minutes to compile on lavapipe).
  let BNt = TY * TN;
  for (var j = 0u; j < PQ; j++) {
    // <generated: gemm-park quads=4 channels=32>
    if (j == 0u) {
      tile[(ty * TN) * TX + tx] = acc[0][0];
      tile[(ty * TN + 1u) * TX + tx] = acc[0][1];
      tile[(ty * TN + 2u) * TX + tx] = acc[0][2];
      tile[(ty * TN + 3u) * TX + tx] = acc[0][3];
      if (TN > 4u) { tile[(ty * TN + 4u) * TX + tx] = acc[0][4]; }
      if (TN > 5u) { tile[(ty * TN + 5u) * TX + tx] = acc[0][5]; }
      if (TN > 6u) { tile[(ty * TN + 6u) * TX + tx] = acc[0][6]; }
      if (TN > 7u) { tile[(ty * TN + 7u) * TX + tx] = acc[0][7]; }
      if (TN > 8u) { tile[(ty * TN + 8u) * TX + tx] = acc[0][8]; }
      if (TN > 9u) { tile[(ty * TN + 9u) * TX + tx] = acc[0][9]; }
      if (TN > 10u) { tile[(ty * TN + 10u) * TX + tx] = acc[0][10]; }
      if (TN > 11u) { tile[(ty * TN + 11u) * TX + tx] = acc[0][11]; }
      if (TN > 12u) { tile[(ty * TN + 12u) * TX + tx] = acc[0][12]; }
      if (TN > 13u) { tile[(ty * TN + 13u) * TX + tx] = acc[0][13]; }
      if (TN > 14u) { tile[(ty * TN + 14u) * TX + tx] = acc[0][14]; }
      if (TN > 15u) { tile[(ty * TN + 15u) * TX + tx] = acc[0][15]; }
      if (TN > 16u) { tile[(ty * TN + 16u) * TX + tx] = acc[0][16]; }
      if (TN > 17u) { tile[(ty * TN + 17u) * TX + tx] = acc[0][17]; }
      if (TN > 18u) { tile[(ty * TN + 18u) * TX + tx] = acc[0][18]; }
      if (TN > 19u) { tile[(ty * TN + 19u) * TX + tx] = acc[0][19]; }
      if (TN > 20u) { tile[(ty * TN + 20u) * TX + tx] = acc[0][20]; }
      if (TN > 21u) { tile[(ty * TN + 21u) * TX + tx] = acc[0][21]; }
      if (TN > 22u) { tile[(ty * TN + 22u) * TX + tx] = acc[0][22]; }
      if (TN > 23u) { tile[(ty * TN + 23u) * TX + tx] = acc[0][23]; }
      if (TN > 24u) { tile[(ty * TN + 24u) * TX + tx] = acc[0][24]; }
      if (TN > 25u) { tile[(ty * TN + 25u) * TX + tx] = acc[0][25]; }
      if (TN > 26u) { tile[(ty * TN + 26u) * TX + tx] = acc[0][26]; }
      if (TN > 27u) { tile[(ty * TN + 27u) * TX + tx] = acc[0][27]; }
      if (TN > 28u) { tile[(ty * TN + 28u) * TX + tx] = acc[0][28]; }
      if (TN > 29u) { tile[(ty * TN + 29u) * TX + tx] = acc[0][29]; }
      if (TN > 30u) { tile[(ty * TN + 30u) * TX + tx] = acc[0][30]; }
      if (TN > 31u) { tile[(ty * TN + 31u) * TX + tx] = acc[0][31]; }
    }
    if (j == 1u) {
      tile[(ty * TN) * TX + tx] = acc[1][0];
      tile[(ty * TN + 1u) * TX + tx] = acc[1][1];
      tile[(ty * TN + 2u) * TX + tx] = acc[1][2];
      tile[(ty * TN + 3u) * TX + tx] = acc[1][3];
      if (TN > 4u) { tile[(ty * TN + 4u) * TX + tx] = acc[1][4]; }
      if (TN > 5u) { tile[(ty * TN + 5u) * TX + tx] = acc[1][5]; }
      if (TN > 6u) { tile[(ty * TN + 6u) * TX + tx] = acc[1][6]; }
      if (TN > 7u) { tile[(ty * TN + 7u) * TX + tx] = acc[1][7]; }
      if (TN > 8u) { tile[(ty * TN + 8u) * TX + tx] = acc[1][8]; }
      if (TN > 9u) { tile[(ty * TN + 9u) * TX + tx] = acc[1][9]; }
      if (TN > 10u) { tile[(ty * TN + 10u) * TX + tx] = acc[1][10]; }
      if (TN > 11u) { tile[(ty * TN + 11u) * TX + tx] = acc[1][11]; }
      if (TN > 12u) { tile[(ty * TN + 12u) * TX + tx] = acc[1][12]; }
      if (TN > 13u) { tile[(ty * TN + 13u) * TX + tx] = acc[1][13]; }
      if (TN > 14u) { tile[(ty * TN + 14u) * TX + tx] = acc[1][14]; }
      if (TN > 15u) { tile[(ty * TN + 15u) * TX + tx] = acc[1][15]; }
      if (TN > 16u) { tile[(ty * TN + 16u) * TX + tx] = acc[1][16]; }
      if (TN > 17u) { tile[(ty * TN + 17u) * TX + tx] = acc[1][17]; }
      if (TN > 18u) { tile[(ty * TN + 18u) * TX + tx] = acc[1][18]; }
      if (TN > 19u) { tile[(ty * TN + 19u) * TX + tx] = acc[1][19]; }
      if (TN > 20u) { tile[(ty * TN + 20u) * TX + tx] = acc[1][20]; }
      if (TN > 21u) { tile[(ty * TN + 21u) * TX + tx] = acc[1][21]; }
      if (TN > 22u) { tile[(ty * TN + 22u) * TX + tx] = acc[1][22]; }
      if (TN > 23u) { tile[(ty * TN + 23u) * TX + tx] = acc[1][23]; }
      if (TN > 24u) { tile[(ty * TN + 24u) * TX + tx] = acc[1][24]; }
      if (TN > 25u) { tile[(ty * TN + 25u) * TX + tx] = acc[1][25]; }
      if (TN > 26u) { tile[(ty * TN + 26u) * TX + tx] = acc[1][26]; }
      if (TN > 27u) { tile[(ty * TN + 27u) * TX + tx] = acc[1][27]; }
      if (TN > 28u) { tile[(ty * TN + 28u) * TX + tx] = acc[1][28]; }
      if (TN > 29u) { tile[(ty * TN + 29u) * TX + tx] = acc[1][29]; }
      if (TN > 30u) { tile[(ty * TN + 30u) * TX + tx] = acc[1][30]; }
      if (TN > 31u) { tile[(ty * TN + 31u) * TX + tx] = acc[1][31]; }
    }
    if (j == 2u) {
      tile[(ty * TN) * TX + tx] = acc[2][0];
      tile[(ty * TN + 1u) * TX + tx] = acc[2][1];
      tile[(ty * TN + 2u) * TX + tx] = acc[2][2];
      tile[(ty * TN + 3u) * TX + tx] = acc[2][3];
      if (TN > 4u) { tile[(ty * TN + 4u) * TX + tx] = acc[2][4]; }
      if (TN > 5u) { tile[(ty * TN + 5u) * TX + tx] = acc[2][5]; }
      if (TN > 6u) { tile[(ty * TN + 6u) * TX + tx] = acc[2][6]; }
      if (TN > 7u) { tile[(ty * TN + 7u) * TX + tx] = acc[2][7]; }
      if (TN > 8u) { tile[(ty * TN + 8u) * TX + tx] = acc[2][8]; }
      if (TN > 9u) { tile[(ty * TN + 9u) * TX + tx] = acc[2][9]; }
      if (TN > 10u) { tile[(ty * TN + 10u) * TX + tx] = acc[2][10]; }
      if (TN > 11u) { tile[(ty * TN + 11u) * TX + tx] = acc[2][11]; }
      if (TN > 12u) { tile[(ty * TN + 12u) * TX + tx] = acc[2][12]; }
      if (TN > 13u) { tile[(ty * TN + 13u) * TX + tx] = acc[2][13]; }
      if (TN > 14u) { tile[(ty * TN + 14u) * TX + tx] = acc[2][14]; }
      if (TN > 15u) { tile[(ty * TN + 15u) * TX + tx] = acc[2][15]; }
      if (TN > 16u) { tile[(ty * TN + 16u) * TX + tx] = acc[2][16]; }
      if (TN > 17u) { tile[(ty * TN + 17u) * TX + tx] = acc[2][17]; }
      if (TN > 18u) { tile[(ty * TN + 18u) * TX + tx] = acc[2][18]; }
      if (TN > 19u) { tile[(ty * TN + 19u) * TX + tx] = acc[2][19]; }
      if (TN > 20u) { tile[(ty * TN + 20u) * TX + tx] = acc[2][20]; }
      if (TN > 21u) { tile[(ty * TN + 21u) * TX + tx] = acc[2][21]; }
      if (TN > 22u) { tile[(ty * TN + 22u) * TX + tx] = acc[2][22]; }
      if (TN > 23u) { tile[(ty * TN + 23u) * TX + tx] = acc[2][23]; }
      if (TN > 24u) { tile[(ty * TN + 24u) * TX + tx] = acc[2][24]; }
      if (TN > 25u) { tile[(ty * TN + 25u) * TX + tx] = acc[2][25]; }
      if (TN > 26u) { tile[(ty * TN + 26u) * TX + tx] = acc[2][26]; }
      if (TN > 27u) { tile[(ty * TN + 27u) * TX + tx] = acc[2][27]; }
      if (TN > 28u) { tile[(ty * TN + 28u) * TX + tx] = acc[2][28]; }
      if (TN > 29u) { tile[(ty * TN + 29u) * TX + tx] = acc[2][29]; }
      if (TN > 30u) { tile[(ty * TN + 30u) * TX + tx] = acc[2][30]; }
      if (TN > 31u) { tile[(ty * TN + 31u) * TX + tx] = acc[2][31]; }
    }
    if (j == 3u) {
      tile[(ty * TN) * TX + tx] = acc[3][0];
      tile[(ty * TN + 1u) * TX + tx] = acc[3][1];
      tile[(ty * TN + 2u) * TX + tx] = acc[3][2];
      tile[(ty * TN + 3u) * TX + tx] = acc[3][3];
      if (TN > 4u) { tile[(ty * TN + 4u) * TX + tx] = acc[3][4]; }
      if (TN > 5u) { tile[(ty * TN + 5u) * TX + tx] = acc[3][5]; }
      if (TN > 6u) { tile[(ty * TN + 6u) * TX + tx] = acc[3][6]; }
      if (TN > 7u) { tile[(ty * TN + 7u) * TX + tx] = acc[3][7]; }
      if (TN > 8u) { tile[(ty * TN + 8u) * TX + tx] = acc[3][8]; }
      if (TN > 9u) { tile[(ty * TN + 9u) * TX + tx] = acc[3][9]; }
      if (TN > 10u) { tile[(ty * TN + 10u) * TX + tx] = acc[3][10]; }
      if (TN > 11u) { tile[(ty * TN + 11u) * TX + tx] = acc[3][11]; }
      if (TN > 12u) { tile[(ty * TN + 12u) * TX + tx] = acc[3][12]; }
      if (TN > 13u) { tile[(ty * TN + 13u) * TX + tx] = acc[3][13]; }
      if (TN > 14u) { tile[(ty * TN + 14u) * TX + tx] = acc[3][14]; }
      if (TN > 15u) { tile[(ty * TN + 15u) * TX + tx] = acc[3][15]; }
      if (TN > 16u) { tile[(ty * TN + 16u) * TX + tx] = acc[3][16]; }
      if (TN > 17u) { tile[(ty * TN + 17u) * TX + tx] = acc[3][17]; }
      if (TN > 18u) { tile[(ty * TN + 18u) * TX + tx] = acc[3][18]; }
      if (TN > 19u) { tile[(ty * TN + 19u) * TX + tx] = acc[3][19]; }
      if (TN > 20u) { tile[(ty * TN + 20u) * TX + tx] = acc[3][20]; }
      if (TN > 21u) { tile[(ty * TN + 21u) * TX + tx] = acc[3][21]; }
      if (TN > 22u) { tile[(ty * TN + 22u) * TX + tx] = acc[3][22]; }
      if (TN > 23u) { tile[(ty * TN + 23u) * TX + tx] = acc[3][23]; }
      if (TN > 24u) { tile[(ty * TN + 24u) * TX + tx] = acc[3][24]; }
      if (TN > 25u) { tile[(ty * TN + 25u) * TX + tx] = acc[3][25]; }
      if (TN > 26u) { tile[(ty * TN + 26u) * TX + tx] = acc[3][26]; }
      if (TN > 27u) { tile[(ty * TN + 27u) * TX + tx] = acc[3][27]; }
      if (TN > 28u) { tile[(ty * TN + 28u) * TX + tx] = acc[3][28]; }
      if (TN > 29u) { tile[(ty * TN + 29u) * TX + tx] = acc[3][29]; }
      if (TN > 30u) { tile[(ty * TN + 30u) * TX + tx] = acc[3][30]; }
      if (TN > 31u) { tile[(ty * TN + 31u) * TX + tx] = acc[3][31]; }
    }
    // </generated>
    workgroupBarrier();
    for (var i = tid; i < TX * BNt; i += TX * TY) {
      let col = n0 + i / TX;
      let k = k0 + 4u * (i % TX + j * TX);
      if (col < N2 && k < p.K) { store4(k, col, g, s, tile[i]); }
    }
    workgroupBarrier();
  }
}
