// The forward half of an LRP rule on a convolution: the rule's denominators d_j, computed as a
// convolution with modified inputs and weights, and divided into the upper relevance in the
// epilogue, so what leaves the kernel is already s_j = R_j / stab(d_j) (no extra pass).
//
// A rule's denominator may sum several terms, e.g. p_j = sum_i x_i+ w_ij+ + x_i- w_ij- + b_j+.
// The terms are concatenated along the reduction: segment t of the K loop gathers IN_t(x) and
// reads the weight through W_t, scaled by coef[t], so one GEMM computes the whole sum:
//   d_j = sum_t coef_t * sum_i IN_t(x)_i * W_t(w_ij) + bias_j       (bias modified on the CPU)
// The weights are the forward kernel's own [g][Kpad][Npad] buffer (shared, one copy per model):
// modifiers are applied as a tile is loaded, so no rule costs weight memory.
//
// The GEMM is forward/conv2d.wgsl's, tile for tile: a workgroup of TX x TY threads owns
// (4*PQ*TX) x (TN*TY) outputs, each thread PQ quads of 4 pixels x TN channels in registers; the
// host picks the same tile as for the forward pass of the layer (src/forward/conv.ts convTile),
// so the two run at the same rate. The kernel size and the tile are the only constants (the tap
// decomposition of the inner loop divides by constants). Shapes and the rule (modifier codes,
// segments, epilogue) come in the uniform: every rule of every analyzer shares the pipeline of a
// layer shape, since on a CPU driver each distinct set of constants is an LLVM compile of seconds.
// The rule's branches are uniform across the workgroup and sit in the tile loads and the
// epilogue, not in the FMA loop.
//
// Modifier codes. IN: 0 x, 1 x+, 2 x-, 3 ones (1 inside the image, 0 in padding), 4 low[c],
// 5 high[c] (zbox bounds, 0 in padding). W: 0 w, 1 w+, 2 w-, 3 ones, 4 w^2, 5 w + gamma w+,
// 6 w + gamma w-.
// Epilogues (mode): 0 s = R * gate / stab(d) into slice `outSlice`, gate from the stored z
// (gate 0 none, 1 [z > 0], 2 [z < 0]); 1 alpha-beta from z: d is p, n = min(z - p, 0), writes
// s_p = R / stab(p) to slice 0 and s_n = R / (n - eps) to slice 1 (for inputs >= 0, the one extra
// convolution of alpha-beta); 2 gamma from z: d is p = x W+ + b+, writes R [z>0] / stab(z + g p)
// and R [z<0] / stab(z + g n).
//
// Split K (SPLIT): wid.z also runs over `splits` slices of the reduction, each writing its raw
// partial sums to slice s of `s` (then a scratch buffer, splitStride apart); conv_stab_sum.wgsl
// adds them and the bias in a fixed order and applies the epilogue. For layers with too few output
// tiles to fill a large GPU.

// On adapters whose subgroups are rows of consecutive invocations (lavapipe), the host runs the
// subgroups variant generated from this file (src/gpu/subgroups.ts): same text, the B reads of
// the GEMM step broadcast through the subgroup.
// <variants: subgroups>

