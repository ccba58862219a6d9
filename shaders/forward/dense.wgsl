// Dense layer y[n, o] = sum_i W[o, i] x[n, i] + b[o], for the small batches of explaining.
//
// Weight bound, not compute bound: at batch 1 to 8 every weight is used a few times at most. So a
// workgroup owns ROWS output rows for up to NB samples; its WG threads stride across the
// reduction together, reading each weight row and each sample in vec4s, contiguously (coalesced
// on a GPU), keep ROWS x NB vec4 partial sums in registers, and reduce them once at the end
// through workgroup memory. Each weight vec4 read serves NB samples, each input vec4 ROWS rows.
// The weight may be one chunk of a larger matrix (VGG-16's fc6 is 411 MB, over a 128 MiB
// binding): `rowOffset` places this chunk's rows in the full output. Its rows are padded to whole
// vec4s on the host (`inF4` vec4s each, zeros past inF). The blocks over rows and samples are
// unrolled (constant indices keep the accumulators in registers), written by `npm run shaders`.

struct Params {
  batch: u32, inF: u32, rows: u32, rowOffset: u32,
  outF: u32, inF4: u32, reluIn: u32,
}

// Samples per workgroup, 1 to 8: the host compiles NB = 1 for batch 1 (no idle accumulators, no
// input reads for absent samples) and NB = 8 for larger batches (each weight read once per 8).
override NB: u32 = 1u;
const ROWS: u32 = 4u;
const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// Partial sums: red[(row * 8 + sample) * WG + thread].
var<workgroup> red: array<f32, ROWS * 8u * WG>;

