"""Exports torchvision classifiers with random weights to ONNX, as a user exports them, with
PyTorch's own logits for a seeded input: for test/torchvision.test.ts, test/torchvision-modern.test.ts,
scripts/verify-torchvision.ts and the by-hand checks in README.md.

usage: /usr/bin/python3 scripts/export-torchvision.py [--out DIR] [--size PX] [--opset N] [--seed N] NAME[,NAME...] ...

Each NAME is a torchvision.models constructor (resnet50, mobilenet_v2, densenet121, efficientnet_b0,
mobilenet_v3_small, regnet_y_400mf, shufflenet_v2_x0_5, googlenet, convnext_tiny, vit_b_16, ...).
Writes, per NAME:
  DIR/NAME.onnx           torch.onnx.export, input 'input', output 'logits', dynamic batch axis
  DIR/NAME.input.npy      the seeded input, 2 x 3 x PX x PX, float32
  DIR/NAME.logits32.npy   PyTorch's float32 logits in eval mode
  DIR/NAME.logits.npy     the same model in float64 (its distance to logits32 is what float32
                          itself costs on this model: a tolerance that knows the model)
and prints 'NAME PARAMS' per model.

Decisions:
- --opset defaults to what this torch.onnx.export writes when none is given (14 for torch 1.13),
  as a user who gives none gets: all seven of issue 23 export there (ConvNeXt's and ViT's
  LayerNorm as ReduceMean/Sub/Pow/Sqrt/Div, GELU through Erf; --opset 17 gives the
  LayerNormalization operator instead).
- Weights are torchvision's random initialisation (torch.manual_seed(SEED) before each model, so
  one model's weights do not depend on which others were exported before it). Every BatchNorm
  gets a random scale U(0.5, 1.5) and shift N(0, 0.1^2), and running statistics measured on random
  inputs in training mode (as training would leave them): torchvision's initialisation alone
  shrinks a signal by orders of magnitude through depthwise stacks, and statistics that do not
  match the activations leave every image with the same logits. LayerNorm's affine parameters get
  the same random scale and shift (torchvision initialises them to the identity, which would hide
  a wrong scale or shift). A Linear initialised to zeros (the ViTs' head: every logit 0, and no
  relevance to explain) gets torch's default Linear initialisation. The folded BatchNorms (by the exporter, or by the canonizer where it
  cannot) then show in the logits.
- Models that take their input size at construction (the vision transformers: image_size=) get
  --size; the convolutional ones take any size through their adaptive pooling.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchvision

# Constructors that fix the input size at construction.
TAKES_IMAGE_SIZE = ('vit_',)


def default_opset():
    try:
        from torch.onnx._constants import ONNX_DEFAULT_OPSET
        return ONNX_DEFAULT_OPSET
    except ImportError:
        from torch.onnx.symbolic_helper import _default_onnx_opset_version
        return _default_onnx_opset_version


def is_constructor(name):
    return not name.startswith('_') and callable(getattr(torchvision.models, name, None))


def build(name, size):
    ctor = getattr(torchvision.models, name)
    kwargs = {'image_size': size} if name.startswith(TAKES_IMAGE_SIZE) else {}
    return ctor(weights=None, **kwargs)


def calibrate(model, size):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the calibration batches
            elif isinstance(m, torch.nn.LayerNorm) and m.elementwise_affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
            elif isinstance(m, torch.nn.Linear) and not m.weight.any():
                m.reset_parameters()
        model.train()
        for _ in range(4):
            model(torch.randn(8, 3, size, size))
    model.eval()


def export(name, out_dir, size, opset, seed):
    torch.manual_seed(seed)
    model = build(name, size)
    calibrate(model, size)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        logits32 = model(x)
    torch.onnx.export(
        model, x, f'{out_dir}/{name}.onnx', opset_version=opset, input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}},
    )
    np.save(f'{out_dir}/{name}.input.npy', x.numpy())
    np.save(f'{out_dir}/{name}.logits32.npy', logits32.numpy())
    with torch.no_grad():
        np.save(f'{out_dir}/{name}.logits.npy', model.double()(x.double()).numpy())
    print(name, sum(p.numel() for p in model.parameters()), flush=True)


def main():
    p = argparse.ArgumentParser(description='Export torchvision classifiers with random weights to ONNX, with PyTorch\'s logits.')
    p.add_argument('names', nargs='+', metavar='NAME', help='torchvision.models constructors (comma-separated lists too)')
    p.add_argument('--out', default='.', help='output folder (exists)')
    p.add_argument('--size', type=int, default=224, help='square input size in pixels (default 224)')
    p.add_argument('--opset', type=int, default=None, help='ONNX opset (default: what torch.onnx.export writes by default)')
    p.add_argument('--seed', type=int, default=0, help='seed for weights, statistics and input (default 0)')
    args = p.parse_args()
    if args.size < 1:
        p.error(f'--size {args.size} is not a positive pixel count')
    if not os.path.isdir(args.out):
        p.error(f'--out {args.out!r} is not an existing folder')
    names = [n for arg in args.names for n in arg.split(',') if n]
    # Every name is checked before the first export, so a typo at the end costs no finished work.
    unknown = [n for n in names if not is_constructor(n)]
    if unknown:
        p.error(f'NAME {", ".join(map(repr, unknown))}: not a torchvision.models constructor (e.g. efficientnet_b0, vit_b_16)')
    opset = args.opset if args.opset is not None else default_opset()
    for name in names:
        export(name, args.out, args.size, opset, args.seed)


if __name__ == '__main__':
    sys.exit(main())
