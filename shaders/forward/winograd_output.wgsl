// Winograd output transform (Lavin and Gray 2016), F(m x m, 3 x 3) with m = TM (2 or 4) and
// alpha = m + 2: for every output channel co and tile t, Y = A^T M A + bias from the element-wise
// stage's products m[(xi * Cout + co) * P + t] (the grouped 1x1 GEMM's output, one group per
// transform coordinate xi = i * alpha + j), written as the tile's m x m pixels of the NCHW output;
// pixels past outH or outW (the last row and column of tiles when the plane is not a multiple of
// m) are not written.
//
// One invocation per (channel, tile), tiles fastest, so neighbouring invocations read
// neighbouring floats. n0 is the first sample of the chunk (see winograd_input.wgsl).

struct Params {
  Cout: u32, outH: u32, outW: u32, tilesX: u32,
  tilesPerSample: u32, P: u32, n0: u32, total: u32,
}

// Output tile side m: 2 or 4.
override TM: u32 = 2u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// Pixels past the plane (the last row and column of tiles) are not written.
fn store(n: u32, co: u32, oy: u32, ox: u32, val: f32) {
  if (oy < p.outH && ox < p.outW) { y[((n * p.Cout + co) * p.outH + oy) * p.outW + ox] = val + bias[co]; }
}

// <generated: winograd-output>
// A^T of F(2, 3) applied to a column of 4.
fn at4(d: array<f32, 4>) -> array<f32, 2> {
  return array<f32, 2>(d[0] + d[1] + d[2], d[1] - d[2] - d[3]);
}

// A^T of F(4, 3) applied to a column of 6.
fn at6(d: array<f32, 6>) -> array<f32, 4> {
  let s1 = d[1] + d[2];
  let d1 = d[1] - d[2];
  let s3 = d[3] + d[4];
  let d3 = d[3] - d[4];
  return array<f32, 4>(d[0] + s1 + s3, d1 + 2.0 * d3, s1 + 4.0 * s3, d1 + 8.0 * d3 + d[5]);
}

fn transformOutput(n: u32, co: u32, oy0: u32, ox0: u32, src: u32, stride: u32) {
  if (TM == 2u) {
    // Columns first: s[a][j] = (A^T M)[a][j] for the 2 output rows a; then rows: Y = s A.
    var s: array<array<f32, 4>, 2>;
    for (var j = 0u; j < 4u; j++) {
      let col = at4(array<f32, 4>(m[src + j * stride], m[src + (4u + j) * stride], m[src + (8u + j) * stride], m[src + (12u + j) * stride]));
      s[0][j] = col[0];
      s[1][j] = col[1];
    }
    for (var a = 0u; a < 2u; a++) {
      let row = at4(s[a]);
      store(n, co, oy0 + a, ox0, row[0]);
      store(n, co, oy0 + a, ox0 + 1u, row[1]);
    }
  } else {
    var s: array<array<f32, 6>, 4>;
    for (var j = 0u; j < 6u; j++) {
      let col = at6(array<f32, 6>(
        m[src + j * stride], m[src + (6u + j) * stride], m[src + (12u + j) * stride],
        m[src + (18u + j) * stride], m[src + (24u + j) * stride], m[src + (30u + j) * stride],
      ));
      for (var a = 0u; a < 4u; a++) { s[a][j] = col[a]; }
    }
    for (var a = 0u; a < 4u; a++) {
      let row = at6(s[a]);
      for (var k = 0u; k < 4u; k++) { store(n, co, oy0 + a, ox0 + k, row[k]); }
    }
  }
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let co = i / p.P;
  let t = i - co * p.P;
  let n = p.n0 + t / p.tilesPerSample;
  let r = t % p.tilesPerSample;
  let ty = r / p.tilesX;
  let tx = r - ty * p.tilesX;
  transformOutput(n, co, ty * TM, tx * TM, co * p.P + t, p.Cout * p.P);
}