// x[sample, k .. k + 4] from the sample's offset `base` (zero past inF).
fn xAt(base: u32, k: u32) -> vec4<f32> {
  let i = base + k;
  let ok = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.inF);
  let idx = select(vec4<u32>(0u), vec4<u32>(i) + vec4<u32>(0u, 1u, 2u, 3u), ok);
  var v = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
  if (p.reluIn != 0u) { v = max(v, vec4<f32>(0.0)); }
  return v;
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let r0 = wid.x * ROWS;
  let n0 = wid.y * NB;
  let nLast = min(p.batch, n0 + NB) - 1u;
  let rLast = min(p.rows, r0 + ROWS) - 1u;
  // Row and sample offsets; rows past the chunk and samples past the batch read the last one
  // (their sums are not written).
  // <generated: dense-offsets rows=4 samples=8>
  let b0 = min(r0 + 0u, rLast) * p.inF4;
  let b1 = min(r0 + 1u, rLast) * p.inF4;
  let b2 = min(r0 + 2u, rLast) * p.inF4;
  let b3 = min(r0 + 3u, rLast) * p.inF4;
  let xb0 = min(n0 + 0u, nLast) * p.inF;
  let xb1 = min(n0 + 1u, nLast) * p.inF;
  let xb2 = min(n0 + 2u, nLast) * p.inF;
  let xb3 = min(n0 + 3u, nLast) * p.inF;
  let xb4 = min(n0 + 4u, nLast) * p.inF;
  let xb5 = min(n0 + 5u, nLast) * p.inF;
  let xb6 = min(n0 + 6u, nLast) * p.inF;
  let xb7 = min(n0 + 7u, nLast) * p.inF;
  // </generated>

  var acc: array<array<vec4<f32>, 8>, ROWS>;
  for (var c = t; c < p.inF4; c += WG) {
    let k = 4u * c;
    // <generated: dense-fma rows=4 samples=8>
    let w0 = w[b0 + c];
    let w1 = w[b1 + c];
    let w2 = w[b2 + c];
    let w3 = w[b3 + c];
    let x0 = xAt(xb0, k);
    var x1 = vec4<f32>(0.0); if (NB > 1u) { x1 = xAt(xb1, k); }
    var x2 = vec4<f32>(0.0); if (NB > 2u) { x2 = xAt(xb2, k); }
    var x3 = vec4<f32>(0.0); if (NB > 3u) { x3 = xAt(xb3, k); }
    var x4 = vec4<f32>(0.0); if (NB > 4u) { x4 = xAt(xb4, k); }
    var x5 = vec4<f32>(0.0); if (NB > 5u) { x5 = xAt(xb5, k); }
    var x6 = vec4<f32>(0.0); if (NB > 6u) { x6 = xAt(xb6, k); }
    var x7 = vec4<f32>(0.0); if (NB > 7u) { x7 = xAt(xb7, k); }
    acc[0][0] = fma(w0, x0, acc[0][0]);
    if (NB > 1u) { acc[0][1] = fma(w0, x1, acc[0][1]); }
    if (NB > 2u) { acc[0][2] = fma(w0, x2, acc[0][2]); }
    if (NB > 3u) { acc[0][3] = fma(w0, x3, acc[0][3]); }
    if (NB > 4u) { acc[0][4] = fma(w0, x4, acc[0][4]); }
    if (NB > 5u) { acc[0][5] = fma(w0, x5, acc[0][5]); }
    if (NB > 6u) { acc[0][6] = fma(w0, x6, acc[0][6]); }
    if (NB > 7u) { acc[0][7] = fma(w0, x7, acc[0][7]); }
    acc[1][0] = fma(w1, x0, acc[1][0]);
    if (NB > 1u) { acc[1][1] = fma(w1, x1, acc[1][1]); }
    if (NB > 2u) { acc[1][2] = fma(w1, x2, acc[1][2]); }
    if (NB > 3u) { acc[1][3] = fma(w1, x3, acc[1][3]); }
    if (NB > 4u) { acc[1][4] = fma(w1, x4, acc[1][4]); }
    if (NB > 5u) { acc[1][5] = fma(w1, x5, acc[1][5]); }
    if (NB > 6u) { acc[1][6] = fma(w1, x6, acc[1][6]); }
    if (NB > 7u) { acc[1][7] = fma(w1, x7, acc[1][7]); }
    acc[2][0] = fma(w2, x0, acc[2][0]);
    if (NB > 1u) { acc[2][1] = fma(w2, x1, acc[2][1]); }
    if (NB > 2u) { acc[2][2] = fma(w2, x2, acc[2][2]); }
    if (NB > 3u) { acc[2][3] = fma(w2, x3, acc[2][3]); }
    if (NB > 4u) { acc[2][4] = fma(w2, x4, acc[2][4]); }
    if (NB > 5u) { acc[2][5] = fma(w2, x5, acc[2][5]); }
    if (NB > 6u) { acc[2][6] = fma(w2, x6, acc[2][6]); }
    if (NB > 7u) { acc[2][7] = fma(w2, x7, acc[2][7]); }
    acc[3][0] = fma(w3, x0, acc[3][0]);
    if (NB > 1u) { acc[3][1] = fma(w3, x1, acc[3][1]); }
    if (NB > 2u) { acc[3][2] = fma(w3, x2, acc[3][2]); }
    if (NB > 3u) { acc[3][3] = fma(w3, x3, acc[3][3]); }
    if (NB > 4u) { acc[3][4] = fma(w3, x4, acc[3][4]); }
    if (NB > 5u) { acc[3][5] = fma(w3, x5, acc[3][5]); }
    if (NB > 6u) { acc[3][6] = fma(w3, x6, acc[3][6]); }
    if (NB > 7u) { acc[3][7] = fma(w3, x7, acc[3][7]); }
    // </generated>
  }

  // <generated: dense-reduce rows=4 samples=8>
  red[0u * WG + t] = dot(acc[0][0], vec4<f32>(1.0));
  if (NB > 1u) { red[1u * WG + t] = dot(acc[0][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[2u * WG + t] = dot(acc[0][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[3u * WG + t] = dot(acc[0][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[4u * WG + t] = dot(acc[0][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[5u * WG + t] = dot(acc[0][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[6u * WG + t] = dot(acc[0][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[7u * WG + t] = dot(acc[0][7], vec4<f32>(1.0)); }
  red[8u * WG + t] = dot(acc[1][0], vec4<f32>(1.0));
  if (NB > 1u) { red[9u * WG + t] = dot(acc[1][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[10u * WG + t] = dot(acc[1][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[11u * WG + t] = dot(acc[1][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[12u * WG + t] = dot(acc[1][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[13u * WG + t] = dot(acc[1][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[14u * WG + t] = dot(acc[1][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[15u * WG + t] = dot(acc[1][7], vec4<f32>(1.0)); }
  red[16u * WG + t] = dot(acc[2][0], vec4<f32>(1.0));
  if (NB > 1u) { red[17u * WG + t] = dot(acc[2][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[18u * WG + t] = dot(acc[2][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[19u * WG + t] = dot(acc[2][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[20u * WG + t] = dot(acc[2][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[21u * WG + t] = dot(acc[2][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[22u * WG + t] = dot(acc[2][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[23u * WG + t] = dot(acc[2][7], vec4<f32>(1.0)); }
  red[24u * WG + t] = dot(acc[3][0], vec4<f32>(1.0));
  if (NB > 1u) { red[25u * WG + t] = dot(acc[3][1], vec4<f32>(1.0)); }
  if (NB > 2u) { red[26u * WG + t] = dot(acc[3][2], vec4<f32>(1.0)); }
  if (NB > 3u) { red[27u * WG + t] = dot(acc[3][3], vec4<f32>(1.0)); }
  if (NB > 4u) { red[28u * WG + t] = dot(acc[3][4], vec4<f32>(1.0)); }
  if (NB > 5u) { red[29u * WG + t] = dot(acc[3][5], vec4<f32>(1.0)); }
  if (NB > 6u) { red[30u * WG + t] = dot(acc[3][6], vec4<f32>(1.0)); }
  if (NB > 7u) { red[31u * WG + t] = dot(acc[3][7], vec4<f32>(1.0)); }
  // </generated>
  workgroupBarrier();
  // Thread o < ROWS * 8 sums output (row, sample) = (o / 8, o % 8) over the WG partials.
  if (t < ROWS * 8u) {
    let r = t / 8u;
    let n = t % 8u;
    if (n < NB && r0 + r <= rLast && n0 + n <= nLast) {
      var s = 0.0;
      for (var i = 0u; i < WG; i++) { s += red[t * WG + i]; }
      y[(n0 + n) * p.outF + p.rowOffset + r0 + r] = s + bias[r0 + r];
    }
  }
}
