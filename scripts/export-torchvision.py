"""Exports torchvision models with random weights to ONNX, as a user would, for
test/torchvision.test.ts and the by-hand checks in README.md ("Residual networks").

usage: python3 export_torchvision.py OUT_DIR SIZE OPSET NAME[,NAME...]

For each NAME (a torchvision.models constructor: resnet50, mobilenet_v2, densenet121, ...) writes
OUT_DIR/NAME.onnx (dynamic batch, input 'input', output 'logits'), OUT_DIR/NAME.input.npy (2 x 3 x
SIZE x SIZE), OUT_DIR/NAME.logits.npy (PyTorch's logits in eval mode, computed in float64 from
the float32 model) and OUT_DIR/NAME.logits32.npy (PyTorch's float32 logits: their distance to the
float64 ones is what float32 itself costs on this model). Weights are
torchvision's random initialisation (seeded), BatchNorm's scale and shift random, and its running
statistics measured on random inputs (as training would leave them): torchvision's initialisation
alone scales a signal down by orders of magnitude through MobileNetV2's depthwise layers, and
random statistics that do not match the activations leave every image with the same logits.
Folding the BatchNorms (by the exporter, or by the canonizer where it cannot) shows in the logits.
"""
import sys

import numpy as np
import torch
import torchvision


def main():
    out_dir, size, opset, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(',')
    torch.manual_seed(0)
    for name in names:
        model = getattr(torchvision.models, name)(weights=None)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
                    m.reset_running_stats()
                    m.momentum = None  # a cumulative average over the calibration batches
            model.train()
            for _ in range(4):
                model(torch.randn(8, 3, size, size))
        model.eval()
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


if __name__ == '__main__':
    main()
