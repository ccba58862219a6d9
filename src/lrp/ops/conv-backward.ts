/**
 * Relevance through a convolution: a rule's plan (rules.ts) bound to conv_stab (denominator
 * GEMMs), stab_divide (z and epsilon), conv_transpose (the redistribution, one dispatch per stride
 * phase) and, where a layer leaves a GPU idle, their split-K finishing passes.
 *
 * Both GEMMs are the forward convolution's kernel with other loads and epilogues, and take their
 * tiles from the same choice (convTile: CPU and GPU families), so they run at its rate. The
 * denominators read the forward pass's own weight copy (same tile, same depth, same layout: one
 * buffer in the model's WeightStore); the transposed layout is one more copy per model, shared by
 * every explainer. Only modified biases and zbox bounds are this op's own.
 *
 * A thin layer (groups 1, at most 4 input channels: an image's 3; see usesColumns) redistributes
 * by "columns" instead: its transposed GEMM would have the input channels as its only columns (3
 * FMAs per gathered value, 5 to 6 times the forward's time on VGG-16's first layer), so it runs
 * a 1x1 GEMM of s with the weight as [outC][inC * KH * KW] (K = outC deep, inC * KH * KW
 * columns: 27 for 3x3, 147 for ResNet's 7x7 stem) into a scratch of per-position columns, then
 * conv_col2im.wgsl sums each input's taps and applies the rule's input factor. Any stride, pad
 * and dilation. The columns run a chunk of input channels at a time (columnChunk), so that their
 * scratch (chunk * KH * KW values per output position, one buffer for every chunk) is no larger
 * than the layer's output: ResNet-50's 7x7 stem runs three GEMMs of 49 columns, each followed by
 * its channel's col2im.
 */
import type { Dispatch } from '../../gpu/context.ts';
import { GpuError } from '../../gpu/errors.ts';
import { gemmVariant } from '../../gpu/subgroups.ts';
import type { ConvLayer } from '../../graph/ir.ts';
import {
  acquireConvWeight, convSplit, convTile, convWeightShape, defaultFill, tileFamily, tileFits, withDepth, type ConvTile, type TileFamily,
} from '../../forward/conv.ts';
import { grid1d, tileGrid } from '../../gpu/grid.ts';
import { convCol2im, convStab, convStabSum, convTranspose, convTransposeSum } from '../../kernels/linear-relevance.ts';
import type { BackwardIO, BackwardOp, BackwardOpContext } from '../backward-op.ts';
import { describePlan, modifyBias, type RedistributePass, type StabPass } from '../rules.ts';
import { axisPhases, convPhases, transposedKey, transposedLayout, type ConvPhase } from './conv-phases.ts';
import {
  boundsData, checkAccumulate, common, divideDispatches, relevanceWeight, sBuffer, stabRule, transposeRule,
} from './linear-plan.ts';
import { OpResources } from './op-resources.ts';

export interface ConvBackwardOptions {
  /** Tiles instead of convTile's choice (bench/conv-tiles.ts sweeps them). */
  readonly stabTile?: ConvTile;
  readonly transposeTile?: ConvTile;
  /** Output tiles below which a reduction is split; 0 never splits. Default: by ctx.tuning. */
  readonly fillWorkgroups?: number;
  /**
   * How the redistribution runs: `transposed` (per stride phase), `columns` (a 1x1 GEMM and a
   * col2im sum; groups 1 only), or `auto` (default): columns where usesColumns says.
   */
  readonly redistribution?: 'auto' | 'transposed' | 'columns';
  /** Passes that run Winograd instead (src/lrp/ops/winograd-relevance.ts): this op runs the rest. */
  readonly winograd?: { readonly denominators: PassInPlace | null; readonly redistribution: PassInPlace | null };
}

/** A pass another kernel family runs in this op's place (Winograd's denominators or redistribution). */
export interface PassInPlace {
  /** The dispatches for one batch; `s` is the op's s buffer (written by the denominators, read by the redistribution). */
  dispatches(batch: number, io: BackwardIO, s: GPUBuffer): Dispatch[];
}

