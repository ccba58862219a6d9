/**
 * Winograd minimal filtering F(m x m, 3 x 3) in the relevance passes of a 3x3 stride-1
 * convolution (src/forward/winograd.ts has the math and the forward pass): the rule's
 * denominators, and the redistribution, which for such a layer is itself a 3x3 stride-1
 * convolution of s with the flipped, channel-swapped kernel and padding 2 - pad. Each pass is
 * three dispatches per chunk of samples around the forward's element-wise GEMM
 * (createWinogradGemm):
 *   1. the input transform with the pass's input selection (shaders/relevance/winograd_rel_input.wgsl),
 *   2. alpha^2 GEMMs over the segments concatenated along the reduction (segs * C deep),
 *   3. the output transform fused with the pass's epilogue: the denominators' stabilise-and-divide
 *      into the s slices (winograd_stab_output.wgsl, conv_stab's epilogue), the redistribution's
 *      input factor and accumulation into R (winograd_transpose_output.wgsl, conv_transpose's).
 * The direct op (conv-backward.ts) runs the rest: divides, s, the passes Winograd does not take.
 *
 * Decisions:
 * - A weight modifier does not commute with the transform ((G g G^T)+ is not G g+ G^T), so each
 *   modified weight is transformed on the CPU, in float64, once per model: a pass's segments are
 *   ordered by weight modifier, and their transformed weights stacked along the reduction are one
 *   WeightStore copy keyed by the modifiers (`winograd f2 stab w+,w- bk16`). Alpha-beta's two
 *   signed denominators (x+ W+ + x- W-, x+ W- + x- W+) are the same sum of W+ and W- terms with
 *   the inputs swapped, so they share one copy, and so do its two redistributions: each modified
 *   weight is held once per direction (W+ and W- as [W+; W-], the flipped ones likewise).
 * - The input selection and the segment's coefficient (zbox's -1, alpha, -beta) are applied while
 *   the input tile is loaded: the transform is linear, so coef * B^T IN(d) B is what the GEMM needs.
 * - Which passes run Winograd, and with which tile, is winogradRelevanceChoice's: per pass, by
 *   the forward pass's rule (autoWinogradCpu: a pass's channels and plane on a CPU adapter, from
 *   per-pass timings, bench/winograd-choice.ts), within the measured float32 error
 *   (bench/winograd-relevance-error.ts, bench/RESULTS.md).
 * - A batch whose transformed tensors would pass one binding runs in chunks of samples, as in the
 *   forward. The transformed tensors are the layer's scratch (io.scratch: the explainer's
 *   ScratchArena hands them on to later layers once this layer's dispatches are recorded), shared
 *   by the op's passes: one V and one M per layer, sized for the largest pass
 *   (VGG-16's features.2 at batch 1 under alpha-beta: V 58 MB for the two-segment redistribution,
 *   M 29 MB under F(4,3); 103 and 51 MB under F(2,3), whose tiles are a quarter the size).
 */
import type { Dispatch } from '../../gpu/context.ts';
import { KeyedUniforms } from '../../gpu/uniforms.ts';
import { GpuError } from '../../gpu/errors.ts';
import { grid1d } from '../../gpu/grid.ts';
import type { SharedBuffer } from '../../gpu/weight-store.ts';
import type { ConvLayer, Shape } from '../../graph/ir.ts';
import { convWeightLayout } from '../../forward/conv.ts';
import { createWinogradGemm, winogradTiles, type WinogradGemm } from '../../forward/conv-winograd.ts';
import {
  winogradChoice, winogradGemmLayer, winogradMatrices, type ConvMode, type WinogradDecision, type WinogradTile,
} from '../../forward/winograd.ts';
import { winogradRelInput, winogradStabOutput, winogradTransposeOutput } from '../../kernels/linear-relevance.ts';
import type { BackwardIO, BackwardOp, BackwardOpContext } from '../backward-op.ts';
import { createConvBackward, type PassInPlace } from './conv-backward.ts';
import { W, modifyBias, planLinearRule, type LinearPlan, type RedistributePass, type StabPass } from '../rules.ts';
import type { LinearRule } from '../rule-spec.ts';
import { boundsData, relevanceWeight, stabRule, transposeRule } from './linear-plan.ts';

