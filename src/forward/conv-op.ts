/**
 * The forward op of a convolution layer: direct (src/forward/conv.ts) or Winograd
 * (src/forward/conv-winograd.ts), by the model's conv mode and winogradChoice; a depthwise layer
 * by its own direct kernel (src/forward/depthwise.ts) in every mode.
 */
import type { ConvLayer } from '../graph/ir.ts';
import type { ForwardOpFactory } from './op.ts';
import { createConvWith } from './conv.ts';
import { createWinogradConv, winogradFits } from './conv-winograd.ts';
import { CONV_MODES, winogradChoice } from './winograd.ts';
import { createDepthwiseConv, depthwiseBlocker, isDepthwise } from './depthwise.ts';

/**
 * A convolution's op under the model's conv mode: Winograd where winogradChoice picks it and one
 * sample's transformed tensors fit a binding, direct otherwise; `method` says which and why.
 */
export const createConv: ForwardOpFactory<ConvLayer> = async (ctx, layer, inputs, outShape, weights, options) => {
  const [, outH, outW] = outShape;
  const mode = options.conv ?? 'auto';
  if (!CONV_MODES.includes(mode)) throw new Error(`layer '${layer.name}': conv mode ${JSON.stringify(mode)} is not one of ${CONV_MODES.join(', ')}`);
  if (isDepthwise(layer)) {
    const why = depthwiseBlocker(layer);
    if (why === null) return { ...(await createDepthwiseConv(ctx, layer, inputs[0], outShape, { weights })), method: 'depthwise' };
    const op = await createConvWith(ctx, layer, inputs[0], outShape, { weights });
    return { ...op, method: `direct (depthwise, but ${why})` };
  }
  let choice = winogradChoice(layer, outH * outW, mode, ctx.tuning, options.winogradTile);
  if (choice.m !== null && !winogradFits(layer, outH, outW, choice.m, ctx.maxBinding)) {
    choice = { m: null, why: `F(${choice.m},3)'s transformed weight or one sample's transformed tensors exceed a binding` };
  }
  if (choice.m !== null) {
    const op = await createWinogradConv(ctx, layer, inputs[0], outShape, { weights, m: choice.m });
    return { ...op, method: `winograd F(${choice.m},3)` };
  }
  const op = await createConvWith(ctx, layer, inputs[0], outShape, { weights });
  return { ...op, method: `direct (${choice.why})` };
};