/**
 * Whether `auto` redistributes a layer by columns (see the file header): groups 1, at most 4
 * input channels, and no more taps (KH x KW) than output channels, so that the columns, taken a
 * chunk of input channels at a time (columnChunk), are never more than the layer's output and
 * never lower the batch a relevance pass takes (VGG-16's first layer: 27 columns for 64 channels,
 * one chunk; ResNet-50's 7x7 stem: 147 columns for 64 channels, three chunks of 49).
 */
export function usesColumns(layer: ConvLayer): boolean {
  return layer.groups === 1 && layer.inChannels <= 4 && layer.kernel[0] * layer.kernel[1] <= layer.outChannels;
}

/**
 * Input channels per chunk of the columns redistribution: as many as have no more columns than
 * the layer has output channels (at least one; all of them where they fit). On ResNet-50's stem
 * at batch 1 the three chunks of 49 columns ran its redistribution 5.3 times faster than the
 * transposed pass did (bench/RESULTS.md).
 */
export function columnChunk(layer: ConvLayer): number {
  return Math.min(layer.inChannels, Math.max(1, Math.floor(layer.outChannels / (layer.kernel[0] * layer.kernel[1]))));
}

const SUM_WG = 256;

const tileSize = (t: ConvTile) => ({ BM: 4 * t.PQ * t.TX, BN: t.TN * t.TY });

function checkTile(t: ConvTile, what: string, layer: string): ConvTile {
  if (!tileFits(t)) throw new Error(`layer '${layer}': ${what} tile ${JSON.stringify(t)} does not fit the kernel`);
  return t;
}

/**
 * The redistribution's tile. On CPU adapters for 64 input channels or more, 32 channels per
 * thread and as many threads along the channels as fill them (up to 8): with the plain kernels 2
 * quads, with the subgroups variant 4. Plain, at batch 1 on VGG-16 (bench/conv-tiles.ts --kernel
 * transpose --family cpu) 2 x 32 ran the transposed passes 13 to 35% faster than convTile's 4
 * quads x 16 (features.5, 64 channels: 328 against 441 ms; .12: 484 against 563; .19: 540 against
 * 612; .26: 191 against 213) and even on .7 (553 against 545). With the variant 4 x 32 beat 2 x 32
 * (features.5: 245 against 259 ms; .12: 297 against 354; .19: 314 against 336), and it compiles
 * in about 5 s cold at width 128, as the plain 4 x 16 did. Elsewhere, and on GPUs, the forward's choice. The
 * forward convolution and the denominators keep convTile's tile: it was the best or within 4%
 * for them, and the denominators share the forward pass's weight copy, whose layout its depth
 * fixes. `rows`: the GEMM's rows per sample (the largest phase's input pixels), which cap the
 * block's height, so that a small plane at batch 1 is not mostly padding.
 */
export function transposedTile(K: number, N: number, family: TileFamily, rows = Infinity): ConvTile {
  if (family === 'gpu' || N < 64) return convTile(K, N, family);
  let TY = 2;
  while (TY < 8 && TY * 32 < N) TY *= 2;
  let PQ = family === 'cpu-subgroups' ? 4 : 2;
  // A block taller than the rows (rounded to whole SIMD quads, 32) only multiplies padding:
  // ResNet-50's 7x7 planes (49 rows) ran in blocks of 128, 38% of it real work. And where one
  // block holds the whole plane, the n-tiles are all the workgroups there are: half as many
  // threads along n doubles them and deepens the step (BK 16 instead of 8 to 12). On ResNet-50's
  // layer4 at batch 1 (bench/conv-tiles.ts, load 22; bench/RESULTS.md) 2 quads x 4 rows of
  // threads ran each transposed pass 1.3 to 3.1 times faster than 4 x 8 (layer4.1.conv3: 26.6
  // against 83.6 ms), 1.07 to 1.7 times faster than 2 x 8.
  // A short reduction over a small plane (ResNet's 1x1 layers at 28x28 and 14x14: K = output
  // channels, 256 to 1024; a grid of few blocks along m) also ran faster with at most 4 rows
  // (BK 16): layer3.1.conv1 (K 256) 29.9 against 53.0 ms, layer2.0.downsample.0 (512) 110 against
  // 130, layer3.1.conv3 (1024) 32.4 against 33.4. VGG-16's 3x3 layers (K 2304 and 4608) lost 3
  // to 9% with it, and so did ResNet's 56x56 1x1 layers (layer2.0.conv1: 96 against 76 ms).
  while (PQ > 1 && 4 * PQ * 8 > Math.ceil(rows / 32) * 32) PQ /= 2;
  if (rows <= 4 * PQ * 8) TY = Math.max(2, TY / 2);
  else if (K <= 1024 && rows <= 1024) TY = Math.min(TY, 4);
  return withDepth(K, { TX: 8, TY, PQ, TN: 32 });
}

