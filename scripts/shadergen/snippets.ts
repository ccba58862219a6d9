/**
 * The WGSL pieces that several kernels share, or that must be unrolled by hand, as functions of
 * the arguments their region's marker gives. Each returns lines indented relative to the marker.
 */

import { Activation } from '../../src/graph/activation.ts';
import { W } from '../../src/lrp/rules.ts';

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
 *
 * `rows=subgroups` (the kernels' subgroups variants, see regions.ts): the b vectors reach a row's
 * threads by subgroupBroadcast instead of each thread reading them. On a CPU adapter every
 * workgroup-memory read is a loop over the SIMD lanes, so TN / 4 reads of one address cost as
 * much as TN / 4 reads of different ones; here lane l of a subgroup reads vec4 l (and l + SG when
 * SG < TN / 4) once, and the rest are register moves. Valid where a subgroup is SG = 4 or 8
 * consecutive invocations inside one row of TX threads (the host checks, src/gpu/subgroups.ts).
 */
const gemmFma: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 4);
  const vecs = count(args, 'channels', where, 32) / 4;
  const rows = args.rows === undefined ? 'tile' : arg(args, 'rows', where, /^(tile|subgroups)$/, 'tile or subgroups');
  const out: string[] = [];
  if (rows === 'subgroups') {
    out.push('let bLane0 = tile[bRow + min(tid % SG, TN / 4u - 1u)];');
    out.push('var bLane1 = bLane0;');
    out.push('if (SG < TN / 4u) { bLane1 = tile[bRow + min(SG + tid % SG, TN / 4u - 1u)]; }');
  }
  const fetch = (q: number): string => {
    if (rows === 'tile') return q === 0 ? 'tile[bRow]' : `tile[bRow + ${q}u]`;
    return q < 4 ? `subgroupBroadcast(bLane0, ${q}u)` : `select(subgroupBroadcast(bLane1, ${q - 4}u), subgroupBroadcast(bLane0, ${q}u), SG == 8u)`;
  };
  for (let q = 0; q < vecs; q++) {
    out.push(q === 0 ? '{' : `if (TN > ${4 * q}u) {`);
    out.push(`  let b = ${fetch(q)};`);
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

/**
 * forward/winograd_gemm.wgsl's reduction step: `steps` consecutive k (k0 + u) at once. Each thread
 * reads its `quads` A vec4s per k and its subgroup lane's B vec4s (blocks lane and lane + SG of
 * the 32 columns), then for each of the 32 columns folds the `steps` products into the
 * accumulator as one chain, acc = fma(a_u, b_u, ... fma(a_0, b_0, acc)). On lavapipe every
 * register a loop carries is blended with the loop's mask on each write, and a block this size
 * lives on the stack: one chain per accumulator and step group pays the load, blend and store
 * once per `steps` FMAs instead of once per FMA.
 */
const wgemmStep: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 2);
  const steps = count(args, 'steps', where, 8);
  const out: string[] = [];
  for (let u = 0; u < steps; u++) {
    const k = u === 0 ? 'k0' : `k0 + ${u}u`;
    out.push(`let a0_${u} = loadA(xq0, ${k});`);
    for (let q = 1; q < quads; q++) out.push(`var a${q}_${u} = vec4<f32>(0.0);`, `if (PQ > ${q}u) { a${q}_${u} = loadA(xq${q}, ${k}); }`);
    const row = u === 0 ? '' : ` + ${u}u * p.npad4`;
    out.push(`let bLo${u} = w[wLo${row}];`);
    out.push(`var bHi${u} = bLo${u};`, `if (SG == 4u) { bHi${u} = w[wHi${row}]; }`);
  }
  for (let c = 0; c < 32; c++) {
    const block = c >> 2;
    const comp = 'xyzw'[c & 3];
    for (let u = 0; u < steps; u++) {
      const b = block < 4
        ? `subgroupBroadcast(bLo${u}.${comp}, ${block}u)`
        : `select(subgroupBroadcast(bHi${u}.${comp}, ${block - 4}u), subgroupBroadcast(bLo${u}.${comp}, ${block}u), SG == 8u)`;
      out.push(`let s${c}_${u} = vec4<f32>(${b});`);
    }
    for (let q = 0; q < quads; q++) {
      let e = `acc${q}_${c}`;
      for (let u = 0; u < steps; u++) e = `fma(a${q}_${u}, s${c}_${u}, ${e})`;
      out.push(q === 0 ? `acc0_${c} = ${e};` : `if (PQ > ${q}u) { acc${q}_${c} = ${e}; }`);
    }
  }
  return out;
};