const WG = 64;

/** Which of a layer's relevance passes run Winograd, with the tile or why not. */
export interface RelevanceWinograd {
  readonly denominators: WinogradDecision;
  readonly redistribution: WinogradDecision;
}

/**
 * The Winograd choice of each relevance pass of a convolution under `mode`: the denominators are
 * the forward convolution with other inputs and weights (same shape); the redistribution is a
 * convolution from the output channels to the input channels over the input plane, with padding
 * 2 - pad (so a pad above 2 keeps it direct). Under `auto` each pass takes its own tile by
 * autoWinogradCpu (src/forward/winograd.ts, with the figures per pass): F(4,3) on planes of 28x28
 * and more, F(2,3) on 14x14, and on 7x7 in the redistribution only, whose direct kernel is slow
 * on small planes. F(4,3)'s float32 error on VGG-16-sized layers under alpha-beta 2/1 was 2 to 7
 * times direct convolution's (about 1e-6 to 1e-5 relative), F(2,3)'s 0.7 to 1.2 times, with inputs
 * 69% and 93% zero (bench/winograd-relevance-error.ts, bench/RESULTS.md).
 */
export function winogradRelevanceChoice(
  layer: ConvLayer, inPixels: number, outPixels: number, mode: ConvMode, tuning: 'cpu' | 'gpu', tile?: WinogradTile,
): RelevanceWinograd {
  const denominators = winogradChoice(layer, outPixels, mode, tuning, tile, 'denominators');
  const swapped: ConvLayer = { ...layer, inChannels: layer.outChannels, outChannels: layer.inChannels };
  let redistribution = winogradChoice(swapped, inPixels, mode, tuning, tile, 'redistribution');
  if (redistribution.m !== null && (layer.pads[0] > 2 || layer.pads[1] > 2)) {
    redistribution = { m: null, why: `padding ${layer.pads[0]}x${layer.pads[1]} over 2: the transposed pass is not a padded convolution` };
  }
  return { denominators, redistribution };
}

/** A weight modifier applied on the CPU (conv_stab.wgsl's wMod), for transforming the result. */
export function modifyWeight(w: Float32Array, code: W, gamma: number): Float32Array {
  const f: Record<W, (v: number) => number> = {
    [W.Id]: (v) => v,
    [W.Pos]: (v) => Math.max(v, 0),
    [W.Neg]: (v) => Math.min(v, 0),
    [W.Ones]: () => 1,
    [W.Square]: (v) => v * v,
    [W.GammaPos]: (v) => v + gamma * Math.max(v, 0),
    [W.GammaNeg]: (v) => v + gamma * Math.min(v, 0),
  };
  return Float32Array.from(w, f[code]);
}

/** The kernel of the transposed pass: [inC][outC][3][3] from [outC][inC][3][3], taps flipped. */
export function flippedWeight(w: Float32Array, outC: number, inC: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < outC; o++) {
    for (let c = 0; c < inC; c++) {
      for (let k = 0; k < 9; k++) out[(c * outC + o) * 9 + (8 - k)] = w[(o * inC + c) * 9 + k];
    }
  }
  return out;
}

const W_NAMES: Record<W, string> = {
  [W.Id]: 'w', [W.Pos]: 'w+', [W.Neg]: 'w-', [W.Ones]: 'ones', [W.Square]: 'w2', [W.GammaPos]: 'gw+', [W.GammaNeg]: 'gw-',
};

/**
 * The stacked transformed weight of a pass whose segments read `mods` (in order): the GEMM
 * weight [xi][seg * C + c][Cout] of `layer` (in the [Kpad][Npad] layout for depth BK), segment
 * seg holding G mods[seg](w) G^T.
 */
