// Winograd output transform of a redistribution pass (src/lrp/ops/winograd-relevance.ts), fused
// with conv_transpose.wgsl's epilogue: the redistributed sum a = A^T M A at each input pixel of
// the tile (the transposed convolution's output plane is the layer's input), then
// R (+)= OUT(x) * a with the pass's input factor. One invocation per (input channel, tile).

struct Params {
  C: u32, outH: u32, outW: u32, tilesX: u32,
  tilesPerSample: u32, P: u32, n0: u32, total: u32,
  reluIn: u32, out: u32, accumulate: u32,
}

// Output tile side m: 2 or 4.
override TM: u32 = 2u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bounds: array<f32>;
@group(0) @binding(4) var<storage, read_write> r: array<f32>;

// <generated: transpose-epilogue channels=p.C>
// R at input o (channel or feature c) from the redistributed sum a: times the input factor.
fn epilogue(o: u32, c: u32, a: f32) {
  var f = 1.0;
  switch p.out {
    case 3u: { f = 1.0; }
    case 4u: { f = bounds[c]; }
    case 5u: { f = bounds[p.C + c]; }
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

fn store(n: u32, c: u32, oy: u32, ox: u32, val: f32) {
  if (oy < p.outH && ox < p.outW) { epilogue(((n * p.C + c) * p.outH + oy) * p.outW + ox, c, val); }
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
  let c = i / p.P;
  let t = i - c * p.P;
  let n = p.n0 + t / p.tilesPerSample;
  let rt = t % p.tilesPerSample;
  let ty = rt / p.tilesX;
  let tx = rt - ty * p.tilesX;
  transformOutput(n, c, ty * TM, tx * TM, c * p.P + t, p.C * p.P);
}
