enable subgroups;
// The element-wise stage of a Winograd convolution on a CPU adapter (lavapipe): alpha^2 batched
// GEMMs, one per transform coordinate g,
//
//   y[g][n][m] = sum_k x[g][k][m] * w[g][k][n]
//
// x: the transformed input V, [g][K][P] (P tiles, contiguous); w: the transformed weight U,
// [g][Kpad][Npad] as vec4 rows (convWeightLayout's layout, rows past K zero); y: the products M,
// [g][N][P]. The same GEMM conv2d.wgsl runs viewed as a grouped 1x1 convolution
// (src/forward/conv-winograd.ts); this kernel is shaped by what lavapipe compiles instead
// (bench/RESULTS.md, issue 24):
// - No workgroup memory and no implicit-im2col address math: each thread reads its own A quads
//   (4 consecutive tiles) straight from x: where P % 4 == 0 (VEC_A) as one aligned vec4 load, else
//   as 4 floats (through xs, the same buffer viewed as floats). On lavapipe every load whose
//   address differs between lanes is a loop over the SIMD lanes, each float of it a bounds check
//   and an insert; staging through workgroup memory would add a second such loop per value.
// - B through subgroups, as in conv2d's subgroups variant: a row of 8 threads covers 32 columns,
//   lane l reads vec4 l (and l + 4 where subgroups are 4 wide) and subgroupBroadcast hands each
//   column's value to the row. Requires subgroups of SG = 4 or 8 consecutive invocations inside
//   a row (src/gpu/subgroups.ts probes it).
// - The reduction advances 4 k at a time, each accumulator updated once per step by a chain of 4
//   FMAs (the wgemm-step snippet): lavapipe blends every loop-carried register with the loop mask
//   and keeps this block (PQ x 32 vec4s) on the stack, so the chain pays that load, blend and
//   store once per 4 FMAs.
//
// A thread owns PQ quads (tiles m0 + 4 * (lid.x + 8 * q)) x 32 columns (n0 ..< n0 + 32).

struct Params {
  P: u32, K: u32, N: u32, Kpad: u32,
  // Npad / 4: vec4s per row of w.
  npad4: u32,
}

// Quads per thread: 1 or 2.
override PQ: u32 = 2u;
// Rows of 8 threads per workgroup, each 32 more columns.
override TY: u32 = 1u;
// Invocations per subgroup: 4 or 8.
override SG: u32 = 8u;
// P % 4 == 0: A quads are aligned vec4s of x (and stores aligned vec4s of y).
override VEC_A: bool = true;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> xs: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<vec4<f32>>;
// Viewed as vec4s for the aligned stores; single floats are written as components.
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;

// A[quad, k]: zero past K (w's rows there are zero too, but x's are the next coordinate's or
// out of range). Tiles past P read other tiles' values, which only reach stores that are skipped.
fn loadA(base: u32, k: u32) -> vec4<f32> {
  let i = base + k * p.P;
  var a: vec4<f32>;
  if (VEC_A) {
    a = x[i / 4u];
  } else {
    a = vec4<f32>(xs[i], xs[i + 1u], xs[i + 2u], xs[i + 3u]);
  }
  return select(vec4<f32>(0.0), a, k < p.K);
}

// Quad m..m+3 of row `row` (the offset of y[g][n][0]).
fn storeQuad(row: u32, m: u32, v: vec4<f32>) {
  let o = row + m;
  if (VEC_A) {
    // Whole quads (P % 4 == 0): all of one in range or none.
    if (m < p.P) { y[o / 4u] = v; }
  } else {
    if (m < p.P) { y[o / 4u][o % 4u] = v.x; }
    if (m + 1u < p.P) { y[(o + 1u) / 4u][(o + 1u) % 4u] = v.y; }
    if (m + 2u < p.P) { y[(o + 2u) / 4u][(o + 2u) % 4u] = v.z; }
    if (m + 3u < p.P) { y[(o + 3u) / 4u][(o + 3u) % 4u] = v.w; }
  }
}

