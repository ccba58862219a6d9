// Winograd input transform for a relevance pass (src/lrp/ops/winograd-relevance.ts): the forward
// transform (forward/winograd_input.wgsl) of each segment of a rule's GEMM, with the segment's
// input selection applied while loading, so the element-wise stage sums the segments in one
// reduction of segs * C: V[xi][seg * C + c][t] = coef_seg * B^T IN_seg(d) B.
//
// Two uses. The denominators: the source is the layer's input x, IN_seg the rule's input modifier
// (codes of shaders/relevance/conv_stab.wgsl: 0 x, 1 x+, 2 x-, 3 ones, 4 low[c], 5 high[c]; ones
// and the zbox bounds are 0 in the padding, as there), offset 0. The redistribution (a 3x3
// stride-1 transposed convolution is a forward one of s with the flipped, channel-swapped kernel):
// the source is the s buffer, code 0 with no ReLU view, offset[seg] the segment's slice of s, and
// coef its coefficient (alpha, -beta). One invocation per (segment, channel, tile), tiles fastest;
// a chunk of samples at a time (n0, P), as in the forward.

struct Params {
  C: u32, inH: u32, inW: u32, padT: u32,
  padL: u32, tilesX: u32, tilesPerSample: u32, P: u32,
  n0: u32, reluIn: u32, segs: u32, total: u32,
  inCode: vec4<u32>, offset: vec4<u32>, coef: vec4<f32>,
}

// Output tile side m: 2 or 4.
override TM: u32 = 2u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> bounds: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

struct Src { base: u32, c: u32, code: u32, coef: f32 }

// IN(x) at (iy, ix) of channel src.c's plane at src.base, times the coefficient; 0 in the padding.
fn load(src: Src, iy: i32, ix: i32) -> f32 {
  // Unsigned compares: a negative coordinate wraps past the bound.
  if (u32(iy) >= p.inH || u32(ix) >= p.inW) { return 0.0; }
  switch src.code {
    case 3u: { return src.coef; }
    case 4u: { return src.coef * bounds[src.c]; }
    case 5u: { return src.coef * bounds[p.C + src.c]; }
    default: {
      var val = x[src.base + u32(iy) * p.inW + u32(ix)];
      if (p.reluIn != 0u) { val = max(val, 0.0); }
      if (src.code == 1u) { val = max(val, 0.0); }
      if (src.code == 2u) { val = min(val, 0.0); }
      return src.coef * val;
    }
  }
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
  let cp = p.C * p.P;
  let seg = i / cp;
  let rem = i - seg * cp;
  let c = rem / p.P;
  let t = rem - c * p.P;
  let n = p.n0 + t / p.tilesPerSample;
  let r = t % p.tilesPerSample;
  let ty = r / p.tilesX;
  let tx = r - ty * p.tilesX;
  let iy0 = i32(ty * TM) - i32(p.padT);
  let ix0 = i32(tx * TM) - i32(p.padL);
  let src = Src(p.offset[seg] + (n * p.C + c) * p.inH * p.inW, c, p.inCode[seg], p.coef[seg]);
  transformInput(src, iy0, ix0, (seg * p.C + c) * p.P + t, p.segs * cp);
}
