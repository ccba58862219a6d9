import type { DenseLayer } from '../graph/ir.ts';
import { GpuError } from '../gpu/errors.ts';
import type { Dispatch } from '../gpu/context.ts';
import type { ForwardOpFactory } from './op.ts';
import { UniformsByBatch } from './op.ts';

const ROWS = 4;
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

export const createDense: ForwardOpFactory<DenseLayer> = async (ctx, layer, inputs) => {
  const [input] = inputs;
  const { inFeatures: inF, outFeatures: outF } = layer;
  const where = `dense for layer '${layer.name}'`;
  let chunkRows: number;
  try {
    chunkRows = denseChunkRows(inF, outF, ctx.maxBinding);
  } catch (e) {
    throw new GpuError((e as Error).message, 'limits', where);
  }
  const pipeline = await ctx.pipelines.get('forward/dense.wgsl', { RELU_IN: input.relu });
  const chunks: { weight: GPUBuffer; bias: GPUBuffer; rows: number; uniforms: UniformsByBatch }[] = [];
  for (let r0 = 0; r0 < outF; r0 += chunkRows) {
    const rows = Math.min(chunkRows, outF - r0);
    const tag = chunkRows < outF ? `[${r0}:${r0 + rows}]` : '';
    chunks.push({
      rows,
      weight: ctx.upload(layer.weight.subarray(r0 * inF, (r0 + rows) * inF), `${layer.name}.weight${tag}`),
      bias: ctx.upload(layer.bias.subarray(r0, r0 + rows), `${layer.name}.bias${tag}`),
      uniforms: new UniformsByBatch(ctx, `${layer.name}${tag}`, (batch) => Uint32Array.of(batch, inF, rows, r0, outF, 0, 0, 0)),
    });
  }
  return {
    layer,
    dispatches(batch, [x], out) {
      return chunks.map((c): Dispatch => ({
        kernel: 'dense', layer: layer.name, pipeline,
        bindings: [c.uniforms.get(batch), x.buffer, c.weight, c.bias, out],
        workgroups: [Math.ceil(c.rows / ROWS), Math.ceil(batch / NB), 1],
        flops: 2 * batch * inF * c.rows,
        bytes: 4 * (c.rows * inF + batch * (inF + c.rows)),
      }));
    },
    destroy() {
      for (const c of chunks) {
        c.weight.destroy();
        c.bias.destroy();
        c.uniforms.destroy();
      }
    },
  };
};