export function stackedWinogradLayout(layer: ConvLayer, mods: readonly W[], gamma: number, m: WinogradTile, BK: number): Float32Array {
  const A2 = winogradMatrices(m).alpha ** 2;
  const { inChannels: C, outChannels: O } = layer;
  const S = mods.length;
  const stacked = new Float32Array(A2 * O * S * C);
  mods.forEach((code, seg) => {
    const u = winogradGemmLayer({ ...layer, weight: modifyWeight(layer.weight, code, gamma) }, m).weight;
    for (let row = 0; row < A2 * O; row++) stacked.set(u.subarray(row * C, (row + 1) * C), (row * S + seg) * C);
  });
  const gemmLayer: ConvLayer = {
    ...layer, inChannels: A2 * S * C, outChannels: A2 * O, groups: A2, kernel: [1, 1], stride: [1, 1], dilation: [1, 1],
    pads: [0, 0, 0, 0], weight: stacked, bias: new Float32Array(A2 * O),
  };
  return convWeightLayout(gemmLayer, BK).data;
}

/** The Winograd passes of one convolution's relevance op, run by the direct op in its place. */
/** A Winograd pass in the direct op's place. */
export type WinogradPart = PassInPlace;

export interface WinogradParts {
  readonly denominators: WinogradPart | null;
  readonly redistribution: WinogradPart | null;
  /** For the op's `passes`: which ran Winograd. */
  readonly note: string;
  destroy(): void;
}

/** One Winograd GEMM pass: segments (ordered by weight modifier), its weight, GEMM and uniforms. */
interface Pass {
  readonly segs: number;
  readonly gemm: WinogradGemm;
  readonly weight: SharedBuffer;
  /** Uniforms by (batch, first sample, tiles). */
  readonly uniforms: KeyedUniforms;
}

const byWeight = <T extends { w: W }>(segs: readonly T[]): T[] => [...segs].sort((a, b) => a.w - b.w);

