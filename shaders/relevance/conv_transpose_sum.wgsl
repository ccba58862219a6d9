// Finishes a redistribution GEMM whose reduction was split (conv_transpose.wgsl with SPLIT, for
// stride-1 layers: one phase covers every input): adds the slices' partial sums in a fixed order
// and applies the input factor as conv_transpose.wgsl would have. part is splits x (N x C x plane).

struct Params { total: u32, splits: u32, plane: u32, inC: u32, reluIn: u32, out: u32, accumulate: u32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bounds: array<f32>;
@group(0) @binding(4) var<storage, read_write> r: array<f32>;

// <generated: transpose-epilogue channels=p.inC>
// R at input o (channel or feature c) from the redistributed sum a: times the input factor.
fn epilogue(o: u32, c: u32, a: f32) {
  var f = 1.0;
  switch p.out {
    case 3u: { f = 1.0; }
    case 4u: { f = bounds[c]; }
    case 5u: { f = bounds[p.inC + c]; }
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

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var a = part[i];
  for (var k = 1u; k < p.splits; k++) { a += part[k * p.total + i]; }
  epilogue(i, (i / p.plane) % p.inC, a);
}