/** forward/winograd_gemm.wgsl's accumulators: `quads` x 32 vec4s, each its own variable (registers, where they fit). */
const wgemmAcc: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 2);
  const out: string[] = [];
  for (let q = 0; q < quads; q++) for (let c = 0; c < 32; c += 4) out.push([0, 1, 2, 3].map((i) => `var acc${q}_${c + i} = vec4<f32>(0.0);`).join(' '));
  return out;
};

/** forward/winograd_gemm.wgsl's epilogue: column nT + c of each of `quads` quads, for the 32 columns c below N. */
const wgemmStore: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 2);
  const out: string[] = [];
  for (let c = 0; c < 32; c++) {
    out.push(`if (nT + ${c}u < p.N) {`);
    out.push(`  let row = (g * p.N + nT + ${c}u) * p.P;`);
    out.push(`  storeQuad(row, mq0, acc0_${c});`);
    for (let q = 1; q < quads; q++) out.push(`  if (PQ > ${q}u) { storeQuad(row, mq${q}, acc${q}_${c}); }`);
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

/**
 * The epilogue of a denominator GEMM, `epilogue(o, d)`: s from the denominator d of output o by
 * p.mode and p.gate (see relevance/conv_stab.wgsl), for every kernel that finishes a denominator.
 * Needs `p.mode`, `p.gate`, `p.eps`, `p.gamma`, `p.sliceLen`, `p.outSlice`, `rel`, `z`, `s` and
 * `stab()`.
 */
const stabEpilogue: Snippet = () => [
  '// s from the denominator d of output o: the rule\'s epilogue, by p.mode and p.gate.',
  'fn epilogue(o: u32, d: f32) {',
  '  let r = rel[o];',
  '  if (p.mode == 1u) {',
  '    s[o] = r / stab(d);',
  '    // n = z - p <= 0 by definition (a sum of non-positive terms); rounding can leave z - p at 0',
  '    // or slightly above when n is below float32\'s resolution of z, and stab() would then add',
  '    // +eps where the true n takes -eps, flipping the sign of s_n. So n is clamped and always',
  '    // stabilised downwards (n = 0 exactly means every term x_i w-_ij is 0: s_n multiplies nothing).',
  '    s[p.sliceLen + o] = r / (min(z[o] - d, 0.0) - p.eps);',
  '  } else if (p.mode == 2u) {',
  '    let zo = z[o];',
  '    s[o] = select(0.0, r / stab(zo + p.gamma * d), zo > 0.0);',
  '    s[p.sliceLen + o] = select(0.0, r / stab(zo + p.gamma * min(zo - d, 0.0)), zo < 0.0);',
  '  } else {',
  '    var gate = 1.0;',
  '    if (p.gate == 1u) { gate = select(0.0, 1.0, z[o] > 0.0); }',
  '    if (p.gate == 2u) { gate = select(0.0, 1.0, z[o] < 0.0); }',
  '    s[p.outSlice * p.sliceLen + o] = gate * r / stab(d);',
  '  }',
  '}',
];

/**
 * The epilogue of a conv2d-style tile: `fn(q<j>, column, args..., acc[j][t])` for each of up to
 * `channels` columns of the thread (nRow + t, while below `columns`) and each of up to `quads`
 * quads, accumulators indexed by constants only.
 */
const quadEpilogue: Snippet = (args, where) => {
  const fn = arg(args, 'fn', where, /^\w+$/, 'a function name');
  const n = arg(args, 'columns', where, /^[\w.]+$/, 'a name');
  const extra = args.args ? `, ${arg(args, 'args', where, /^[\w.]+(, [\w.]+)*$/, 'a list of names')}` : '';
  const quads = count(args, 'quads', where, 4);
  const channels = count(args, 'channels', where, 32);
  const out: string[] = [];
  for (let t = 0; t < channels; t++) {
    const col = t === 0 ? 'nRow' : `nRow + ${t}u`;
    out.push(t === 0 ? `if (${col} < ${n}) {` : `if (TN > ${t}u && ${col} < ${n}) {`);
    out.push(`  ${fn}(q0, ${col}${extra}, acc[0][${t}]);`);
    for (let j = 1; j < quads; j++) out.push(`  if (PQ > ${j}u) { ${fn}(q${j}, ${col}${extra}, acc[${j}][${t}]); }`);
    out.push('}');
  }
  return out;
};

/**
 * The epilogue of a redistribution GEMM, `epilogue(o, c, a)`: R[o] (+)= OUT(x[o]) * a, c the
 * input channel (conv) or feature (dense) of o, whose zbox bounds are bounds[c] and
 * bounds[channels + c]. Needs `p.out`, `p.reluIn`, `p.accumulate`, `x`, `bounds` and `r`.
 */
const transposeEpilogue: Snippet = (args, where) => {
  const channels = arg(args, 'channels', where, /^[\w.]+$/, 'a name');
  return [
    '// R at input o (channel or feature c) from the redistributed sum a: times the input factor.',
    'fn epilogue(o: u32, c: u32, a: f32) {',
    '  var f = 1.0;',
    '  switch p.out {',
    '    case 3u: { f = 1.0; }',
    '    case 4u: { f = bounds[c]; }',
    `    case 5u: { f = bounds[${channels} + c]; }`,
    '    default: {',
    '      f = x[o];',
    '      if (p.reluIn != 0u) { f = max(f, 0.0); }',
    '      if (p.out == 1u) { f = max(f, 0.0); }',
    '      if (p.out == 2u) { f = min(f, 0.0); }',
    '    }',
    '  }',
    '  var v = f * a;',
    '  if (p.accumulate != 0u) { v += r[o]; }',
    '  r[o] = v;',
    '}',
  ];
};

/**
 * The end of a conv2d-style tile whose epilogue is long (a rule's): the accumulators, indexed by
 * constants (so they stay in registers through the main loop), copied into `res` (index
 * quad * 32 + channel), which the epilogue then walks in a loop. One copy of the epilogue instead
 * of one per accumulator: on a CPU driver that is most of the shader's compile time.
 */
const accSpill: Snippet = (args, where) => {
  const quads = count(args, 'quads', where, 4);
  const channels = count(args, 'channels', where, 32);
  const out: string[] = [];
  for (let j = 0; j < quads; j++) {
    for (let t = 0; t < channels; t += 4) {
      const body = [0, 1, 2, 3].map((c) => `res[${j * 32 + t + c}] = acc[${j}][${t + c}];`).join(' ');
      const conds = [...(j > 0 ? [`PQ > ${j}u`] : []), ...(t > 0 ? [`TN > ${t}u`] : [])];
      out.push(conds.length ? `if (${conds.join(' && ')}) { ${body} }` : body);
    }
  }
  return out;
};

/**
 * relevance/dense_stab.wgsl's loop body: forward/dense.wgsl's (dense-fma) with the rule's
 * modifiers: weights through `wMod(wm, .)` times `coef`, inputs through `xIn(base, k, im)`.
 */
const denseStabFma: Snippet = (args, where) => {
  const rows = count(args, 'rows', where, 8);
  const samples = count(args, 'samples', where, 8);
  const out = Array.from({ length: rows }, (_, r) => `let w${r} = coef * wMod(wm, w[b${r} + c]);`);
  for (let n = 0; n < samples; n++) {
    out.push(n === 0 ? 'let x0 = xIn(xb0, k, im);' : `var x${n} = vec4<f32>(0.0); if (NB > ${n}u) { x${n} = xIn(xb${n}, k, im); }`);
  }
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < samples; n++) out.push(ifNB(n, `acc[${r}][${n}] = fma(w${r}, x${n}, acc[${r}][${n}]);`));
  }
  return out;
};

