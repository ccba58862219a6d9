// Winograd input transform (Lavin and Gray 2016), F(m x m, 3 x 3) with m = TM (2 or 4) and
// alpha = m + 2: for every input channel c and output tile t (m x m output pixels, reading the
// alpha x alpha input patch at (ty * m - padT, tx * m - padL)), V = B^T d B, written as
// v[(xi * C + c) * P + t] for the alpha^2 transform coordinates xi = i * alpha + j. That layout is
// the input of the element-wise stage, the convolution GEMM (forward/conv2d.wgsl) run as a
// grouped 1x1 convolution: one group per coordinate, C channels, a plane of P tiles.
//
// One invocation per (channel, tile), tiles fastest, so neighbouring invocations write
// neighbouring floats of each coordinate's row. A chunk of samples runs at a time when the whole
// batch's transformed input would pass one binding: n0 is its first sample, P its tiles.
// Padding reads as zero; reluIn applies max(x, 0) while loading (a ReLU before this layer is a
// view, as in the direct kernel).

struct Params {
  C: u32, inH: u32, inW: u32, padT: u32,
  padL: u32, tilesX: u32, tilesPerSample: u32, P: u32,
  n0: u32, reluIn: u32, total: u32,
}

// Output tile side m: 2 or 4.
override TM: u32 = 2u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;

struct Src { base: u32 }

// x at (iy, ix) of the plane at src.base: zero in the padding, through the ReLU view.
fn load(src: Src, iy: i32, ix: i32) -> f32 {
  // Unsigned compares: a negative coordinate wraps past the bound.
  let ok = u32(iy) < p.inH && u32(ix) < p.inW;
  var val = select(0.0, x[select(0u, src.base + u32(iy) * p.inW + u32(ix), ok)], ok);
  if (p.reluIn != 0u) { val = max(val, 0.0); }
  return val;
}

// <generated: winograd-input>
// B^T of F(2, 3) applied to a column of 4.
fn bt4(d: array<f32, 4>) -> array<f32, 4> {
  return array<f32, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);
}

// B^T of F(4, 3) applied to a column of 6.
fn bt6(d: array<f32, 6>) -> array<f32, 6> {
  return array<f32, 6>(
    4.0 * d[0] - 5.0 * d[2] + d[4],
    -4.0 * (d[1] + d[2]) + d[3] + d[4],
    4.0 * (d[1] - d[2]) - d[3] + d[4],
    2.0 * (d[3] - d[1]) - d[2] + d[4],
    2.0 * (d[1] - d[3]) - d[2] + d[4],
    4.0 * d[1] - 5.0 * d[3] + d[5],
  );
}

fn transformInput(src: Src, iy0: i32, ix0: i32, dst: u32, stride: u32) {
  if (TM == 2u) {
    var d: array<array<f32, 4>, 4>;
    for (var a = 0u; a < 4u; a++) {
      for (var b = 0u; b < 4u; b++) { d[a][b] = load(src, iy0 + i32(a), ix0 + i32(b)); }
    }
    // Columns: s[a][b] = (B^T d)[a][b]; then rows: V = s B.
    var s: array<array<f32, 4>, 4>;
    for (var b = 0u; b < 4u; b++) {
      let col = bt4(array<f32, 4>(d[0][b], d[1][b], d[2][b], d[3][b]));
      for (var a = 0u; a < 4u; a++) { s[a][b] = col[a]; }
    }
    for (var a = 0u; a < 4u; a++) {
      let row = bt4(s[a]);
      for (var b = 0u; b < 4u; b++) { v[dst + (a * 4u + b) * stride] = row[b]; }
    }
  } else {
    var d: array<array<f32, 6>, 6>;
    for (var a = 0u; a < 6u; a++) {
      for (var b = 0u; b < 6u; b++) { d[a][b] = load(src, iy0 + i32(a), ix0 + i32(b)); }
    }
    var s: array<array<f32, 6>, 6>;
    for (var b = 0u; b < 6u; b++) {
      let col = bt6(array<f32, 6>(d[0][b], d[1][b], d[2][b], d[3][b], d[4][b], d[5][b]));
      for (var a = 0u; a < 6u; a++) { s[a][b] = col[a]; }
    }
    for (var a = 0u; a < 6u; a++) {
      let row = bt6(s[a]);
      for (var b = 0u; b < 6u; b++) { v[dst + (a * 6u + b) * stride] = row[b]; }
    }
  }
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let c = i / p.P;
  let t = i - c * p.P;
  let n = p.n0 + t / p.tilesPerSample;
  let r = t % p.tilesPerSample;
  let ty = r / p.tilesX;
  let tx = r - ty * p.tilesX;
  let iy0 = i32(ty * TM) - i32(p.padT);
  let ix0 = i32(tx * TM) - i32(p.padL);
  transformInput(Src((n * p.C + c) * p.inH * p.inW), iy0, ix0, c * p.P + t, p.C * p.P);
}
