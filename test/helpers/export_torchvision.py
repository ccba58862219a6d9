"""Exports torchvision models with random weights to ONNX, as a user would, for
test/torchvision.test.ts and the by-hand checks in README.md ("Residual networks").

usage: python3 export_torchvision.py OUT_DIR SIZE OPSET NAME[,NAME...]

For each NAME (a torchvision.models constructor: resnet50, mobilenet_v2, densenet121, ...) writes
OUT_DIR/NAME.onnx (dynamic batch, input 'input', output 'logits'), OUT_DIR/NAME.input.npy (2 x 3 x
SIZE x SIZE) and OUT_DIR/NAME.logits.npy (PyTorch's float32 logits in eval mode). Weights are
torchvision's random initialisation (seeded); the BatchNorm statistics and affine parameters are
randomised too, so that folding them (by the exporter, or by the canonizer where it cannot) is
visible in the logits.
"""
import sys

import numpy as np
import torch
import torchvision


def main():
    out_dir, size, opset, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(',')
    torch.manual_seed(0)
    for name in names:
        model = getattr(torchvision.models, name)(weights=None).eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            logits = model(x)
        torch.onnx.export(
            model, x, f'{out_dir}/{name}.onnx', opset_version=opset, input_names=['input'], output_names=['logits'],
            dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}},
        )
        np.save(f'{out_dir}/{name}.input.npy', x.numpy())
        np.save(f'{out_dir}/{name}.logits.npy', logits.numpy())
        print(name, sum(p.numel() for p in model.parameters()), flush=True)


if __name__ == '__main__':
    main()
