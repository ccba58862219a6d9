import type { DenseLayer } from '../graph/ir.ts';
import { GpuError } from '../gpu/errors.ts';
import type { Dispatch } from '../gpu/context.ts';
import type { SharedBuffer, WeightStore } from '../gpu/weight-store.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ForwardOp, ForwardOpFactory } from './op.ts';
import type { InputInfo } from './tensor.ts';
import type { UniformsByBatch } from '../gpu/uniforms.ts';
import { dense } from '../kernels/forward.ts';
import { denseRows } from '../graph/kinds.ts';
import { createDenseGemm, usesRowGemm } from './dense-gemm.ts';

const ROWS = 4;
/** Samples per workgroup of the batched pipeline (the other takes one). */
const NB = 8;

/**
 * Rows per weight chunk: a dense weight larger than one binding (VGG-16's fc6, 411 MB, against
 * lavapipe's 128 MiB) is split by output rows into chunks that each fit.
 */
export function denseChunkRows(inF: number, outF: number, maxBinding: number): number {
  const rows = Math.floor(maxBinding / (4 * inF) / ROWS) * ROWS;
  if (rows < ROWS) throw new Error(`a weight row of ${inF} floats does not fit a ${maxBinding}-byte binding`);
  return Math.min(rows, outF);
}

/** Rows r0 .. r0 + rows of a [outF][inF] weight, each padded with zeros to inF4 vec4s. */
function paddedRows(weight: Float32Array, inF: number, r0: number, rows: number): Float32Array {
  const inF4 = Math.ceil(inF / 4);
  if (inF4 * 4 === inF) return weight.subarray(r0 * inF, (r0 + rows) * inF);
  const out = new Float32Array(rows * inF4 * 4);
  for (let r = 0; r < rows; r++) out.set(weight.subarray((r0 + r) * inF, (r0 + r + 1) * inF), r * inF4 * 4);
  return out;
}

/** One row chunk of a dense weight: rows r0 .. r0 + rows, each padded to inF4 vec4s. */
export interface DenseChunk {
  readonly r0: number;
  readonly rows: number;
  readonly weight: SharedBuffer;
}

/**
 * The layer's weight as row chunks that each fit one binding, rows padded with zeros to whole
 * vec4s, shared through the model's WeightStore: the forward kernel and the relevance kernels of
 * every explainer read the same copy.
 */
/**
 * `weight`/`key`: another [outF, inF] tensor in the same chunks (PatternAttribution's A * W),
 * named by `key`, built on the first chunk not held yet.
 */
export function acquireDenseChunks(
  ctx: GpuContext, weights: WeightStore, layer: DenseLayer, weight: () => Float32Array = () => layer.weight, key = '',
): DenseChunk[] {
  const { inFeatures: inF, outFeatures: outF } = layer;
  let chunkRows: number;
  try {
    // Rows padded to whole vec4s (a chunk of those must fit too).
    chunkRows = denseChunkRows(4 * Math.ceil(inF / 4), outF, ctx.maxBinding);
  } catch (e) {
    throw new GpuError((e as Error).message, 'limits', `dense for layer '${layer.name}'`);
  }
  const chunks: DenseChunk[] = [];
  let built: Float32Array | null = null;
  const source = () => (built ??= weight());
  for (let r0 = 0; r0 < outF; r0 += chunkRows) {
    const rows = Math.min(chunkRows, outF - r0);
    chunks.push({ r0, rows, weight: weights.acquire(layer.name, `dense rows ${r0}:${r0 + rows} vec4${key}`, () => paddedRows(source(), inF, r0, rows)) });
  }
  return chunks;
}

/**
 * Workgroups along the rows (N x the leading positions), NB rows each, checked against WebGPU's
 * 65,535 per dimension: over the last axis of a large token map the rows, not the batch, set it.
 */
export function denseRowGroups(layer: string, rows: number, nb: number): number {
  const groups = Math.ceil(rows / nb);
  if (groups > 65535) {
    throw new GpuError(`layer '${layer}': ${rows} rows (the batch times the positions before the last axis) need ${groups} workgroups of ${nb}, over the 65535 a dimension allows; use a smaller batch`, 'limits', `dense for layer '${layer}'`);
  }
  return groups;
}

/**
 * Over the last axis, every position of the input's leading axes is one more row: the kernels see
 * a batch of N x rows flat samples (a flat input has one row per sample). Many rows per sample
 * run as the convolution GEMM (dense-gemm.ts); a few (a classifier head) here.
 */
export const createDense: ForwardOpFactory<DenseLayer> = async (ctx, layer, inputs, _outShape, weights) => {
  const perSample = denseRows(inputs[0].shape);
  if (usesRowGemm(layer, perSample, ctx.maxBinding)) return createDenseGemm(ctx, layer, inputs[0], perSample, weights);
  return createDenseRowKernels(ctx, layer, inputs[0], perSample, weights);
};

/** The few-row kernels (dense.wgsl), for any row count (bench/dense-rows.ts compares them with the GEMM). */
export async function createDenseRowKernels(
  ctx: GpuContext, layer: DenseLayer, input: InputInfo, perSample: number, weights: WeightStore,
): Promise<ForwardOp> {
  const { inFeatures: inF, outFeatures: outF } = layer;
  const inF4 = Math.ceil(inF / 4);
  // One sample per workgroup for batch 1 (each weight read once, no idle accumulators), eight
  // for larger batches (each weight read once per eight samples).
  const [single, batched] = await Promise.all([1, NB].map((nb) => dense.pipeline(ctx, { NB: nb })));
  const chunks = acquireDenseChunks(ctx, weights, layer).map(({ r0, rows, weight }) => {
    const tag = rows < outF ? `[${r0}:${r0 + rows}]` : '';
    return {
      rows,
      weight,
      bias: ctx.upload(layer.bias.subarray(r0, r0 + rows), `${layer.name}.bias${tag}`),
      uniforms: dense.uniformsByBatch(ctx, `${layer.name}${tag}`, (batch) => ({
        batch, inF, rows, rowOffset: r0, outF, inF4, reluIn: input.relu ? 1 : 0,
      })),
    };
  });
  return {
    layer,
    dispatches(samples, [x], out) {
      const batch = samples * perSample;
      const nb = batch === 1 ? 1 : NB;
      return chunks.map((c): Dispatch => ({
        kernel: 'dense', layer: layer.name, pipeline: nb === 1 ? single : batched,
        bindings: dense.bind({ p: c.uniforms.get(batch), x: x.buffer, w: c.weight.buffer, bias: c.bias, y: out }),
        workgroups: [Math.ceil(c.rows / ROWS), denseRowGroups(layer.name, batch, nb), 1],
        flops: 2 * batch * inF * c.rows,
        bytes: 4 * (c.rows * inF + batch * (inF + c.rows)),
      }));
    },
    destroy() {
      for (const c of chunks) {
        c.weight.release();
        c.bias.destroy();
        c.uniforms.destroy();
      }
    },
  };
}