/**
 * relevance/dense_transpose.wgsl's loop body: one weight vec4 (the thread's 4 input features of
 * row o) times s of each of up to `samples` samples (offsets sb<n>), into acc<n>.
 */
const denseTransposeFma: Snippet = (args, where) => {
  const samples = count(args, 'samples', where, 8);
  if (args.rows === undefined) {
    const out = ['let wv = coef * wMod(wm, w[o * p.inF4 + cc]);'];
    for (let n = 0; n < samples; n++) out.push(ifNB(n, `acc${n} = fma(wv, vec4<f32>(s[sb${n} + o]), acc${n});`));
    return out;
  }
  // `rows` consecutive rows a step, each sample's accumulator updated once by a chain of that many
  // FMAs in row order (the same sums, in the same order, as one row a step).
  const rows = count(args, 'rows', where, 8);
  const out: string[] = [];
  for (let r = 0; r < rows; r++) out.push(`let wv${r} = coef * wMod(wm, w[(o + ${r}u) * p.inF4 + cc]);`);
  for (let n = 0; n < samples; n++) {
    let chain = `acc${n}`;
    for (let r = 0; r < rows; r++) chain = `fma(wv${r}, vec4<f32>(s[sb${n} + o + ${r}u]), ${chain})`;
    out.push(ifNB(n, `acc${n} = ${chain};`));
  }
  return out;
};

