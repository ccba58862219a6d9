/**
 * The WGSL pieces that several kernels share, or that must be unrolled by hand, as functions of
 * the arguments their region's marker gives. Each returns lines indented relative to the marker.
 */

export type Args = Readonly<Record<string, string>>;
export type Snippet = (args: Args, where: string) => string[];

function arg(args: Args, key: string, where: string, pattern: RegExp, what: string): string {
  const v = args[key];
  if (v === undefined) throw new Error(`${where}: needs ${key}=... (${what})`);
  if (!pattern.test(v)) throw new Error(`${where}: ${key}=${v} is not ${what}`);
  return v;
}

function count(args: Args, key: string, where: string, max: number): number {
  const n = Number(arg(args, key, where, /^[1-9]\d*$/, `a whole number 1..${max}`));
  if (n > max) throw new Error(`${where}: ${key}=${n} is over ${max}`);
  return n;
}

/** A product of names and literals (`BN`, `TY * TN`, `4u * AQ`): safe to write after `*` as is. */
const PRODUCT = /^[\w.]+( \* [\w.]+)*$/;
const paren = (e: string): string => (/^[\w.]+$/.test(e) ? e : `(${e})`);

/**
 * Undoes tileGrid's fold (src/gpu/grid.ts): the m-tiles past the per-dimension limit ride along
 * x. `columns` is the GEMM width N, `bn` and `bm` the tile's width and height, `rows` its height
 * M (default `p.M`).
 */
const foldGrid: Snippet = (args, where) => {
  const n = arg(args, 'columns', where, /^[\w.]+$/, 'a name');
  const bn = arg(args, 'bn', where, PRODUCT, 'a product of names');
  const bm = arg(args, 'bm', where, PRODUCT, 'a product of names');
  const rows = args.rows === undefined ? 'p.M' : arg(args, 'rows', where, /^[\w.]+$/, 'a name');
  return [
    '// The grid may fold m-tiles into x (tileGrid in src/gpu/grid.ts); this undoes it. Spare',
    '// workgroups of the last row leave before any barrier (all of it is uniform per workgroup).',
    `let nTiles = (${n} + ${bn} - 1u) / ${paren(bn)};`,
    'let fold = nwg.x / nTiles;',
    `let m0 = (wid.y * fold + wid.x / nTiles) * ${bm};`,
    `let n0 = (wid.x % nTiles) * ${bn};`,
    `if (m0 >= ${rows}) { return; }`,
  ];
};

/**
 * The register-block step of a tiled GEMM (forward/conv2d.wgsl): for each vec4 b of up to
 * `channels` / 4 at tile[bRow + q], acc[j][n] += a_j * b[n] for up to `quads` vec4s a0..a3 (PQ
 * and TN are the kernel's overrides); accumulators indexed by constants only, so they stay in
 * registers.
 */
const gemmFma: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 4);
  const vecs = count(args, 'channels', where, 32) / 4;
  const out: string[] = [];
  for (let q = 0; q < vecs; q++) {
    out.push(q === 0 ? '{' : `if (TN > ${4 * q}u) {`);
    out.push(q === 0 ? '  let b = tile[bRow];' : `  let b = tile[bRow + ${q}u];`);
    for (let j = 0; j < quads; j++) {
      const body = [0, 1, 2, 3].map((c) => `acc[${j}][${4 * q + c}] = fma(a${j}, vec4<f32>(b.${'xyzw'[c]}), acc[${j}][${4 * q + c}]);`).join(' ');
      out.push(j === 0 ? `  ${body}` : `  if (PQ > ${j}u) { ${body} }`);
    }
    out.push('}');
  }
  return out;
};

/**
 * Parks quad row `j` of a GEMM's register block in workgroup memory, for an epilogue that walks
 * the tile cooperatively (patterns/stats_gemm.wgsl): tile[(ty * TN + t) * TX + tx] = acc[j][t]
 * for up to `channels` columns t, in a loop over j < up to `quads`.
 */
const gemmPark: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 4);
  const channels = count(args, 'channels', where, 32);
  const out: string[] = [];
  for (let j = 0; j < quads; j++) {
    out.push(`if (j == ${j}u) {`);
    for (let t = 0; t < channels; t++) {
      const line = `tile[(${t === 0 ? 'ty * TN' : `ty * TN + ${t}u`}) * TX + tx] = acc[${j}][${t}];`;
      out.push(t < 4 ? `  ${line}` : `  if (TN > ${t}u) { ${line} }`);
    }
    out.push('}');
  }
  return out;
};

