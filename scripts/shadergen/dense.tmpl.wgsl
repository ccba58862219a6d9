// Dense layer y[n, o] = sum_i W[o, i] x[n, i] + b[o], for the small batches of explaining.
//
// Weight bound, not compute bound: at batch 1 to 8 every weight is used a few times at most. So a
// workgroup owns ROWS output rows for up to NB samples; its WG threads stride across the
// reduction together, reading each weight row and each sample in vec4s, contiguously (coalesced
// on a GPU), keep ROWS x NB vec4 partial sums in registers, and reduce them once at the end
// through workgroup memory. Each weight vec4 read serves NB samples, each input vec4 ROWS rows.
// The weight may be one chunk of a larger matrix (VGG-16's fc6 is 411 MB, over a 128 MiB
// binding): `rowOffset` places this chunk's rows in the full output. Its rows are padded to whole
// vec4s on the host (`inF4` vec4s each, zeros past inF).

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
//W_BASES//
//X_BASES//

  var acc: array<array<vec4<f32>, 8>, ROWS>;
  for (var c = t; c < p.inF4; c += WG) {
    let k = 4u * c;
//W_LOADS//
//X_LOADS//
//FMAS//
  }

//RED//
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