export async function createWinogradParts(
  c: BackwardOpContext, plan: LinearPlan, rule: LinearRule, choice: RelevanceWinograd,
): Promise<WinogradParts> {
  const layer = c.layer as ConvLayer;
  const { ctx } = c;
  const input = c.inputs[0];
  const [inC, inH, inW] = input.shape;
  const [outC, outH, outW] = c.outShape;
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const passes: Pass[] = [];
  const owned: GPUBuffer[] = [];
  const destroy = () => {
    for (const p of passes) {
      p.gemm.destroy();
      p.weight.release();
      p.uniforms.destroy();
    }
    owned.forEach((b) => b.destroy());
  };
  // A pass's input and output transform parameters, by (chunk, first sample): written once each.
  const uniformOf = (p: Pass, key: string, make: () => { input: Uint32Array; output: Uint32Array }) => ({
    input: p.uniforms.get(`${key} input`, () => make().input),
    output: p.uniforms.get(`${key} output`, () => make().output),
  });
  const acquire = (key: string, where: string, build: () => Float32Array) => c.weights.acquire(layer.name, key, () => {
    const data = build();
    if (data.byteLength > ctx.maxBinding) {
      throw new GpuError(`transformed weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', `${where} for layer '${layer.name}'`);
    }
    return data;
  });
  // Samples per chunk: the most whose V (K per tile) and M (N per tile) each fit one binding.
  const chunkOf = (m: WinogradTile, tps: number, K: number, N: number) => Math.floor(ctx.maxBinding / (4 * winogradMatrices(m).alpha ** 2 * tps * Math.max(K, N)));

  // The transformed tensors V and M of one batch, shared by the op's passes (they run in queue
  // order): sized for the largest pass, allocated on the first pass's call for that io.
  const needs: ((batch: number) => { v: number; m: number })[] = [];
  const scratchOf = new WeakMap<BackwardIO, { v: GPUBuffer; m: GPUBuffer }>();
  const transformed = (io: BackwardIO, batch: number) => {
    let t = scratchOf.get(io);
    if (!t) {
      const v = Math.max(...needs.map((n) => n(batch).v));
      const m = Math.max(...needs.map((n) => n(batch).m));
      t = { v: io.scratch(v, `${layer.name} winograd V`), m: io.scratch(m, `${layer.name} winograd M`) };
      scratchOf.set(io, t);
    }
    return t;
  };

  try {
    const bounds = ctx.upload(boundsData(rule, 1, inC), `${layer.name} winograd zbox bounds`);
    owned.push(bounds);
    const notes: string[] = [];

    // ---- Denominators: the layer's own convolution, per stab pass. ----
    let denominators: WinogradPart | null = null;
    const stabDefs = plan.denominators.filter((d): d is StabPass => d.kind === 'stab');
    const dm = choice.denominators.m;
    if (dm !== null && stabDefs.length) {
      const { alpha } = winogradMatrices(dm);
      const A2 = alpha * alpha;
      const { tilesY, tilesX } = winogradTiles(outH, outW, dm);
      const tps = tilesY * tilesX;
      const constants = { TM: dm, WG };
      const [inPipe, outPipe] = await Promise.all([winogradRelInput.pipeline(ctx, constants), winogradStabOutput.pipeline(ctx, constants)]);
      const defs = await Promise.all(stabDefs.map(async (d) => {
        const segs = byWeight(d.segs);
        const mods = segs.map((sg) => sg.w);
        const gemm = await createWinogradGemm(ctx, layer.name, A2, segs.length * inC, outC);
        const gammaKey = mods.some((w) => w === W.GammaPos || w === W.GammaNeg) ? ` g${plan.gamma}` : '';
        let weight: SharedBuffer;
        try {
          weight = acquire(`winograd f${dm} stab ${mods.map((w) => W_NAMES[w]).join(',')}${gammaKey} bk${gemm.tile.BK}`, 'winograd denominators',
            () => stackedWinogradLayout(layer, mods, plan.gamma, dm, gemm.tile.BK));
        } catch (e) {
          gemm.destroy();
          throw e;
        }
        const pass: Pass = { segs: segs.length, gemm, weight, uniforms: new KeyedUniforms(ctx, `${layer.name} winograd`) };
        passes.push(pass);
        const bias = ctx.upload(modifyBias(layer.bias, d.bias, plan.gamma), `${layer.name} winograd bias (${d.bias})`);
        owned.push(bias);
        return { d, segs, pass, bias, rule: stabRule({ ...d, segs }, input.relu) };
      }));
      const chunk = chunkOf(dm, tps, Math.max(...defs.map((x) => x.pass.segs)) * inC, outC);
      if (chunk < 1) throw new GpuError(`one sample's transformed tensors exceed the ${ctx.maxBinding}-byte binding limit`, 'limits', `winograd denominators for layer '${layer.name}'`);
      notes.push(`denominators F(${dm},3)`);
      const maxK = Math.max(...defs.map((x) => x.pass.segs)) * inC;
      needs.push((batch) => ({ v: 4 * A2 * maxK * Math.min(batch, chunk) * tps, m: 4 * A2 * outC * Math.min(batch, chunk) * tps }));
      denominators = {
        dispatches(batch, io, s) {
          const out: Dispatch[] = [];
          const { v, m: prod } = transformed(io, batch);
          const sliceLen = batch * outC * outH * outW;
          for (const { d, pass, bias, rule: r } of defs) {
            for (let n0 = 0; n0 < batch; n0 += chunk) {
              const P = Math.min(chunk, batch - n0) * tps;
              const inTotal = pass.segs * inC * P;
              const u = uniformOf(pass, `${batch} ${n0} ${P}`, () => ({
                input: winogradRelInput.pack({
                  C: inC, inH, inW, padT: layer.pads[0], padL: layer.pads[1], tilesX, tilesPerSample: tps, P, n0,
                  reluIn: r.reluIn, segs: pass.segs, total: inTotal, inCode: r.inCode, offset: [0, 0, 0, 0], coef: r.coef,
                }),
                output: winogradStabOutput.pack({
                  Cout: outC, outH, outW, tilesX, tilesPerSample: tps, P, n0, total: outC * P,
                  eps: plan.eps, gamma: plan.gamma, sliceLen, outSlice: d.slice, mode: d.mode, gate: d.gate,
                }),
              }));
              out.push({
                kernel: 'winograd_rel_input', layer: layer.name, pipeline: inPipe,
                bindings: winogradRelInput.bind({ p: u.input, x: io.inputs[0].buffer, bounds, v }),
                workgroups: grid1d(inTotal, WG, maxDim),
              });
              out.push(...pass.gemm.dispatches(P, v, pass.weight.buffer, prod, io.scratch, 'winograd_stab_gemm'));
              out.push({
                kernel: 'winograd_stab_output', layer: layer.name, pipeline: outPipe,
                bindings: winogradStabOutput.bind({ p: u.output, m: prod, bias, rel: io.relOut, z: io.output.buffer, s }),
                workgroups: grid1d(outC * P, WG, maxDim),
              });
            }
          }
          return out;
        },
      };
    }

    // ---- Redistribution: a convolution of s over the input plane with the flipped kernel. ----
    let redistribution: WinogradPart | null = null;
    const rm = choice.redistribution.m;
    if (rm !== null && plan.redistributions.length) {
      const { alpha } = winogradMatrices(rm);
      const A2 = alpha * alpha;
      const { tilesY, tilesX } = winogradTiles(inH, inW, rm);
      const tps = tilesY * tilesX;
      const constants = { TM: rm, WG };
      const [inPipe, outPipe] = await Promise.all([winogradRelInput.pipeline(ctx, constants), winogradTransposeOutput.pipeline(ctx, constants)]);
      const rw = relevanceWeight(layer, rule);
      const flipped = (): ConvLayer => ({
        ...layer, inChannels: outC, outChannels: inC, weight: flippedWeight(rw.weight(), outC, inC), bias: new Float32Array(inC),
      });
      const defs = await Promise.all(plan.redistributions.map(async (r: RedistributePass, i) => {
        const segs = byWeight(r.segs);
        const mods = segs.map((sg) => sg.w);
        const gemm = await createWinogradGemm(ctx, layer.name, A2, segs.length * outC, inC);
        const gammaKey = mods.some((w) => w === W.GammaPos || w === W.GammaNeg) ? ` g${plan.gamma}` : '';
        let weight: SharedBuffer;
        try {
          weight = acquire(`winograd f${rm} transposed ${mods.map((w) => W_NAMES[w]).join(',')}${gammaKey}${rw.key} bk${gemm.tile.BK}`, 'winograd redistribution',
            () => stackedWinogradLayout(flipped(), mods, plan.gamma, rm, gemm.tile.BK));
        } catch (e) {
          gemm.destroy();
          throw e;
        }
        const pass: Pass = { segs: segs.length, gemm, weight, uniforms: new KeyedUniforms(ctx, `${layer.name} winograd`) };
        passes.push(pass);
        const acc = i > 0 || c.accumulate[0];
        return { segs, pass, rule: transposeRule({ ...r, segs }, input.relu, acc) };
      }));
      const chunk = chunkOf(rm, tps, Math.max(...defs.map((x) => x.pass.segs)) * outC, inC);
      if (chunk < 1) throw new GpuError(`one sample's transformed tensors exceed the ${ctx.maxBinding}-byte binding limit`, 'limits', `winograd redistribution for layer '${layer.name}'`);
      notes.push(`redistribution F(${rm},3)`);
      const maxK = Math.max(...defs.map((x) => x.pass.segs)) * outC;
      needs.push((batch) => ({ v: 4 * A2 * maxK * Math.min(batch, chunk) * tps, m: 4 * A2 * inC * Math.min(batch, chunk) * tps }));
      redistribution = {
        dispatches(batch, io, s) {
          const out: Dispatch[] = [];
          const { v, m: prod } = transformed(io, batch);
          const sliceLen = batch * outC * outH * outW;
          for (const { segs, pass, rule: r } of defs) {
            for (let n0 = 0; n0 < batch; n0 += chunk) {
              const P = Math.min(chunk, batch - n0) * tps;
              const inTotal = pass.segs * outC * P;
              const u = uniformOf(pass, `${batch} ${n0} ${P}`, () => ({
                input: winogradRelInput.pack({
                  C: outC, inH: outH, inW: outW, padT: 2 - layer.pads[0], padL: 2 - layer.pads[1], tilesX, tilesPerSample: tps, P, n0,
                  reluIn: 0, segs: pass.segs, total: inTotal, inCode: [0, 0, 0, 0],
                  offset: [0, 1, 2, 3].map((k) => (segs[k] ? segs[k].slice * sliceLen : 0)), coef: r.coef,
                }),
                output: winogradTransposeOutput.pack({
                  C: inC, outH: inH, outW: inW, tilesX, tilesPerSample: tps, P, n0, total: inC * P,
                  reluIn: r.reluIn, out: r.out, accumulate: r.accumulate,
                }),
              }));
              out.push({
                kernel: 'winograd_rel_input', layer: layer.name, pipeline: inPipe,
                bindings: winogradRelInput.bind({ p: u.input, x: s, bounds, v }),
                workgroups: grid1d(inTotal, WG, maxDim),
              });
              out.push(...pass.gemm.dispatches(P, v, pass.weight.buffer, prod, io.scratch, 'winograd_transpose_gemm'));
              out.push({
                kernel: 'winograd_transpose_output', layer: layer.name, pipeline: outPipe,
                bindings: winogradTransposeOutput.bind({ p: u.output, m: prod, x: io.inputs[0].buffer, bounds, r: io.relIn[0] }),
                workgroups: grid1d(inC * P, WG, maxDim),
              });
            }
          }
          return out;
        },
      };
    }
    return { denominators, redistribution, note: notes.length ? `Winograd ${notes.join(', ')}` : '', destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}

/**
 * The choice with each pass whose one sample's transformed tensors (V: segments x channels in,
 * M: channels out, alpha^2 floats per tile) or stacked transformed weight would pass one binding
 * set back to direct, as the forward pass does (winogradFits): a large plane runs, direct.
 */
export function fitting(
  choice: RelevanceWinograd, plan: LinearPlan, [inC, inH, inW]: Shape, [outC, outH, outW]: Shape, maxBinding: number,
): RelevanceWinograd {
  const check = (d: WinogradDecision, segs: number, K: number, N: number, H: number, W: number): WinogradDecision => {
    if (d.m === null || segs === 0) return d;
    const A2 = winogradMatrices(d.m).alpha ** 2;
    const { tilesY, tilesX } = winogradTiles(H, W, d.m);
    const tensors = 4 * A2 * tilesY * tilesX * Math.max(segs * K, N);
    const weight = 4 * A2 * Math.ceil((segs * K) / 32) * 32 * Math.ceil(N / 4) * 4;
    return tensors <= maxBinding && weight <= maxBinding ? d : { m: null, why: `F(${d.m},3)'s transformed weight or one sample's transformed tensors exceed a binding` };
  };
  const stabSegs = Math.max(0, ...plan.denominators.map((d) => (d.kind === 'stab' ? d.segs.length : 0)));
  const redSegs = Math.max(0, ...plan.redistributions.map((r) => r.segs.length));
  return {
    denominators: check(choice.denominators, stabSegs, inC, outC, outH, outW),
    redistribution: check(choice.redistribution, redSegs, outC, inC, inH, inW),
  };
}

/**
 * A convolution's relevance op under the model's conv mode (BackwardOpContext.forwardOptions):
 * the direct op (conv-backward.ts), with the passes winogradRelevanceChoice gives Winograd run
 * by createWinogradParts in their place; `passes` says which.
 */
export async function createConvRelevance(c: BackwardOpContext): Promise<BackwardOp> {
  const layer = c.layer as ConvLayer;
  const mode = c.forwardOptions?.conv ?? 'auto';
  const [, inH, inW] = c.inputs[0].shape;
  const [, outH, outW] = c.outShape;
  const choice = winogradRelevanceChoice(layer, inH * inW, outH * outW, mode, c.ctx.tuning, c.forwardOptions?.winogradTile);
  if (choice.denominators.m === null && choice.redistribution.m === null) return createConvBackward(c);
  const rule = c.rule as LinearRule | null;
  // Not a linear rule: the direct op says what is wrong.
  if (!rule || typeof rule !== 'object' || !('rule' in rule)) return createConvBackward(c);
  const plan = planLinearRule(rule, c.nonneg[0]);
  const parts = await createWinogradParts(c, plan, rule, fitting(choice, plan, c.inputs[0].shape, c.outShape, c.ctx.maxBinding));
  if (!parts.denominators && !parts.redistribution) {
    parts.destroy();
    return createConvBackward(c);
  }
  try {
    const op = await createConvBackward(c, { winograd: parts });
    return {
      ...op,
      passes: `${op.passes} (${parts.note})`,
      dispatches: (batch, io) => op.dispatches(batch, io),
      destroy() {
        op.destroy();
        parts.destroy();
      },
    };
  } catch (e) {
    parts.destroy();
    throw e;
  }
}