/** Each weight modifier of src/lrp/rules.ts's W as WGSL over a vec4 `v` (gamma from `p.gamma`). */
const WEIGHT_MODIFIERS: { readonly [K in W]: string } = {
  [W.Id]: 'v',
  [W.Pos]: 'max(v, vec4<f32>(0.0))',
  [W.Neg]: 'min(v, vec4<f32>(0.0))',
  [W.Ones]: 'vec4<f32>(1.0)',
  [W.Square]: 'v * v',
  [W.GammaPos]: 'v + p.gamma * max(v, vec4<f32>(0.0))',
  [W.GammaNeg]: 'v + p.gamma * min(v, vec4<f32>(0.0))',
};

/**
 * `wMod(code, v)`: a rule segment's weight modifier, `code` a W of src/lrp/rules.ts (the uniform's
 * wCode lanes), so the codes the TypeScript plans write and the cases the kernels read are one list.
 */
const weightModifier: Snippet = () => [
  'fn wMod(code: u32, v: vec4<f32>) -> vec4<f32> {',
  '  switch code {',
  ...Object.entries(WEIGHT_MODIFIERS).filter(([k]) => Number(k) !== W.Id).map(([k, e]) => `    case ${k}u: { return ${e}; }`),
  `    default: { return ${WEIGHT_MODIFIERS[W.Id]}; }`,
  '  }',
  '}',
];

/**
 * Each activation's value and derivative from its input v, one WGSL expression each (ORT's
 * one-expression-per-op form), by the codes of src/graph/activation.ts. `p.alpha` and `p.beta` are
 * HardSigmoid's and HardSwish's parameters; u = alpha v + beta. Sigmoid and tanh go through
 * exp(-|v|), which never overflows (WGSL's tanh() fails for large inputs: gpuweb issue 4458), and
 * 1 - sigmoid is computed as its own quotient rather than by cancellation. HardSigmoid's derivative
 * is alpha strictly inside 0 < u < 1 (PyTorch's), HardSwish's its product rule with it.
 */