@compute @workgroup_size(8, TY, 1)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let g = wid.z;
  // <generated: fold-grid columns=p.N bn="TY * 32u" bm="32u * PQ" rows=p.P>
  // The grid may fold m-tiles into x (tileGrid in src/gpu/grid.ts); this undoes it. Spare
  // workgroups of the last row leave before any barrier (all of it is uniform per workgroup).
  let nTiles = (p.N + TY * 32u - 1u) / (TY * 32u);
  let fold = nwg.x / nTiles;
  let m0 = (wid.y * fold + wid.x / nTiles) * 32u * PQ;
  let n0 = (wid.x % nTiles) * TY * 32u;
  if (m0 >= p.P) { return; }
  // </generated>
  // This thread's 32 columns.
  let nT = n0 + lid.y * 32u;
  let mq0 = m0 + 4u * lid.x;
  let mq1 = mq0 + 32u;
  let xq0 = g * p.K * p.P + mq0;
  let xq1 = xq0 + 32u;
  let lane = lid.x % SG;
  let wRow = g * p.Kpad * p.npad4 + nT / 4u + lane;

  // <generated: wgemm-acc quads=2>
  var acc0_0 = vec4<f32>(0.0); var acc0_1 = vec4<f32>(0.0); var acc0_2 = vec4<f32>(0.0); var acc0_3 = vec4<f32>(0.0);
  var acc0_4 = vec4<f32>(0.0); var acc0_5 = vec4<f32>(0.0); var acc0_6 = vec4<f32>(0.0); var acc0_7 = vec4<f32>(0.0);
  var acc0_8 = vec4<f32>(0.0); var acc0_9 = vec4<f32>(0.0); var acc0_10 = vec4<f32>(0.0); var acc0_11 = vec4<f32>(0.0);
  var acc0_12 = vec4<f32>(0.0); var acc0_13 = vec4<f32>(0.0); var acc0_14 = vec4<f32>(0.0); var acc0_15 = vec4<f32>(0.0);
  var acc0_16 = vec4<f32>(0.0); var acc0_17 = vec4<f32>(0.0); var acc0_18 = vec4<f32>(0.0); var acc0_19 = vec4<f32>(0.0);
  var acc0_20 = vec4<f32>(0.0); var acc0_21 = vec4<f32>(0.0); var acc0_22 = vec4<f32>(0.0); var acc0_23 = vec4<f32>(0.0);
  var acc0_24 = vec4<f32>(0.0); var acc0_25 = vec4<f32>(0.0); var acc0_26 = vec4<f32>(0.0); var acc0_27 = vec4<f32>(0.0);
  var acc0_28 = vec4<f32>(0.0); var acc0_29 = vec4<f32>(0.0); var acc0_30 = vec4<f32>(0.0); var acc0_31 = vec4<f32>(0.0);
  var acc1_0 = vec4<f32>(0.0); var acc1_1 = vec4<f32>(0.0); var acc1_2 = vec4<f32>(0.0); var acc1_3 = vec4<f32>(0.0);
  var acc1_4 = vec4<f32>(0.0); var acc1_5 = vec4<f32>(0.0); var acc1_6 = vec4<f32>(0.0); var acc1_7 = vec4<f32>(0.0);
  var acc1_8 = vec4<f32>(0.0); var acc1_9 = vec4<f32>(0.0); var acc1_10 = vec4<f32>(0.0); var acc1_11 = vec4<f32>(0.0);
  var acc1_12 = vec4<f32>(0.0); var acc1_13 = vec4<f32>(0.0); var acc1_14 = vec4<f32>(0.0); var acc1_15 = vec4<f32>(0.0);
  var acc1_16 = vec4<f32>(0.0); var acc1_17 = vec4<f32>(0.0); var acc1_18 = vec4<f32>(0.0); var acc1_19 = vec4<f32>(0.0);
  var acc1_20 = vec4<f32>(0.0); var acc1_21 = vec4<f32>(0.0); var acc1_22 = vec4<f32>(0.0); var acc1_23 = vec4<f32>(0.0);
  var acc1_24 = vec4<f32>(0.0); var acc1_25 = vec4<f32>(0.0); var acc1_26 = vec4<f32>(0.0); var acc1_27 = vec4<f32>(0.0);
  var acc1_28 = vec4<f32>(0.0); var acc1_29 = vec4<f32>(0.0); var acc1_30 = vec4<f32>(0.0); var acc1_31 = vec4<f32>(0.0);
  // </generated>

  for (var k0 = 0u; k0 < p.K; k0 += 4u) {
    let wLo = wRow + k0 * p.npad4;
    let wHi = wLo + 4u;
    // <generated: wgemm-step quads=2 steps=4>
    let a0_0 = loadA(xq0, k0);
    var a1_0 = vec4<f32>(0.0);
    if (PQ > 1u) { a1_0 = loadA(xq1, k0); }
    let bLo0 = w[wLo];
    var bHi0 = bLo0;
    if (SG == 4u) { bHi0 = w[wHi]; }
    let a0_1 = loadA(xq0, k0 + 1u);
    var a1_1 = vec4<f32>(0.0);
    if (PQ > 1u) { a1_1 = loadA(xq1, k0 + 1u); }
    let bLo1 = w[wLo + 1u * p.npad4];
    var bHi1 = bLo1;
    if (SG == 4u) { bHi1 = w[wHi + 1u * p.npad4]; }
    let a0_2 = loadA(xq0, k0 + 2u);
    var a1_2 = vec4<f32>(0.0);
    if (PQ > 1u) { a1_2 = loadA(xq1, k0 + 2u); }
    let bLo2 = w[wLo + 2u * p.npad4];
    var bHi2 = bLo2;
    if (SG == 4u) { bHi2 = w[wHi + 2u * p.npad4]; }
    let a0_3 = loadA(xq0, k0 + 3u);
    var a1_3 = vec4<f32>(0.0);
    if (PQ > 1u) { a1_3 = loadA(xq1, k0 + 3u); }
    let bLo3 = w[wLo + 3u * p.npad4];
    var bHi3 = bLo3;
    if (SG == 4u) { bHi3 = w[wHi + 3u * p.npad4]; }
    let s0_0 = vec4<f32>(subgroupBroadcast(bLo0.x, 0u));
    let s0_1 = vec4<f32>(subgroupBroadcast(bLo1.x, 0u));
    let s0_2 = vec4<f32>(subgroupBroadcast(bLo2.x, 0u));
    let s0_3 = vec4<f32>(subgroupBroadcast(bLo3.x, 0u));
    acc0_0 = fma(a0_3, s0_3, fma(a0_2, s0_2, fma(a0_1, s0_1, fma(a0_0, s0_0, acc0_0))));
    if (PQ > 1u) { acc1_0 = fma(a1_3, s0_3, fma(a1_2, s0_2, fma(a1_1, s0_1, fma(a1_0, s0_0, acc1_0)))); }
    let s1_0 = vec4<f32>(subgroupBroadcast(bLo0.y, 0u));
    let s1_1 = vec4<f32>(subgroupBroadcast(bLo1.y, 0u));
    let s1_2 = vec4<f32>(subgroupBroadcast(bLo2.y, 0u));
    let s1_3 = vec4<f32>(subgroupBroadcast(bLo3.y, 0u));
    acc0_1 = fma(a0_3, s1_3, fma(a0_2, s1_2, fma(a0_1, s1_1, fma(a0_0, s1_0, acc0_1))));
    if (PQ > 1u) { acc1_1 = fma(a1_3, s1_3, fma(a1_2, s1_2, fma(a1_1, s1_1, fma(a1_0, s1_0, acc1_1)))); }
    let s2_0 = vec4<f32>(subgroupBroadcast(bLo0.z, 0u));
    let s2_1 = vec4<f32>(subgroupBroadcast(bLo1.z, 0u));
    let s2_2 = vec4<f32>(subgroupBroadcast(bLo2.z, 0u));
    let s2_3 = vec4<f32>(subgroupBroadcast(bLo3.z, 0u));
    acc0_2 = fma(a0_3, s2_3, fma(a0_2, s2_2, fma(a0_1, s2_1, fma(a0_0, s2_0, acc0_2))));
    if (PQ > 1u) { acc1_2 = fma(a1_3, s2_3, fma(a1_2, s2_2, fma(a1_1, s2_1, fma(a1_0, s2_0, acc1_2)))); }
    let s3_0 = vec4<f32>(subgroupBroadcast(bLo0.w, 0u));
    let s3_1 = vec4<f32>(subgroupBroadcast(bLo1.w, 0u));
    let s3_2 = vec4<f32>(subgroupBroadcast(bLo2.w, 0u));
    let s3_3 = vec4<f32>(subgroupBroadcast(bLo3.w, 0u));
    acc0_3 = fma(a0_3, s3_3, fma(a0_2, s3_2, fma(a0_1, s3_1, fma(a0_0, s3_0, acc0_3))));
    if (PQ > 1u) { acc1_3 = fma(a1_3, s3_3, fma(a1_2, s3_2, fma(a1_1, s3_1, fma(a1_0, s3_0, acc1_3)))); }
    let s4_0 = vec4<f32>(subgroupBroadcast(bLo0.x, 1u));
    let s4_1 = vec4<f32>(subgroupBroadcast(bLo1.x, 1u));
    let s4_2 = vec4<f32>(subgroupBroadcast(bLo2.x, 1u));
    let s4_3 = vec4<f32>(subgroupBroadcast(bLo3.x, 1u));
    acc0_4 = fma(a0_3, s4_3, fma(a0_2, s4_2, fma(a0_1, s4_1, fma(a0_0, s4_0, acc0_4))));
    if (PQ > 1u) { acc1_4 = fma(a1_3, s4_3, fma(a1_2, s4_2, fma(a1_1, s4_1, fma(a1_0, s4_0, acc1_4)))); }
    let s5_0 = vec4<f32>(subgroupBroadcast(bLo0.y, 1u));
    let s5_1 = vec4<f32>(subgroupBroadcast(bLo1.y, 1u));
    let s5_2 = vec4<f32>(subgroupBroadcast(bLo2.y, 1u));
    let s5_3 = vec4<f32>(subgroupBroadcast(bLo3.y, 1u));
    acc0_5 = fma(a0_3, s5_3, fma(a0_2, s5_2, fma(a0_1, s5_1, fma(a0_0, s5_0, acc0_5))));
    if (PQ > 1u) { acc1_5 = fma(a1_3, s5_3, fma(a1_2, s5_2, fma(a1_1, s5_1, fma(a1_0, s5_0, acc1_5)))); }
    let s6_0 = vec4<f32>(subgroupBroadcast(bLo0.z, 1u));
    let s6_1 = vec4<f32>(subgroupBroadcast(bLo1.z, 1u));
    let s6_2 = vec4<f32>(subgroupBroadcast(bLo2.z, 1u));
    let s6_3 = vec4<f32>(subgroupBroadcast(bLo3.z, 1u));
    acc0_6 = fma(a0_3, s6_3, fma(a0_2, s6_2, fma(a0_1, s6_1, fma(a0_0, s6_0, acc0_6))));
    if (PQ > 1u) { acc1_6 = fma(a1_3, s6_3, fma(a1_2, s6_2, fma(a1_1, s6_1, fma(a1_0, s6_0, acc1_6)))); }
    let s7_0 = vec4<f32>(subgroupBroadcast(bLo0.w, 1u));
    let s7_1 = vec4<f32>(subgroupBroadcast(bLo1.w, 1u));
    let s7_2 = vec4<f32>(subgroupBroadcast(bLo2.w, 1u));
    let s7_3 = vec4<f32>(subgroupBroadcast(bLo3.w, 1u));
    acc0_7 = fma(a0_3, s7_3, fma(a0_2, s7_2, fma(a0_1, s7_1, fma(a0_0, s7_0, acc0_7))));
    if (PQ > 1u) { acc1_7 = fma(a1_3, s7_3, fma(a1_2, s7_2, fma(a1_1, s7_1, fma(a1_0, s7_0, acc1_7)))); }
    let s8_0 = vec4<f32>(subgroupBroadcast(bLo0.x, 2u));
    let s8_1 = vec4<f32>(subgroupBroadcast(bLo1.x, 2u));
    let s8_2 = vec4<f32>(subgroupBroadcast(bLo2.x, 2u));
    let s8_3 = vec4<f32>(subgroupBroadcast(bLo3.x, 2u));
    acc0_8 = fma(a0_3, s8_3, fma(a0_2, s8_2, fma(a0_1, s8_1, fma(a0_0, s8_0, acc0_8))));
    if (PQ > 1u) { acc1_8 = fma(a1_3, s8_3, fma(a1_2, s8_2, fma(a1_1, s8_1, fma(a1_0, s8_0, acc1_8)))); }
    let s9_0 = vec4<f32>(subgroupBroadcast(bLo0.y, 2u));
    let s9_1 = vec4<f32>(subgroupBroadcast(bLo1.y, 2u));
    let s9_2 = vec4<f32>(subgroupBroadcast(bLo2.y, 2u));
    let s9_3 = vec4<f32>(subgroupBroadcast(bLo3.y, 2u));
    acc0_9 = fma(a0_3, s9_3, fma(a0_2, s9_2, fma(a0_1, s9_1, fma(a0_0, s9_0, acc0_9))));
    if (PQ > 1u) { acc1_9 = fma(a1_3, s9_3, fma(a1_2, s9_2, fma(a1_1, s9_1, fma(a1_0, s9_0, acc1_9)))); }
    let s10_0 = vec4<f32>(subgroupBroadcast(bLo0.z, 2u));
    let s10_1 = vec4<f32>(subgroupBroadcast(bLo1.z, 2u));
    let s10_2 = vec4<f32>(subgroupBroadcast(bLo2.z, 2u));
    let s10_3 = vec4<f32>(subgroupBroadcast(bLo3.z, 2u));
    acc0_10 = fma(a0_3, s10_3, fma(a0_2, s10_2, fma(a0_1, s10_1, fma(a0_0, s10_0, acc0_10))));
    if (PQ > 1u) { acc1_10 = fma(a1_3, s10_3, fma(a1_2, s10_2, fma(a1_1, s10_1, fma(a1_0, s10_0, acc1_10)))); }
    let s11_0 = vec4<f32>(subgroupBroadcast(bLo0.w, 2u));
    let s11_1 = vec4<f32>(subgroupBroadcast(bLo1.w, 2u));
    let s11_2 = vec4<f32>(subgroupBroadcast(bLo2.w, 2u));
    let s11_3 = vec4<f32>(subgroupBroadcast(bLo3.w, 2u));
    acc0_11 = fma(a0_3, s11_3, fma(a0_2, s11_2, fma(a0_1, s11_1, fma(a0_0, s11_0, acc0_11))));
    if (PQ > 1u) { acc1_11 = fma(a1_3, s11_3, fma(a1_2, s11_2, fma(a1_1, s11_1, fma(a1_0, s11_0, acc1_11)))); }
    let s12_0 = vec4<f32>(subgroupBroadcast(bLo0.x, 3u));
    let s12_1 = vec4<f32>(subgroupBroadcast(bLo1.x, 3u));
    let s12_2 = vec4<f32>(subgroupBroadcast(bLo2.x, 3u));
    let s12_3 = vec4<f32>(subgroupBroadcast(bLo3.x, 3u));
    acc0_12 = fma(a0_3, s12_3, fma(a0_2, s12_2, fma(a0_1, s12_1, fma(a0_0, s12_0, acc0_12))));
    if (PQ > 1u) { acc1_12 = fma(a1_3, s12_3, fma(a1_2, s12_2, fma(a1_1, s12_1, fma(a1_0, s12_0, acc1_12)))); }
    let s13_0 = vec4<f32>(subgroupBroadcast(bLo0.y, 3u));
    let s13_1 = vec4<f32>(subgroupBroadcast(bLo1.y, 3u));
    let s13_2 = vec4<f32>(subgroupBroadcast(bLo2.y, 3u));
    let s13_3 = vec4<f32>(subgroupBroadcast(bLo3.y, 3u));
    acc0_13 = fma(a0_3, s13_3, fma(a0_2, s13_2, fma(a0_1, s13_1, fma(a0_0, s13_0, acc0_13))));
    if (PQ > 1u) { acc1_13 = fma(a1_3, s13_3, fma(a1_2, s13_2, fma(a1_1, s13_1, fma(a1_0, s13_0, acc1_13)))); }
    let s14_0 = vec4<f32>(subgroupBroadcast(bLo0.z, 3u));
    let s14_1 = vec4<f32>(subgroupBroadcast(bLo1.z, 3u));
    let s14_2 = vec4<f32>(subgroupBroadcast(bLo2.z, 3u));
    let s14_3 = vec4<f32>(subgroupBroadcast(bLo3.z, 3u));
    acc0_14 = fma(a0_3, s14_3, fma(a0_2, s14_2, fma(a0_1, s14_1, fma(a0_0, s14_0, acc0_14))));
    if (PQ > 1u) { acc1_14 = fma(a1_3, s14_3, fma(a1_2, s14_2, fma(a1_1, s14_1, fma(a1_0, s14_0, acc1_14)))); }
    let s15_0 = vec4<f32>(subgroupBroadcast(bLo0.w, 3u));
    let s15_1 = vec4<f32>(subgroupBroadcast(bLo1.w, 3u));
    let s15_2 = vec4<f32>(subgroupBroadcast(bLo2.w, 3u));
    let s15_3 = vec4<f32>(subgroupBroadcast(bLo3.w, 3u));
    acc0_15 = fma(a0_3, s15_3, fma(a0_2, s15_2, fma(a0_1, s15_1, fma(a0_0, s15_0, acc0_15))));
    if (PQ > 1u) { acc1_15 = fma(a1_3, s15_3, fma(a1_2, s15_2, fma(a1_1, s15_1, fma(a1_0, s15_0, acc1_15)))); }
    let s16_0 = vec4<f32>(select(subgroupBroadcast(bHi0.x, 0u), subgroupBroadcast(bLo0.x, 4u), SG == 8u));
    let s16_1 = vec4<f32>(select(subgroupBroadcast(bHi1.x, 0u), subgroupBroadcast(bLo1.x, 4u), SG == 8u));
    let s16_2 = vec4<f32>(select(subgroupBroadcast(bHi2.x, 0u), subgroupBroadcast(bLo2.x, 4u), SG == 8u));
    let s16_3 = vec4<f32>(select(subgroupBroadcast(bHi3.x, 0u), subgroupBroadcast(bLo3.x, 4u), SG == 8u));
    acc0_16 = fma(a0_3, s16_3, fma(a0_2, s16_2, fma(a0_1, s16_1, fma(a0_0, s16_0, acc0_16))));
    if (PQ > 1u) { acc1_16 = fma(a1_3, s16_3, fma(a1_2, s16_2, fma(a1_1, s16_1, fma(a1_0, s16_0, acc1_16)))); }
    let s17_0 = vec4<f32>(select(subgroupBroadcast(bHi0.y, 0u), subgroupBroadcast(bLo0.y, 4u), SG == 8u));
    let s17_1 = vec4<f32>(select(subgroupBroadcast(bHi1.y, 0u), subgroupBroadcast(bLo1.y, 4u), SG == 8u));
    let s17_2 = vec4<f32>(select(subgroupBroadcast(bHi2.y, 0u), subgroupBroadcast(bLo2.y, 4u), SG == 8u));
    let s17_3 = vec4<f32>(select(subgroupBroadcast(bHi3.y, 0u), subgroupBroadcast(bLo3.y, 4u), SG == 8u));
    acc0_17 = fma(a0_3, s17_3, fma(a0_2, s17_2, fma(a0_1, s17_1, fma(a0_0, s17_0, acc0_17))));
    if (PQ > 1u) { acc1_17 = fma(a1_3, s17_3, fma(a1_2, s17_2, fma(a1_1, s17_1, fma(a1_0, s17_0, acc1_17)))); }
    let s18_0 = vec4<f32>(select(subgroupBroadcast(bHi0.z, 0u), subgroupBroadcast(bLo0.z, 4u), SG == 8u));
    let s18_1 = vec4<f32>(select(subgroupBroadcast(bHi1.z, 0u), subgroupBroadcast(bLo1.z, 4u), SG == 8u));
    let s18_2 = vec4<f32>(select(subgroupBroadcast(bHi2.z, 0u), subgroupBroadcast(bLo2.z, 4u), SG == 8u));
    let s18_3 = vec4<f32>(select(subgroupBroadcast(bHi3.z, 0u), subgroupBroadcast(bLo3.z, 4u), SG == 8u));
    acc0_18 = fma(a0_3, s18_3, fma(a0_2, s18_2, fma(a0_1, s18_1, fma(a0_0, s18_0, acc0_18))));
    if (PQ > 1u) { acc1_18 = fma(a1_3, s18_3, fma(a1_2, s18_2, fma(a1_1, s18_1, fma(a1_0, s18_0, acc1_18)))); }
    let s19_0 = vec4<f32>(select(subgroupBroadcast(bHi0.w, 0u), subgroupBroadcast(bLo0.w, 4u), SG == 8u));
    let s19_1 = vec4<f32>(select(subgroupBroadcast(bHi1.w, 0u), subgroupBroadcast(bLo1.w, 4u), SG == 8u));
    let s19_2 = vec4<f32>(select(subgroupBroadcast(bHi2.w, 0u), subgroupBroadcast(bLo2.w, 4u), SG == 8u));
    let s19_3 = vec4<f32>(select(subgroupBroadcast(bHi3.w, 0u), subgroupBroadcast(bLo3.w, 4u), SG == 8u));
    acc0_19 = fma(a0_3, s19_3, fma(a0_2, s19_2, fma(a0_1, s19_1, fma(a0_0, s19_0, acc0_19))));
    if (PQ > 1u) { acc1_19 = fma(a1_3, s19_3, fma(a1_2, s19_2, fma(a1_1, s19_1, fma(a1_0, s19_0, acc1_19)))); }
    let s20_0 = vec4<f32>(select(subgroupBroadcast(bHi0.x, 1u), subgroupBroadcast(bLo0.x, 5u), SG == 8u));
    let s20_1 = vec4<f32>(select(subgroupBroadcast(bHi1.x, 1u), subgroupBroadcast(bLo1.x, 5u), SG == 8u));
    let s20_2 = vec4<f32>(select(subgroupBroadcast(bHi2.x, 1u), subgroupBroadcast(bLo2.x, 5u), SG == 8u));
    let s20_3 = vec4<f32>(select(subgroupBroadcast(bHi3.x, 1u), subgroupBroadcast(bLo3.x, 5u), SG == 8u));
    acc0_20 = fma(a0_3, s20_3, fma(a0_2, s20_2, fma(a0_1, s20_1, fma(a0_0, s20_0, acc0_20))));
    if (PQ > 1u) { acc1_20 = fma(a1_3, s20_3, fma(a1_2, s20_2, fma(a1_1, s20_1, fma(a1_0, s20_0, acc1_20)))); }
    let s21_0 = vec4<f32>(select(subgroupBroadcast(bHi0.y, 1u), subgroupBroadcast(bLo0.y, 5u), SG == 8u));
    let s21_1 = vec4<f32>(select(subgroupBroadcast(bHi1.y, 1u), subgroupBroadcast(bLo1.y, 5u), SG == 8u));
    let s21_2 = vec4<f32>(select(subgroupBroadcast(bHi2.y, 1u), subgroupBroadcast(bLo2.y, 5u), SG == 8u));
    let s21_3 = vec4<f32>(select(subgroupBroadcast(bHi3.y, 1u), subgroupBroadcast(bLo3.y, 5u), SG == 8u));
    acc0_21 = fma(a0_3, s21_3, fma(a0_2, s21_2, fma(a0_1, s21_1, fma(a0_0, s21_0, acc0_21))));
    if (PQ > 1u) { acc1_21 = fma(a1_3, s21_3, fma(a1_2, s21_2, fma(a1_1, s21_1, fma(a1_0, s21_0, acc1_21)))); }
    let s22_0 = vec4<f32>(select(subgroupBroadcast(bHi0.z, 1u), subgroupBroadcast(bLo0.z, 5u), SG == 8u));
    let s22_1 = vec4<f32>(select(subgroupBroadcast(bHi1.z, 1u), subgroupBroadcast(bLo1.z, 5u), SG == 8u));
    let s22_2 = vec4<f32>(select(subgroupBroadcast(bHi2.z, 1u), subgroupBroadcast(bLo2.z, 5u), SG == 8u));
    let s22_3 = vec4<f32>(select(subgroupBroadcast(bHi3.z, 1u), subgroupBroadcast(bLo3.z, 5u), SG == 8u));
    acc0_22 = fma(a0_3, s22_3, fma(a0_2, s22_2, fma(a0_1, s22_1, fma(a0_0, s22_0, acc0_22))));
    if (PQ > 1u) { acc1_22 = fma(a1_3, s22_3, fma(a1_2, s22_2, fma(a1_1, s22_1, fma(a1_0, s22_0, acc1_22)))); }
    let s23_0 = vec4<f32>(select(subgroupBroadcast(bHi0.w, 1u), subgroupBroadcast(bLo0.w, 5u), SG == 8u));
    let s23_1 = vec4<f32>(select(subgroupBroadcast(bHi1.w, 1u), subgroupBroadcast(bLo1.w, 5u), SG == 8u));
    let s23_2 = vec4<f32>(select(subgroupBroadcast(bHi2.w, 1u), subgroupBroadcast(bLo2.w, 5u), SG == 8u));
    let s23_3 = vec4<f32>(select(subgroupBroadcast(bHi3.w, 1u), subgroupBroadcast(bLo3.w, 5u), SG == 8u));
    acc0_23 = fma(a0_3, s23_3, fma(a0_2, s23_2, fma(a0_1, s23_1, fma(a0_0, s23_0, acc0_23))));
    if (PQ > 1u) { acc1_23 = fma(a1_3, s23_3, fma(a1_2, s23_2, fma(a1_1, s23_1, fma(a1_0, s23_0, acc1_23)))); }
    let s24_0 = vec4<f32>(select(subgroupBroadcast(bHi0.x, 2u), subgroupBroadcast(bLo0.x, 6u), SG == 8u));
    let s24_1 = vec4<f32>(select(subgroupBroadcast(bHi1.x, 2u), subgroupBroadcast(bLo1.x, 6u), SG == 8u));
    let s24_2 = vec4<f32>(select(subgroupBroadcast(bHi2.x, 2u), subgroupBroadcast(bLo2.x, 6u), SG == 8u));
    let s24_3 = vec4<f32>(select(subgroupBroadcast(bHi3.x, 2u), subgroupBroadcast(bLo3.x, 6u), SG == 8u));
    acc0_24 = fma(a0_3, s24_3, fma(a0_2, s24_2, fma(a0_1, s24_1, fma(a0_0, s24_0, acc0_24))));
    if (PQ > 1u) { acc1_24 = fma(a1_3, s24_3, fma(a1_2, s24_2, fma(a1_1, s24_1, fma(a1_0, s24_0, acc1_24)))); }
    let s25_0 = vec4<f32>(select(subgroupBroadcast(bHi0.y, 2u), subgroupBroadcast(bLo0.y, 6u), SG == 8u));
    let s25_1 = vec4<f32>(select(subgroupBroadcast(bHi1.y, 2u), subgroupBroadcast(bLo1.y, 6u), SG == 8u));
    let s25_2 = vec4<f32>(select(subgroupBroadcast(bHi2.y, 2u), subgroupBroadcast(bLo2.y, 6u), SG == 8u));
    let s25_3 = vec4<f32>(select(subgroupBroadcast(bHi3.y, 2u), subgroupBroadcast(bLo3.y, 6u), SG == 8u));
    acc0_25 = fma(a0_3, s25_3, fma(a0_2, s25_2, fma(a0_1, s25_1, fma(a0_0, s25_0, acc0_25))));
    if (PQ > 1u) { acc1_25 = fma(a1_3, s25_3, fma(a1_2, s25_2, fma(a1_1, s25_1, fma(a1_0, s25_0, acc1_25)))); }
    let s26_0 = vec4<f32>(select(subgroupBroadcast(bHi0.z, 2u), subgroupBroadcast(bLo0.z, 6u), SG == 8u));
    let s26_1 = vec4<f32>(select(subgroupBroadcast(bHi1.z, 2u), subgroupBroadcast(bLo1.z, 6u), SG == 8u));
    let s26_2 = vec4<f32>(select(subgroupBroadcast(bHi2.z, 2u), subgroupBroadcast(bLo2.z, 6u), SG == 8u));
    let s26_3 = vec4<f32>(select(subgroupBroadcast(bHi3.z, 2u), subgroupBroadcast(bLo3.z, 6u), SG == 8u));
    acc0_26 = fma(a0_3, s26_3, fma(a0_2, s26_2, fma(a0_1, s26_1, fma(a0_0, s26_0, acc0_26))));
    if (PQ > 1u) { acc1_26 = fma(a1_3, s26_3, fma(a1_2, s26_2, fma(a1_1, s26_1, fma(a1_0, s26_0, acc1_26)))); }
    let s27_0 = vec4<f32>(select(subgroupBroadcast(bHi0.w, 2u), subgroupBroadcast(bLo0.w, 6u), SG == 8u));
    let s27_1 = vec4<f32>(select(subgroupBroadcast(bHi1.w, 2u), subgroupBroadcast(bLo1.w, 6u), SG == 8u));
    let s27_2 = vec4<f32>(select(subgroupBroadcast(bHi2.w, 2u), subgroupBroadcast(bLo2.w, 6u), SG == 8u));
    let s27_3 = vec4<f32>(select(subgroupBroadcast(bHi3.w, 2u), subgroupBroadcast(bLo3.w, 6u), SG == 8u));
    acc0_27 = fma(a0_3, s27_3, fma(a0_2, s27_2, fma(a0_1, s27_1, fma(a0_0, s27_0, acc0_27))));
    if (PQ > 1u) { acc1_27 = fma(a1_3, s27_3, fma(a1_2, s27_2, fma(a1_1, s27_1, fma(a1_0, s27_0, acc1_27)))); }
    let s28_0 = vec4<f32>(select(subgroupBroadcast(bHi0.x, 3u), subgroupBroadcast(bLo0.x, 7u), SG == 8u));
    let s28_1 = vec4<f32>(select(subgroupBroadcast(bHi1.x, 3u), subgroupBroadcast(bLo1.x, 7u), SG == 8u));
    let s28_2 = vec4<f32>(select(subgroupBroadcast(bHi2.x, 3u), subgroupBroadcast(bLo2.x, 7u), SG == 8u));
    let s28_3 = vec4<f32>(select(subgroupBroadcast(bHi3.x, 3u), subgroupBroadcast(bLo3.x, 7u), SG == 8u));
    acc0_28 = fma(a0_3, s28_3, fma(a0_2, s28_2, fma(a0_1, s28_1, fma(a0_0, s28_0, acc0_28))));
    if (PQ > 1u) { acc1_28 = fma(a1_3, s28_3, fma(a1_2, s28_2, fma(a1_1, s28_1, fma(a1_0, s28_0, acc1_28)))); }
    let s29_0 = vec4<f32>(select(subgroupBroadcast(bHi0.y, 3u), subgroupBroadcast(bLo0.y, 7u), SG == 8u));
    let s29_1 = vec4<f32>(select(subgroupBroadcast(bHi1.y, 3u), subgroupBroadcast(bLo1.y, 7u), SG == 8u));
    let s29_2 = vec4<f32>(select(subgroupBroadcast(bHi2.y, 3u), subgroupBroadcast(bLo2.y, 7u), SG == 8u));
    let s29_3 = vec4<f32>(select(subgroupBroadcast(bHi3.y, 3u), subgroupBroadcast(bLo3.y, 7u), SG == 8u));
    acc0_29 = fma(a0_3, s29_3, fma(a0_2, s29_2, fma(a0_1, s29_1, fma(a0_0, s29_0, acc0_29))));
    if (PQ > 1u) { acc1_29 = fma(a1_3, s29_3, fma(a1_2, s29_2, fma(a1_1, s29_1, fma(a1_0, s29_0, acc1_29)))); }
    let s30_0 = vec4<f32>(select(subgroupBroadcast(bHi0.z, 3u), subgroupBroadcast(bLo0.z, 7u), SG == 8u));
    let s30_1 = vec4<f32>(select(subgroupBroadcast(bHi1.z, 3u), subgroupBroadcast(bLo1.z, 7u), SG == 8u));
    let s30_2 = vec4<f32>(select(subgroupBroadcast(bHi2.z, 3u), subgroupBroadcast(bLo2.z, 7u), SG == 8u));
    let s30_3 = vec4<f32>(select(subgroupBroadcast(bHi3.z, 3u), subgroupBroadcast(bLo3.z, 7u), SG == 8u));
    acc0_30 = fma(a0_3, s30_3, fma(a0_2, s30_2, fma(a0_1, s30_1, fma(a0_0, s30_0, acc0_30))));
    if (PQ > 1u) { acc1_30 = fma(a1_3, s30_3, fma(a1_2, s30_2, fma(a1_1, s30_1, fma(a1_0, s30_0, acc1_30)))); }
    let s31_0 = vec4<f32>(select(subgroupBroadcast(bHi0.w, 3u), subgroupBroadcast(bLo0.w, 7u), SG == 8u));
    let s31_1 = vec4<f32>(select(subgroupBroadcast(bHi1.w, 3u), subgroupBroadcast(bLo1.w, 7u), SG == 8u));
    let s31_2 = vec4<f32>(select(subgroupBroadcast(bHi2.w, 3u), subgroupBroadcast(bLo2.w, 7u), SG == 8u));
    let s31_3 = vec4<f32>(select(subgroupBroadcast(bHi3.w, 3u), subgroupBroadcast(bLo3.w, 7u), SG == 8u));
    acc0_31 = fma(a0_3, s31_3, fma(a0_2, s31_2, fma(a0_1, s31_1, fma(a0_0, s31_0, acc0_31))));
    if (PQ > 1u) { acc1_31 = fma(a1_3, s31_3, fma(a1_2, s31_2, fma(a1_1, s31_1, fma(a1_0, s31_0, acc1_31)))); }
    // </generated>
  }

  // <generated: wgemm-store quads=2>
  if (nT + 0u < p.N) {
    let row = (g * p.N + nT + 0u) * p.P;
    storeQuad(row, mq0, acc0_0);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_0); }
  }
  if (nT + 1u < p.N) {
    let row = (g * p.N + nT + 1u) * p.P;
    storeQuad(row, mq0, acc0_1);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_1); }
  }
  if (nT + 2u < p.N) {
    let row = (g * p.N + nT + 2u) * p.P;
    storeQuad(row, mq0, acc0_2);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_2); }
  }
  if (nT + 3u < p.N) {
    let row = (g * p.N + nT + 3u) * p.P;
    storeQuad(row, mq0, acc0_3);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_3); }
  }
  if (nT + 4u < p.N) {
    let row = (g * p.N + nT + 4u) * p.P;
    storeQuad(row, mq0, acc0_4);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_4); }
  }
  if (nT + 5u < p.N) {
    let row = (g * p.N + nT + 5u) * p.P;
    storeQuad(row, mq0, acc0_5);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_5); }
  }
  if (nT + 6u < p.N) {
    let row = (g * p.N + nT + 6u) * p.P;
    storeQuad(row, mq0, acc0_6);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_6); }
  }
  if (nT + 7u < p.N) {
    let row = (g * p.N + nT + 7u) * p.P;
    storeQuad(row, mq0, acc0_7);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_7); }
  }
  if (nT + 8u < p.N) {
    let row = (g * p.N + nT + 8u) * p.P;
    storeQuad(row, mq0, acc0_8);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_8); }
  }
  if (nT + 9u < p.N) {
    let row = (g * p.N + nT + 9u) * p.P;
    storeQuad(row, mq0, acc0_9);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_9); }
  }
  if (nT + 10u < p.N) {
    let row = (g * p.N + nT + 10u) * p.P;
    storeQuad(row, mq0, acc0_10);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_10); }
  }
  if (nT + 11u < p.N) {
    let row = (g * p.N + nT + 11u) * p.P;
    storeQuad(row, mq0, acc0_11);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_11); }
  }
  if (nT + 12u < p.N) {
    let row = (g * p.N + nT + 12u) * p.P;
    storeQuad(row, mq0, acc0_12);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_12); }
  }
  if (nT + 13u < p.N) {
    let row = (g * p.N + nT + 13u) * p.P;
    storeQuad(row, mq0, acc0_13);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_13); }
  }
  if (nT + 14u < p.N) {
    let row = (g * p.N + nT + 14u) * p.P;
    storeQuad(row, mq0, acc0_14);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_14); }
  }
  if (nT + 15u < p.N) {
    let row = (g * p.N + nT + 15u) * p.P;
    storeQuad(row, mq0, acc0_15);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_15); }
  }
  if (nT + 16u < p.N) {
    let row = (g * p.N + nT + 16u) * p.P;
    storeQuad(row, mq0, acc0_16);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_16); }
  }
  if (nT + 17u < p.N) {
    let row = (g * p.N + nT + 17u) * p.P;
    storeQuad(row, mq0, acc0_17);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_17); }
  }
  if (nT + 18u < p.N) {
    let row = (g * p.N + nT + 18u) * p.P;
    storeQuad(row, mq0, acc0_18);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_18); }
  }
  if (nT + 19u < p.N) {
    let row = (g * p.N + nT + 19u) * p.P;
    storeQuad(row, mq0, acc0_19);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_19); }
  }
  if (nT + 20u < p.N) {
    let row = (g * p.N + nT + 20u) * p.P;
    storeQuad(row, mq0, acc0_20);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_20); }
  }
  if (nT + 21u < p.N) {
    let row = (g * p.N + nT + 21u) * p.P;
    storeQuad(row, mq0, acc0_21);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_21); }
  }
  if (nT + 22u < p.N) {
    let row = (g * p.N + nT + 22u) * p.P;
    storeQuad(row, mq0, acc0_22);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_22); }
  }
  if (nT + 23u < p.N) {
    let row = (g * p.N + nT + 23u) * p.P;
    storeQuad(row, mq0, acc0_23);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_23); }
  }
  if (nT + 24u < p.N) {
    let row = (g * p.N + nT + 24u) * p.P;
    storeQuad(row, mq0, acc0_24);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_24); }
  }
  if (nT + 25u < p.N) {
    let row = (g * p.N + nT + 25u) * p.P;
    storeQuad(row, mq0, acc0_25);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_25); }
  }
  if (nT + 26u < p.N) {
    let row = (g * p.N + nT + 26u) * p.P;
    storeQuad(row, mq0, acc0_26);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_26); }
  }
  if (nT + 27u < p.N) {
    let row = (g * p.N + nT + 27u) * p.P;
    storeQuad(row, mq0, acc0_27);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_27); }
  }
  if (nT + 28u < p.N) {
    let row = (g * p.N + nT + 28u) * p.P;
    storeQuad(row, mq0, acc0_28);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_28); }
  }
  if (nT + 29u < p.N) {
    let row = (g * p.N + nT + 29u) * p.P;
    storeQuad(row, mq0, acc0_29);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_29); }
  }
  if (nT + 30u < p.N) {
    let row = (g * p.N + nT + 30u) * p.P;
    storeQuad(row, mq0, acc0_30);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_30); }
  }
  if (nT + 31u < p.N) {
    let row = (g * p.N + nT + 31u) * p.P;
    storeQuad(row, mq0, acc0_31);
    if (PQ > 1u) { storeQuad(row, mq1, acc1_31); }
  }
  // </generated>
}
