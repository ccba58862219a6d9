// Winograd output transform of a rule's denominator (src/lrp/ops/winograd-relevance.ts), fused
// with conv_stab.wgsl's epilogue: d = A^T M A + bias (the rule's modified bias) for each pixel of
// the tile, then s = R / stab(d) (or the alpha-beta and gamma modes from the stored z) written to
// the s slices exactly as conv_stab writes them. One invocation per (output channel, tile).

struct Params {
  Cout: u32, outH: u32, outW: u32, tilesX: u32,
  tilesPerSample: u32, P: u32, n0: u32, total: u32,
  eps: f32, gamma: f32, sliceLen: u32, outSlice: u32,
  mode: u32, gate: u32,
}

// Output tile side m: 2 or 4.
override TM: u32 = 2u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rel: array<f32>;
@group(0) @binding(4) var<storage, read> z: array<f32>;
@group(0) @binding(5) var<storage, read_write> s: array<f32>;

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

fn store(n: u32, co: u32, oy: u32, ox: u32, val: f32) {
  if (oy < p.outH && ox < p.outW) { epilogue(((n * p.Cout + co) * p.outH + oy) * p.outW + ox, val + bias[co]); }
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