export async function createConvBackward(c: BackwardOpContext, opts: ConvBackwardOptions = {}): Promise<BackwardOp> {
  const layer = c.layer as ConvLayer;
  const { ctx } = c;
  const gemm = await gemmVariant(ctx);
  const family = tileFamily(ctx, gemm);
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const input = c.inputs[0];
  const [inC, inH, inW] = input.shape;
  const [outC, outH, outW] = c.outShape;
  const { groups, kernel, stride, pads, dilation } = layer;
  const cinPG = inC / groups;
  const coutPG = outC / groups;
  const outPlane = outH * outW;
  const inPlane = inH * inW;
  const fill = opts.fillWorkgroups ?? defaultFill(ctx);
  const cm = await common(c, outC * outPlane);
  const { plan, rule } = cm;

  // Everything this op holds, given back by destroy() (or at once if building fails).
  const res = new OpResources();
  const { own, held, destroy } = res;
  held(cm.divideUniforms);

  try {
    const bounds = own(ctx.upload(boundsData(rule, 1, inC), `${layer.name} zbox bounds`));

    // ---- Denominators: the forward GEMM with modified inputs and weights. ----
    const wino = opts.winograd;
    const stabDefs = wino?.denominators ? [] : plan.denominators.filter((d): d is StabPass => d.kind === 'stab');
    const redistributions = wino?.redistribution ? [] : plan.redistributions;
    const sTile = checkTile(opts.stabTile ?? convTile(cinPG * kernel[0] * kernel[1], coutPG, family), 'denominator', layer.name);
    const sShape = convWeightShape(layer, sTile.BK);
    const sSize = tileSize(sTile);
    const sWeight = stabDefs.length ? acquireConvWeight(ctx, c.weights, layer, sTile.BK) : null;
    if (sWeight) res.share(sWeight);
    const stabSplit = (batch: number, segs: number) => convSplit(
      Math.ceil(coutPG / sSize.BN) * Math.ceil((batch * outPlane) / sSize.BM) * groups,
      segs * sShape.Kpad, sTile.BK, 4 * batch * outC * outPlane, ctx.maxBinding, fill,
    );
    const stabs = await Promise.all(stabDefs.map(async (d, i) => {
      const constants = { KH: kernel[0], KW: kernel[1], ...sTile, ...gemm.constants };
      // Batch 1 has the fewest output tiles: if it does not split, no batch does.
      const maySplit = stabSplit(1, d.segs.length).splits > 1;
      return {
        d,
        bias: own(ctx.upload(modifyBias(layer.bias, d.bias, plan.gamma), `${layer.name} bias (${d.bias})`)),
        pipeline: await convStab.pipeline(ctx, { ...constants, SPLIT: false }, gemm.variant),
        split: maySplit ? {
          pipeline: await convStab.pipeline(ctx, { ...constants, SPLIT: true }, gemm.variant),
          sum: await convStabSum.pipeline(ctx, { WG: SUM_WG }),
        } : null,
        uniforms: held(convStab.uniformsByBatch(ctx, `${layer.name} stab ${i}`, (batch) => {
          const { splits, kChunk } = stabSplit(batch, d.segs.length);
          return {
            batch, inC, inH, inW, outC, outH, outW, groups,
            strideH: stride[0], strideW: stride[1], padT: pads[0], padL: pads[1], dilH: dilation[0], dilW: dilation[1],
            cinPerGroup: cinPG, coutPerGroup: coutPG, K: sShape.K, Kpad: sShape.Kpad, Npad: sShape.Npad, M: batch * outPlane,
            eps: plan.eps, gamma: plan.gamma, sliceLen: batch * outC * outPlane, outSlice: d.slice,
            splits, kChunk, splitStride: batch * outC * outPlane, ...stabRule(d, input.relu),
          };
        })),
        sumUniforms: held(convStabSum.uniformsByBatch(ctx, `${layer.name} stab ${i} split sum`, (batch) => ({
          total: batch * outC * outPlane, splits: stabSplit(batch, d.segs.length).splits, plane: outPlane, channels: outC,
          eps: plan.eps, gamma: plan.gamma, sliceLen: batch * outC * outPlane, outSlice: d.slice, mode: d.mode, gate: d.gate,
        }))),
      };
    }));

    const mode = opts.redistribution ?? 'auto';
    if (mode === 'columns' && groups !== 1) throw new Error(`layer '${layer.name}': the columns redistribution takes groups 1, not ${groups}`);
    const columns = redistributions.length > 0 && (mode === 'columns' || (mode === 'auto' && usesColumns(layer)));

    // ---- Redistribution by columns: a 1x1 GEMM of s into per-position columns, then col2im. ----
    const cols = columns ? await (async () => {
      const taps = kernel[0] * kernel[1];
      // Input channels per chunk: as many as keep the columns within the layer's output (see columnChunk).
      const per = columnChunk(layer);
      const chunks = Array.from({ length: Math.ceil(inC / per) }, (_, k) => ({ c0: k * per, cN: Math.min(per, inC - k * per) }));
      const CC = per * taps;
      const cTile = checkTile(opts.transposeTile ?? transposedTile(outC, CC, family, outPlane), 'columns', layer.name);
      // Per chunk, the GEMM is conv_transpose over a 1x1 layer from cN * taps "channels" to outC on
      // the output grid: its weight [outC][cN * taps][1][1] is the forward's [outC][c0 .. c0 + cN][KH][KW].
      const gemmLayer = (cN: number): ConvLayer => ({
        ...layer, inChannels: cN * taps, kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1,
      });
      const [ph] = convPhases(gemmLayer(per), outH, outW, cTile.BK);
      const rw = relevanceWeight(layer, rule);
      // The chunks' layouts one after another: wOffset (vec4s) says where each starts.
      const offsets: number[] = [];
      const weight = c.weights.acquire(layer.name, `columns ${per}/${inC} ${transposedKey([ph], cTile.BK)}${rw.key}`, () => {
        const w = rw.weight();
        const parts = chunks.map(({ c0, cN }) => {
          const sub = new Float32Array(outC * cN * taps);
          for (let o = 0; o < outC; o++) sub.set(w.subarray((o * inC + c0) * taps, (o * inC + c0 + cN) * taps), o * cN * taps);
          return transposedLayout(gemmLayer(cN), [ph], cTile.BK, sub);
        });
        const data = new Float32Array(parts.reduce((n, d) => n + d.length, 0));
        parts.reduce((at, d) => { data.set(d, at); return at + d.length; }, 0);
        if (data.byteLength > ctx.maxBinding) {
          throw new GpuError(`column weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', `conv_transpose for layer '${layer.name}'`);
        }
        return data;
      });
      res.share(weight);
      chunks.reduce((at, { cN }) => { offsets.push(at); return at + (ph.Kpad * Math.ceil((cN * taps) / 4) * 4) / 4; }, 0);
      const constants = { ...cTile, ...gemm.constants, NTY: 1, NTX: 1, SPLIT: false };
      const pipeline = await convTranspose.pipeline(ctx, constants, gemm.variant);
      const col2im = await convCol2im.pipeline(ctx, { WG: SUM_WG });
      const passes = redistributions.flatMap((r: RedistributePass, i) => {
        const acc = i > 0 || c.accumulate[0];
        const raw = transposeRule(r, false, false);
        return chunks.map(({ c0, cN }, k) => ({
          r, cN,
          gemm: held(convTranspose.uniformsByBatch(ctx, `${layer.name} columns ${i}.${k}`, (batch) => ({
            batch, sC: outC, sH: outH, sW: outW, inC: cN * taps, Hp: outH, Wp: outW, groups: 1,
            padY: 0, padX: 0, dY: 0, dX: 0, cinPerGroup: cN * taps, coutPerGroup: outC, K: ph.K, Kpad: ph.Kpad,
            Npad: Math.ceil((cN * taps) / 4) * 4, M: batch * outPlane, wOffset: offsets[k], sliceLen: batch * outC * outPlane,
            py: 0, px: 0, strideH: 1, strideW: 1, inH: outH, inW: outW, gamma: plan.gamma,
            splits: 1, kChunk: r.segs.length * ph.Kpad, splitStride: 0,
            // Raw sums (factor 1, overwrite): the input factor is col2im's.
            ...raw, out: 3,
          }))),
          sum: held(convCol2im.uniformsByBatch(ctx, `${layer.name} col2im ${i}.${k}`, (batch) => ({
            total: batch * cN * inPlane, inC, inH, inW, outH, outW, KH: kernel[0], KW: kernel[1],
            strideH: stride[0], strideW: stride[1], padT: pads[0], padL: pads[1], dilH: dilation[0], dilW: dilation[1],
            reluIn: transposeRule(r, input.relu, acc).reluIn, out: r.out, accumulate: acc ? 1 : 0, c0, cN,
          }))),
        }));
      });
      return { CC, tile: cTile, weight, pipeline, col2im, passes, perSample: 4 * CC * outPlane };
    })() : null;

    // ---- Redistribution: per stride phase, a stride-1 convolution over s (conv-phases.ts). ----
    // The tile is chosen for the largest phase (all of the layer for stride 1).
    const phY = axisPhases(inH, kernel[0], stride[0], pads[0], dilation[0]);
    const phX = axisPhases(inW, kernel[1], stride[1], pads[1], dilation[1]);
    const maxK = coutPG * Math.max(...phY.map((p) => p.taps)) * Math.max(...phX.map((p) => p.taps));
    const maxPixels = Math.max(...phY.map((p) => p.count)) * Math.max(...phX.map((p) => p.count));
    const tTile = checkTile(opts.transposeTile ?? transposedTile(Math.max(maxK, 1), cinPG, family, maxPixels), 'transposed', layer.name);
    const tSize = tileSize(tTile);
    const phases = convPhases(layer, inH, inW, tTile.BK);
    const rw = relevanceWeight(layer, rule);
    const tWeight = columns || !redistributions.length ? null : c.weights.acquire(layer.name, transposedKey(phases, tTile.BK) + rw.key, () => {
      const data = transposedLayout(layer, phases, tTile.BK, rw.weight());
      if (data.byteLength > ctx.maxBinding) {
        throw new GpuError(`transposed weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', `conv_transpose for layer '${layer.name}'`);
      }
      return data;
    });
    if (tWeight) res.share(tWeight);
    const tNpad = Math.ceil(cinPG / 4) * 4;
    // Split K only where one phase covers every input (its partial sums then cover R exactly).
    const transposeSplit = (batch: number, segs: number, ph: ConvPhase) => (phases.length === 1
      ? convSplit(
        Math.ceil(cinPG / tSize.BN) * Math.ceil((batch * ph.pixels) / tSize.BM) * groups,
        segs * ph.Kpad, tTile.BK, 4 * batch * inC * inPlane, ctx.maxBinding, fill,
      )
      : { splits: 1, kChunk: segs * ph.Kpad });
    const phaseWork = phases.reduce((a, ph) => a + ph.pixels * ph.K, 0);
    const reds = columns ? [] : await Promise.all(redistributions.map(async (r: RedistributePass, i) => {
      const segs = r.segs.length;
      // The phases write disjoint pixels: each overwrites or accumulates as the whole pass does.
      const acc = i > 0 || c.accumulate[0];
      const rule = transposeRule(r, input.relu, acc);
      return {
        r,
        phases: await Promise.all(phases.map(async (ph, k) => {
          const constants = { ...tTile, ...gemm.constants, NTY: Math.max(1, ph.cy.taps), NTX: Math.max(1, ph.cx.taps) };
          const maySplit = transposeSplit(1, segs, ph).splits > 1;
          return {
            ph,
            pipeline: await convTranspose.pipeline(ctx, { ...constants, SPLIT: false }, gemm.variant),
            split: maySplit ? {
              pipeline: await convTranspose.pipeline(ctx, { ...constants, SPLIT: true }, gemm.variant),
              sum: await convTransposeSum.pipeline(ctx, { WG: SUM_WG }),
            } : null,
            uniforms: held(convTranspose.uniformsByBatch(ctx, `${layer.name} transpose ${i} phase ${k}`, (batch) => {
              const { splits, kChunk } = transposeSplit(batch, segs, ph);
              return {
                batch, sC: outC, sH: outH, sW: outW, inC, Hp: ph.y.count, Wp: ph.x.count, groups,
                padY: ph.cy.pad, padX: ph.cx.pad, dY: ph.cy.dil, dX: ph.cx.dil,
                cinPerGroup: cinPG, coutPerGroup: coutPG, K: ph.K, Kpad: ph.Kpad,
                Npad: tNpad, M: batch * ph.pixels, wOffset: ph.wOffset, sliceLen: batch * outC * outPlane,
                py: ph.y.start, px: ph.x.start, strideH: stride[0], strideW: stride[1],
                inH, inW, gamma: plan.gamma, splits, kChunk, splitStride: batch * inC * inPlane, ...rule,
              };
            })),
            sumUniforms: held(convTransposeSum.uniformsByBatch(ctx, `${layer.name} transpose ${i} split sum`, (batch) => ({
              total: batch * inC * inPlane, splits: transposeSplit(batch, segs, ph).splits, plane: inPlane, inC,
              reluIn: rule.reluIn, out: rule.out, accumulate: rule.accumulate,
            }))),
          };
        })),
      };
    }));

    const macs = (batch: number) => batch * outPlane * outC * cinPG * kernel[0] * kernel[1];
    return {
      layer,
      passes: describePlan(plan),
      scratchPerSample: Math.max(cm.scratchPerSample, cols?.perSample ?? 0),
      dispatches(batch, io) {
        const out: Dispatch[] = [];
        const s = sBuffer(cm, batch, io, `${layer.name} s`);
        const x = io.inputs[0].buffer;
        const z = io.output.buffer;
        const M = batch * outPlane;
        const total = batch * outC * outPlane;
        out.push(...divideDispatches(cm, layer.name, batch, io, s));
        for (const st of stabs) {
          const { splits } = stabSplit(batch, st.d.segs.length);
          const nTiles = Math.ceil(coutPG / sSize.BN);
          const mTiles = Math.ceil(M / sSize.BM);
          const flops = 2 * macs(batch) * st.d.segs.length;
          if (splits === 1) {
            out.push({
              kernel: 'conv_stab', layer: layer.name, pipeline: st.pipeline,
              bindings: convStab.bind({ p: st.uniforms.get(batch), x, w: sWeight!.buffer, bias: st.bias, rel: io.relOut, z, bounds, s }),
              workgroups: tileGrid(nTiles, mTiles, groups, maxDim), flops,
            });
          } else {
            const part = io.scratch(4 * splits * total, `${layer.name} denominator partial sums`);
            out.push({
              kernel: 'conv_stab', layer: layer.name, pipeline: st.split!.pipeline,
              bindings: convStab.bind({ p: st.uniforms.get(batch), x, w: sWeight!.buffer, bias: st.bias, rel: io.relOut, z, bounds, s: part }),
              workgroups: tileGrid(nTiles, mTiles, groups * splits, maxDim), flops,
            }, {
              kernel: 'conv_stab_sum', layer: layer.name, pipeline: st.split!.sum,
              bindings: convStabSum.bind({ p: st.sumUniforms.get(batch), part, bias: st.bias, rel: io.relOut, z, s }),
              workgroups: grid1d(total, SUM_WG),
            });
          }
        }
        if (wino?.denominators) out.push(...wino.denominators.dispatches(batch, io, s));
        checkAccumulate(c, io);
        if (cols) {
          // One scratch for every chunk: each chunk's col2im reads its columns before the next GEMM runs.
          const colBuf = io.scratch(4 * batch * cols.CC * outPlane, `${layer.name} redistribution columns`);
          const cSize = tileSize(cols.tile);
          for (const cp of cols.passes) {
            out.push({
              kernel: 'conv_transpose', layer: layer.name, pipeline: cols.pipeline,
              bindings: convTranspose.bind({ p: cp.gemm.get(batch), s, w: cols.weight.buffer, x, bounds, r: colBuf }),
              workgroups: tileGrid(Math.ceil((cp.cN * kernel[0] * kernel[1]) / cSize.BN), Math.ceil(M / cSize.BM), 1, maxDim),
              flops: (2 * macs(batch) * cp.r.segs.length * cp.cN) / inC,
            }, {
              kernel: 'conv_col2im', layer: layer.name, pipeline: cols.col2im,
              bindings: convCol2im.bind({ p: cp.sum.get(batch), cols: colBuf, x, bounds, r: io.relIn[0] }),
              workgroups: grid1d(batch * cp.cN * inPlane, SUM_WG),
            });
          }
        }
        for (const rd of reds) {
          for (const p of rd.phases) {
            const { splits } = transposeSplit(batch, rd.r.segs.length, p.ph);
            const nTiles = Math.ceil(cinPG / tSize.BN);
            const mTiles = Math.ceil((batch * p.ph.pixels) / tSize.BM);
            const flops = (2 * macs(batch) * rd.r.segs.length * p.ph.pixels * p.ph.K) / Math.max(phaseWork, 1);
            if (splits === 1) {
              out.push({
                kernel: 'conv_transpose', layer: layer.name, pipeline: p.pipeline,
                bindings: convTranspose.bind({ p: p.uniforms.get(batch), s, w: tWeight!.buffer, x, bounds, r: io.relIn[0] }),
                workgroups: tileGrid(nTiles, mTiles, groups, maxDim), flops,
              });
            } else {
              const part = io.scratch(4 * splits * batch * inC * inPlane, `${layer.name} redistribution partial sums`);
              out.push({
                kernel: 'conv_transpose', layer: layer.name, pipeline: p.split!.pipeline,
                bindings: convTranspose.bind({ p: p.uniforms.get(batch), s, w: tWeight!.buffer, x, bounds, r: part }),
                workgroups: tileGrid(nTiles, mTiles, groups * splits, maxDim), flops,
              }, {
                kernel: 'conv_transpose_sum', layer: layer.name, pipeline: p.split!.sum,
                bindings: convTransposeSum.bind({ p: p.sumUniforms.get(batch), part, x, bounds, r: io.relIn[0] }),
                workgroups: grid1d(batch * inC * inPlane, SUM_WG),
              });
            }
          }
        }
        if (wino?.redistribution) out.push(...wino.redistribution.dispatches(batch, io, s));
        return out;
      },
      destroy,
    };
  } catch (e) {
    destroy();
    throw e;
  }
}