const ACTIVATIONS: { readonly [K in Activation]: { readonly y: string; readonly dy: string } } = {
  [Activation.Sigmoid]: { y: 'sigmoidOf(v).x', dy: 'sigmoidOf(v).x * sigmoidOf(v).y' },
  [Activation.Tanh]: { y: 'tanhOf(v)', dy: '1.0 - tanhOf(v) * tanhOf(v)' },
  [Activation.HardSigmoid]: {
    y: 'clamp(fma(p.alpha, v, p.beta), 0.0, 1.0)',
    dy: 'select(0.0, p.alpha, fma(p.alpha, v, p.beta) > 0.0 && fma(p.alpha, v, p.beta) < 1.0)',
  },
  [Activation.Silu]: { y: 'v * sigmoidOf(v).x', dy: 'sigmoidOf(v).x * fma(v, sigmoidOf(v).y, 1.0)' },
  [Activation.HardSwish]: {
    y: 'v * clamp(fma(p.alpha, v, p.beta), 0.0, 1.0)',
    dy: 'clamp(fma(p.alpha, v, p.beta), 0.0, 1.0) + select(0.0, p.alpha * v, fma(p.alpha, v, p.beta) > 0.0 && fma(p.alpha, v, p.beta) < 1.0)',
  },
  // x Phi(x); its derivative Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
  [Activation.Gelu]: { y: 'v * phiOf(v)', dy: 'phiOf(v) + v * 0.3989422804014327 * exp(-0.5 * v * v)' },
  // 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).
  [Activation.GeluTanh]: { y: 'v * sigmoidOf(1.5957691216057308 * fma(0.044715 * v, v * v, v)).x', dy: 'geluTanhDerivative(v)' },
};

/** `fn act(code, v)` and `fn dact(code, v)` over ACTIVATIONS, with the helpers they call. */
const activation: Snippet = () => {
  const codes = Object.entries(ACTIVATIONS);
  const fn = (name: string, pick: 'y' | 'dy') => [
    `fn ${name}(code: u32, v: f32) -> f32 {`,
    '  switch code {',
    ...codes.slice(1).map(([k, e]) => `    case ${k}u: { return ${e[pick]}; }`),
    `    default: { return ${codes[0][1][pick]}; }`,
    '  }',
    '}',
  ];
  return [
    '// (sigmoid(v), 1 - sigmoid(v)), both as quotients of e = exp(-|v|): no overflow, no cancellation.',
    'fn sigmoidOf(v: f32) -> vec2<f32> {',
    '  let e = exp(-abs(v));',
    '  let big = 1.0 / (1.0 + e);',
    '  let small = e / (1.0 + e);',
    '  return select(vec2<f32>(small, big), vec2<f32>(big, small), v >= 0.0);',
    '}',
    '',
    '// tanh through exp(-2|v|); near 0 its Taylor series (relative error below 2e-9 for |v| < 0.125).',
    'fn tanhOf(v: f32) -> f32 {',
    '  let a = abs(v);',
    '  if (a < 0.125) {',
    '    let s = v * v;',
    '    return v * (1.0 + s * (-1.0 / 3.0 + s * (2.0 / 15.0 + s * (-17.0 / 315.0))));',
    '  }',
    '  let e = exp(-2.0 * a);',
    '  return sign(v) * (1.0 - e) / (1.0 + e);',
    '}',
    '',
    '// The normal CDF Phi(v) = erfc(-v / sqrt 2) / 2 (WGSL has no erf), by the Chebyshev fit of erfc',
    "// in Numerical Recipes' erfcc: fractional error below 1.2e-7 everywhere, so Phi keeps its relative",
    '// accuracy in the far negative tail, where 1 - Phi(-v) would cancel.',
    'fn phiOf(v: f32) -> f32 {',
    '  let z = abs(v) * 0.7071067811865476;',
    '  let t = 1.0 / (1.0 + 0.5 * z);',
    '  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));',
    '  let e = t * exp(-z * z + poly);',
    '  return select(0.5 * e, 1.0 - 0.5 * e, v >= 0.0);',
    '}',
    '',
    '// d/dv of v sigmoid(2u), u = sqrt(2/pi) (v + 0.044715 v^3): s + v s (1 - s) 2u\'.',
    'fn geluTanhDerivative(v: f32) -> f32 {',
    '  let s = sigmoidOf(1.5957691216057308 * fma(0.044715 * v, v * v, v));',
    '  return s.x + v * s.x * s.y * 1.5957691216057308 * fma(0.134145, v * v, 1.0);',
    '}',
    '',
    ...fn('act', 'y'),
    '',
    ...fn('dact', 'dy'),
  ];
};

/**
 * MurmurHash3's 32-bit finaliser and the keyed hash built on it, `keyed(k, e) = fmix32(k ^
 * fmix32(e ^ 0x9e3779b9))`: region perturbation's seeded random orders and uniform baselines
 * (src/eval/region-perturbation.ts computes the keys with the same fmix32, src/synth/rng.ts).
 */