/**
 * `fn accumulate(e, v)`: adds v into the running sum `state[e]`, compensated (Neumaier's variant of
 * Kahan summation), the compensation at `state[comp + e]` (patterns/stats_gemm.wgsl,
 * patterns/stats_channels.wgsl).
 */
const neumaierAccumulate: Snippet = (args, where) => {
  const comp = arg(args, 'comp', where, PRODUCT, 'a product of names');
  return [
    '// Adds v into the running sum of element e, compensated (Neumaier): the compensation collects the',
    '// rounding error of each addition, exactly (Fast2Sum with the larger magnitude first).',
    'fn accumulate(e: u32, v: f32) {',
    '  let s = state[e];',
    '  let t = s + v;',
    '  let err = select((v - t) + s, (s - t) + v, abs(s) >= abs(v));',
    '  state[e] = t;',
    `  state[${comp} + e] += err;`,
    '}',
  ];
};

/** forward/conv2d.wgsl's epilogue: each of up to `channels` output channels, each of up to `quads` quads. */
const conv2dStore: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 4);
  const channels = count(args, 'channels', where, 32);
  const out: string[] = [];
  for (let t = 0; t < channels; t++) {
    out.push(t === 0 ? 'if (nRow < p.coutPerGroup) {' : `if (TN > ${t}u && nRow + ${t}u < p.coutPerGroup) {`);
    out.push(t === 0 ? '  let co = g * p.coutPerGroup + nRow;' : `  let co = g * p.coutPerGroup + nRow + ${t}u;`);
    out.push('  let b = biasOf(co);');
    out.push(`  storeQuad(q0, co, acc[0][${t}] + b);`);
    for (let j = 1; j < quads; j++) out.push(`  if (PQ > ${j}u) { storeQuad(q${j}, co, acc[${j}][${t}] + b); }`);
    out.push('}');
  }
  return out;
};

const ifNB = (n: number, body: string): string => (n === 0 ? body : `if (NB > ${n}u) { ${body} }`);

/** forward/dense.wgsl: the offsets of each of `rows` weight rows and `samples` samples. */
const denseOffsets: Snippet = (args, where) => {
  const rows = count(args, 'rows', where, 8);
  const samples = count(args, 'samples', where, 8);
  return [
    ...Array.from({ length: rows }, (_, r) => `let b${r} = min(r0 + ${r}u, rLast) * p.inF4;`),
    ...Array.from({ length: samples }, (_, n) => `let xb${n} = min(n0 + ${n}u, nLast) * p.inF;`),
  ];
};

/** forward/dense.wgsl's loop body: load `rows` weight vec4s and up to `samples` input vec4s, then every FMA. */
const denseFma: Snippet = (args, where) => {
  const rows = count(args, 'rows', where, 8);
  const samples = count(args, 'samples', where, 8);
  const out = Array.from({ length: rows }, (_, r) => `let w${r} = w[b${r} + c];`);
  for (let n = 0; n < samples; n++) {
    out.push(n === 0 ? 'let x0 = xAt(xb0, k);' : `var x${n} = vec4<f32>(0.0); if (NB > ${n}u) { x${n} = xAt(xb${n}, k); }`);
  }
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < samples; n++) out.push(ifNB(n, `acc[${r}][${n}] = fma(w${r}, x${n}, acc[${r}][${n}]);`));
  }
  return out;
};

/** forward/dense.wgsl: each thread's partial sums into workgroup memory, red[(row * samples + sample) * WG + thread]. */
const denseReduce: Snippet = (args, where) => {
  const rows = count(args, 'rows', where, 8);
  const samples = count(args, 'samples', where, 8);
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < samples; n++) out.push(ifNB(n, `red[${r * samples + n}u * WG + t] = dot(acc[${r}][${n}], vec4<f32>(1.0));`));
  }
  return out;
};

export const SNIPPETS: Readonly<Record<string, Snippet>> = {
  'fold-grid': foldGrid,
  'gemm-fma': gemmFma,
  'conv2d-store': conv2dStore,
  'gemm-park': gemmPark,
  'neumaier-accumulate': neumaierAccumulate,
  'dense-offsets': denseOffsets,
  'dense-fma': denseFma,
  'dense-reduce': denseReduce,
};
