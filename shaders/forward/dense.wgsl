// Dense layer y[n, o] = sum_i W[o, i] x[n, i] + b[o], for the small batches of explaining.
//
// Weight bound, not compute bound: at batch 1 to 8 every weight is used a few times at most. So a
// workgroup owns ROWS output rows for up to NB samples; its WG threads stride across the
// reduction together, reading each weight row contiguously (coalesced on a GPU, sequential in a
// CPU lane), keep ROWS x NB partial sums in registers, and reduce them once at the end.
// The weight may be one chunk of a larger matrix (VGG-16's fc6 is 411 MB, over a 128 MiB
// binding): `rowOffset` places this chunk's rows in the full output.

struct Params {
  batch: u32, inF: u32, rows: u32, rowOffset: u32,
  outF: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

override RELU_IN: bool = false;
const WG: u32 = 64u;
const ROWS: u32 = 4u;
const NB: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<array<f32, 32>, WG>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let r0 = wid.x * ROWS;
  let n0 = wid.y * NB;
  let nCount = min(NB, p.batch - n0);
  let rCount = min(ROWS, p.rows - r0);

  var acc: array<f32, 32>;
  for (var i = 0u; i < 32u; i++) { acc[i] = 0.0; }

  for (var k = t; k < p.inF; k += WG) {
    var xv: array<f32, NB>;
    for (var n = 0u; n < NB; n++) {
      var v = 0.0;
      if (n < nCount) { v = x[(n0 + n) * p.inF + k]; }
      if (RELU_IN) { v = max(v, 0.0); }
      xv[n] = v;
    }
    for (var r = 0u; r < ROWS; r++) {
      var wv = 0.0;
      if (r < rCount) { wv = w[(r0 + r) * p.inF + k]; }
      for (var n = 0u; n < NB; n++) { acc[r * NB + n] = fma(wv, xv[n], acc[r * NB + n]); }
    }
  }

  red[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      for (var i = 0u; i < 32u; i++) { red[t][i] += red[t + s][i]; }
    }
    workgroupBarrier();
  }
  // Thread t writes one (row, sample) pair of the 32.
  if (t < ROWS * NB) {
    let r = t / NB;
    let n = t % NB;
    if (r < rCount && n < nCount) {
      let o = p.rowOffset + r0 + r;
      y[(n0 + n) * p.outF + o] = red[0][t] + bias[r0 + r];
    }
  }
}