const keyedHash: Snippet = () => [
  'fn fmix32(h0: u32) -> u32 {',
  '  var h = h0;',
  '  h ^= h >> 16u;',
  '  h *= 0x85ebca6bu;',
  '  h ^= h >> 13u;',
  '  h *= 0xc2b2ae35u;',
  '  h ^= h >> 16u;',
  '  return h;',
  '}',
  '',
  'fn keyed(k: u32, e: u32) -> u32 {',
  '  return fmix32(k ^ fmix32(e ^ 0x9e3779b9u));',
  '}',
];


/**
 * Winograd's input transform (Lavin and Gray 2016), F(m x m, 3 x 3) for m = TM (2 or 4, an
 * override): `transformInput(src, iy0, ix0, dst, stride)` reads the alpha x alpha patch at
 * (iy0, ix0) through the file's `load(src, iy, ix) -> f32` (its own `Src` struct says where and
 * how: padding, ReLU view, a rule's input modifier) and writes V = B^T d B to
 * v[dst + xi * stride] for the alpha^2 coordinates xi = i * alpha + j.
 */
const winogradInput: Snippet = () => [
  '// B^T of F(2, 3) applied to a column of 4.',
  'fn bt4(d: array<f32, 4>) -> array<f32, 4> {',
  '  return array<f32, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);',
  '}',
  '',
  '// B^T of F(4, 3) applied to a column of 6.',
  'fn bt6(d: array<f32, 6>) -> array<f32, 6> {',
  '  return array<f32, 6>(',
  '    4.0 * d[0] - 5.0 * d[2] + d[4],',
  '    -4.0 * (d[1] + d[2]) + d[3] + d[4],',
  '    4.0 * (d[1] - d[2]) - d[3] + d[4],',
  '    2.0 * (d[3] - d[1]) - d[2] + d[4],',
  '    2.0 * (d[1] - d[3]) - d[2] + d[4],',
  '    4.0 * d[1] - 5.0 * d[3] + d[5],',
  '  );',
  '}',
  '',
  'fn transformInput(src: Src, iy0: i32, ix0: i32, dst: u32, stride: u32) {',
  '  if (TM == 2u) {',
  '    var d: array<array<f32, 4>, 4>;',
  '    for (var a = 0u; a < 4u; a++) {',
  '      for (var b = 0u; b < 4u; b++) { d[a][b] = load(src, iy0 + i32(a), ix0 + i32(b)); }',
  '    }',
  '    // Columns: s[a][b] = (B^T d)[a][b]; then rows: V = s B.',
  '    var s: array<array<f32, 4>, 4>;',
  '    for (var b = 0u; b < 4u; b++) {',
  '      let col = bt4(array<f32, 4>(d[0][b], d[1][b], d[2][b], d[3][b]));',
  '      for (var a = 0u; a < 4u; a++) { s[a][b] = col[a]; }',
  '    }',
  '    for (var a = 0u; a < 4u; a++) {',
  '      let row = bt4(s[a]);',
  '      for (var b = 0u; b < 4u; b++) { v[dst + (a * 4u + b) * stride] = row[b]; }',
  '    }',
  '  } else {',
  '    var d: array<array<f32, 6>, 6>;',
  '    for (var a = 0u; a < 6u; a++) {',
  '      for (var b = 0u; b < 6u; b++) { d[a][b] = load(src, iy0 + i32(a), ix0 + i32(b)); }',
  '    }',
  '    var s: array<array<f32, 6>, 6>;',
  '    for (var b = 0u; b < 6u; b++) {',
  '      let col = bt6(array<f32, 6>(d[0][b], d[1][b], d[2][b], d[3][b], d[4][b], d[5][b]));',
  '      for (var a = 0u; a < 6u; a++) { s[a][b] = col[a]; }',
  '    }',
  '    for (var a = 0u; a < 6u; a++) {',
  '      let row = bt6(s[a]);',
  '      for (var b = 0u; b < 6u; b++) { v[dst + (a * 6u + b) * stride] = row[b]; }',
  '    }',
  '  }',
  '}',
];