struct Params {
  batch: u32, inC: u32, inH: u32, inW: u32,
  outC: u32, outH: u32, outW: u32, groups: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, cinPerGroup: u32, coutPerGroup: u32,
  // K and Kpad of one segment; the reduction runs over segs * Kpad.
  K: u32, Kpad: u32, Npad: u32, M: u32,
  eps: f32, gamma: f32, sliceLen: u32, outSlice: u32,
  splits: u32, kChunk: u32, splitStride: u32,
  // The rule (see the header): read x through a ReLU, segments, epilogue; per segment its input
  // and weight modifier codes and its coefficient.
  reluIn: u32, segs: u32, mode: u32, gate: u32,
  inCode: vec4<u32>, wCode: vec4<u32>, coef: vec4<f32>,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
// The tile (see forward/conv2d.wgsl): TX threads along m (a multiple of 8), TY along n, PQ quads
// and TN channels (a multiple of 4, at most 32) per thread, BK deep per step.
override TX: u32 = 16u;
override TY: u32 = 8u;
override PQ: u32 = 1u;
override TN: u32 = 8u;
override BK: u32 = 16u;
// Invocations per subgroup in the subgroups variant: 4 or 8 (unused here).
override SG: u32 = 8u;
override SPLIT: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> rel: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> bounds: array<f32>;
@group(0) @binding(7) var<storage, read_write> s: array<f32>;

// The A tile at [0, BK * PQ * TX), then the B tile (see forward/conv2d.wgsl).
var<workgroup> tile: array<vec4<f32>, 1024>;

struct Quad {
  row: vec4<i32>,
  iy0: vec4<i32>,
  ix0: vec4<i32>,
  out: vec4<u32>,
  ok: vec4<bool>,
}

fn quadAt(m: u32, g: u32) -> Quad {
  let mq = vec4<u32>(m) + vec4<u32>(0u, 1u, 2u, 3u);
  let ox = mq % p.outW;
  let oyn = mq / p.outW;
  let oy = oyn % p.outH;
  let sample = oyn / p.outH;
  let iy0 = vec4<i32>(oy * p.strideH) - i32(p.padT);
  let ix0 = vec4<i32>(ox * p.strideW) - i32(p.padL);
  let row = vec4<i32>((sample * p.inC + g * p.cinPerGroup) * p.inH * p.inW) + iy0 * i32(p.inW) + ix0;
  let out = sample * p.outC * p.outH * p.outW + oy * p.outW + ox;
  return Quad(row, iy0, ix0, out, mq < vec4<u32>(p.M));
}

// IN(x)[quad pixels, k] of the segment with input code `code`: zero in the padding, past K, past M.
fn gatherA(k: u32, q: Quad, code: u32, g: u32) -> vec4<f32> {
  let ci = k / (KH * KW);
  let r = k - ci * (KH * KW);
  let ky = r / KW;
  let kx = r - ky * KW;
  let dy = i32(ky * p.dilH);
  let dx = i32(kx * p.dilW);
  // Unsigned compares: a negative coordinate wraps past the bound.
  let ok = q.ok & (vec4<u32>(q.iy0 + dy) < vec4<u32>(p.inH)) & (vec4<u32>(q.ix0 + dx) < vec4<u32>(p.inW))
    & vec4<bool>(k < p.K);
  switch code {
    case 3u: { return select(vec4<f32>(0.0), vec4<f32>(1.0), ok); }
    case 4u: { return select(vec4<f32>(0.0), vec4<f32>(bounds[min(g * p.cinPerGroup + ci, p.inC - 1u)]), ok); }
    case 5u: { return select(vec4<f32>(0.0), vec4<f32>(bounds[p.inC + min(g * p.cinPerGroup + ci, p.inC - 1u)]), ok); }
    default: {
      let idx = select(vec4<i32>(0), q.row + (i32(ci * p.inH * p.inW) + dy * i32(p.inW) + dx), ok);
      var v = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
      if (p.reluIn != 0u) { v = max(v, vec4<f32>(0.0)); }
      if (code == 1u) { v = max(v, vec4<f32>(0.0)); }
      if (code == 2u) { v = min(v, vec4<f32>(0.0)); }
      return v;
    }
  }
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

fn stab(d: f32) -> f32 {
  return d + p.eps * select(-1.0, 1.0, d >= 0.0);
}

// <generated: stab-epilogue>
// s from the denominator d of output o: the rule's epilogue, by p.mode and p.gate.
fn epilogue(o: u32, d: f32) {
  let r = rel[o];
  if (p.mode == 1u) {
    s[o] = r / stab(d);
    // n = z - p <= 0 by definition (a sum of non-positive terms); rounding can leave z - p at 0
    // or slightly above when n is below float32's resolution of z, and stab() would then add
    // +eps where the true n takes -eps, flipping the sign of s_n. So n is clamped and always
    // stabilised downwards (n = 0 exactly means every term x_i w-_ij is 0: s_n multiplies nothing).
    s[p.sliceLen + o] = r / (min(z[o] - d, 0.0) - p.eps);
  } else if (p.mode == 2u) {
    let zo = z[o];
    s[o] = select(0.0, r / stab(zo + p.gamma * d), zo > 0.0);
    s[p.sliceLen + o] = select(0.0, r / stab(zo + p.gamma * min(zo - d, 0.0)), zo < 0.0);
  } else {
    var gate = 1.0;
    if (p.gate == 1u) { gate = select(0.0, 1.0, z[o] > 0.0); }
    if (p.gate == 2u) { gate = select(0.0, 1.0, z[o] < 0.0); }
    s[p.outSlice * p.sliceLen + o] = gate * r / stab(d);
  }
}
// </generated>

// One output of the GEMM: a raw partial sum (split K) or d through the rule's epilogue.
fn finishOne(o: u32, co: u32, a: f32, slice: u32) {
  if (SPLIT) {
    s[slice * p.splitStride + o] = a;
  } else {
    epilogue(o, a + bias[co]);
  }
}

// The quad's outputs of channel n of group g.
fn finish(q: Quad, n: u32, g: u32, slice: u32, v: vec4<f32>) {
  let co = g * p.coutPerGroup + n;
  let o = q.out + vec4<u32>(co * p.outH * p.outW);
  for (var c = 0u; c < 4u; c++) {
    if (q.ok[c]) { finishOne(o[c], co, v[c], slice); }
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

  let q0 = quadAt(m0 + 4u * tx, g);
  let q1 = quadAt(m0 + 4u * (tx + TX), g);
  let q2 = quadAt(m0 + 4u * (tx + 2u * TX), g);
  let q3 = quadAt(m0 + 4u * (tx + 3u * TX), g);

  let npad4 = p.Npad / 4u;
  let wBase = g * p.Kpad * npad4 + n0 / 4u;
  let colsLeft = npad4 - n0 / 4u;

  var acc: array<array<vec4<f32>, 32>, 4>;

  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
    // A BK step never straddles two segments (Kpad is a whole number of steps).
    let seg = k0 / p.Kpad;
    let kSeg = k0 - seg * p.Kpad;
    let inCode = p.inCode[seg];
    for (var kk = ty; kk < BK; kk += TY) {
      let aRow = kk * AQ + tx;
      tile[aRow] = gatherA(kSeg + kk, q0, inCode, g);
      if (PQ > 1u) { tile[aRow + TX] = gatherA(kSeg + kk, q1, inCode, g); }
      if (PQ > 2u) { tile[aRow + 2u * TX] = gatherA(kSeg + kk, q2, inCode, g); }
      if (PQ > 3u) { tile[aRow + 3u * TX] = gatherA(kSeg + kk, q3, inCode, g); }
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
      if (nRow + t < p.coutPerGroup) { finish(quads[j], nRow + t, g, slice, res[j * 32u + t]); }
    }
  }
}