/**
 * Winograd's output transform, F(m x m, 3 x 3) for m = TM: `transformOutput(n, co, oy0, ox0,
 * src, stride)` reads the alpha^2 products m[src + xi * stride] of one tile and hands each of its
 * m x m pixels Y = A^T M A to the file's `store(n, co, oy, ox, val)` (which skips pixels past the
 * plane and applies the kernel's epilogue: a bias, a rule's).
 */
const winogradOutput: Snippet = () => [
  '// A^T of F(2, 3) applied to a column of 4.',
  'fn at4(d: array<f32, 4>) -> array<f32, 2> {',
  '  return array<f32, 2>(d[0] + d[1] + d[2], d[1] - d[2] - d[3]);',
  '}',
  '',
  '// A^T of F(4, 3) applied to a column of 6.',
  'fn at6(d: array<f32, 6>) -> array<f32, 4> {',
  '  let s1 = d[1] + d[2];',
  '  let d1 = d[1] - d[2];',
  '  let s3 = d[3] + d[4];',
  '  let d3 = d[3] - d[4];',
  '  return array<f32, 4>(d[0] + s1 + s3, d1 + 2.0 * d3, s1 + 4.0 * s3, d1 + 8.0 * d3 + d[5]);',
  '}',
  '',
  'fn transformOutput(n: u32, co: u32, oy0: u32, ox0: u32, src: u32, stride: u32) {',
  '  if (TM == 2u) {',
  '    // Columns first: s[a][j] = (A^T M)[a][j] for the 2 output rows a; then rows: Y = s A.',
  '    var s: array<array<f32, 4>, 2>;',
  '    for (var j = 0u; j < 4u; j++) {',
  '      let col = at4(array<f32, 4>(m[src + j * stride], m[src + (4u + j) * stride], m[src + (8u + j) * stride], m[src + (12u + j) * stride]));',
  '      s[0][j] = col[0];',
  '      s[1][j] = col[1];',
  '    }',
  '    for (var a = 0u; a < 2u; a++) {',
  '      let row = at4(s[a]);',
  '      store(n, co, oy0 + a, ox0, row[0]);',
  '      store(n, co, oy0 + a, ox0 + 1u, row[1]);',
  '    }',
  '  } else {',
  '    var s: array<array<f32, 6>, 4>;',
  '    for (var j = 0u; j < 6u; j++) {',
  '      let col = at6(array<f32, 6>(',
  '        m[src + j * stride], m[src + (6u + j) * stride], m[src + (12u + j) * stride],',
  '        m[src + (18u + j) * stride], m[src + (24u + j) * stride], m[src + (30u + j) * stride],',
  '      ));',
  '      for (var a = 0u; a < 4u; a++) { s[a][j] = col[a]; }',
  '    }',
  '    for (var a = 0u; a < 4u; a++) {',
  '      let row = at6(s[a]);',
  '      for (var k = 0u; k < 4u; k++) { store(n, co, oy0 + a, ox0 + k, row[k]); }',
  '    }',
  '  }',
  '}',
];

export const SNIPPETS: Readonly<Record<string, Snippet>> = {
  'activation': activation,
  'keyed-hash': keyedHash,
  'fold-grid': foldGrid,
  'gemm-fma': gemmFma,
  'conv2d-store': conv2dStore,
  'wgemm-step': wgemmStep,
  'wgemm-acc': wgemmAcc,
  'wgemm-store': wgemmStore,
  'gemm-park': gemmPark,
  'neumaier-accumulate': neumaierAccumulate,
  'dense-offsets': denseOffsets,
  'dense-fma': denseFma,
  'dense-reduce': denseReduce,
  'stab-epilogue': stabEpilogue,
  'transpose-epilogue': transposeEpilogue,
  'acc-spill': accSpill,
  'dense-stab-fma': denseStabFma,
  'dense-transpose-fma': denseTransposeFma,
  'weight-modifier': weightModifier,
  'winograd-input': winogradInput,
  'winograd-output': winogradOutput,
};
