#!/usr/bin/env python3
"""Train the demo models: a small multi-label classifier on the synthetic boxes dataset.

`--arch demo` (the default) is the VGG-style CNN `lrp demo` ships; `--arch efficientnet` and
`--arch vit` are tiny instances of torchvision's own `EfficientNet` and `VisionTransformer` classes
(so the export has their exact operator patterns: SiLU as Mul(x, Sigmoid(x)), squeeze-and-excitation
gates, LayerNorm, attention, the class token), trained on the same data so that their heatmaps and
Table 1 rows can be compared with the CNN's on exact boxes.

Reads VOC-format folders written by `lrp synth` (PNG images, VOC XML, classes.txt), trains on CPU
with fixed seeds (sigmoid + binary cross-entropy over the 6 classes), prints the held-out mean
average precision after every epoch, and exports the logits model to ONNX (opset 13, 14 for the ViT; input
`input`, output `logits`, dynamic batch axis) with its preprocessing spec beside it.

Needs Debian's python3-torch, python3-pil and python3-numpy; see training/README.md.
"""
import argparse
import json
import math
import os
import random
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

# Preprocessing, written to MODEL.onnx.json: x = (v * SCALE - MEAN[c]) / STD[c], RGB.
SCALE = 1 / 255
MEAN = [0.5, 0.5, 0.5]
STD = [0.25, 0.25, 0.25]


def read_voc(root, split):
    """Images (N x H x W x 3 uint8), multi-hot labels (N x C float32) and the class names."""
    with open(os.path.join(root, 'classes.txt')) as f:
        classes = [line.strip() for line in f if line.strip()]
    index = {c: i for i, c in enumerate(classes)}
    with open(os.path.join(root, 'ImageSets', 'Main', f'{split}.txt')) as f:
        names = [line.strip() for line in f if line.strip()]
    images, labels = [], []
    for name in names:
        ann = ET.parse(os.path.join(root, 'Annotations', f'{name}.xml')).getroot()
        filename = ann.findtext('filename')
        img = Image.open(os.path.join(root, 'JPEGImages', filename)).convert('RGB')
        images.append(np.asarray(img, dtype=np.uint8))
        y = np.zeros(len(classes), dtype=np.float32)
        for obj in ann.findall('object'):
            y[index[obj.findtext('name')]] = 1
        labels.append(y)
    return np.stack(images), np.stack(labels), classes


def to_tensor(images):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() * SCALE
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    # channels_last: oneDNN's convolutions run about a third faster on it.
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def conv_block(cin, cout):
    """3x3 convolution, batch normalisation (folded into the convolution in the ONNX export), ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class DemoNet(nn.Module):
    """VGG-style: 3x3 convolutions (padding 1) in blocks separated by 2x2 max pooling, then a max
    pool over the whole 8x8 map (the classes are about presence anywhere in the image), flatten,
    dense 128, dense C.

        conv8 | pool | conv16 conv16 | pool | conv32 conv32 | pool | conv64 | pool 8x8 | dense128 dense C

    Narrow on purpose: training must fit in minutes on two CPU cores, and relevance for many
    analyzers over a whole dataset must fit in minutes on lavapipe.
    """

    def __init__(self, classes, size=64):
        super().__init__()
        self.features = nn.Sequential(
            *conv_block(3, 8), nn.MaxPool2d(2),
            *conv_block(8, 16), *conv_block(16, 16), nn.MaxPool2d(2),
            *conv_block(16, 32), *conv_block(32, 32), nn.MaxPool2d(2),
            *conv_block(32, 64), nn.MaxPool2d(size // 8),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 128), nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def efficientnet(classes):
    """torchvision's EfficientNet with B0's block types at a 64x64 scale: stem 3x3/2 16, MBConv1 k3
    16, MBConv4 k3/2 24 x2, MBConv4 k5/2 40 x2, MBConv4 k3/2 64, head 1x1 256, pool, dropout, Linear."""
    from functools import partial
    from torchvision.models.efficientnet import EfficientNet, MBConvConfig
    cfg = partial(MBConvConfig, width_mult=1.0, depth_mult=1.0)
    setting = [cfg(1, 3, 1, 16, 16, 1), cfg(4, 3, 2, 16, 24, 2), cfg(4, 5, 2, 24, 40, 2), cfg(4, 3, 2, 40, 64, 1)]
    return EfficientNet(setting, dropout=0.2, stochastic_depth_prob=0.0, num_classes=classes)


def vit(classes, size):
    """torchvision's VisionTransformer: 8x8 patches (64 tokens and the class token at 64x64), 4 blocks of
    width 64 with 4 heads and an MLP of 128, the head on the class token."""
    from torchvision.models.vision_transformer import VisionTransformer
    return VisionTransformer(image_size=size, patch_size=8, num_layers=4, num_heads=4, hidden_dim=64,
                             mlp_dim=128, dropout=0.0, attention_dropout=0.0, num_classes=classes)


ARCHS = {
    # name: (builder, opset, default learning rate, channels_last)
    'demo': (lambda classes, size: DemoNet(classes, size), 13, 3e-3, True),
    'efficientnet': (lambda classes, size: efficientnet(classes), 13, 3e-3, True),
    # Opset 14: LayerNorm exported decomposed (ReduceMean, Sub, Pow, ...), as the modern test vectors' ViT.
    'vit': (vit, 14, 1e-3, False),
}


def average_precision(scores, labels):
    """Non-interpolated AP (the mean of the precision at each positive, ranked by score; sklearn's)."""
    order = np.argsort(-scores, kind='stable')
    hits = labels[order] > 0
    if hits.sum() == 0:
        return float('nan')
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def evaluate(model, x, y, batch=256):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy()
    aps = [average_precision(logits[:, c], y[:, c]) for c in range(y.shape[1])]
    return float(np.nanmean(aps)), aps, logits


def augment(xb, gen):
    """Label-preserving for every class: a random flip and a random quarter turn, per batch."""
    if torch.randint(0, 2, (1,), generator=gen).item():
        xb = xb.flip(3)
    k = int(torch.randint(0, 4, (1,), generator=gen).item())
    return torch.rot90(xb, k, (2, 3)) if k else xb


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--train', required=True, help='VOC folder of the training set (lrp synth --split trainval)')
    p.add_argument('--train-split', default='trainval')
    p.add_argument('--test', required=True, help='VOC folder of the held-out set (lrp synth --split test)')
    p.add_argument('--test-split', default='test')
    p.add_argument('--out', default='models/demo/demo.onnx')
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--arch', choices=sorted(ARCHS), default='demo')
    p.add_argument('--lr', type=float, help='default: 3e-3 for the CNNs, 1e-3 for the ViT')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--metrics', help='write the held-out results as JSON here (default: OUT without .onnx + .metrics.json)')
    args = p.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    t0 = time.time()
    xtr_u8, ytr, classes = read_voc(args.train, args.train_split)
    xte_u8, yte, classes_te = read_voc(args.test, args.test_split)
    if classes != classes_te:
        sys.exit(f'class lists differ: {classes} vs {classes_te}')
    size = xtr_u8.shape[1]
    xtr, xte = to_tensor(xtr_u8), to_tensor(xte_u8)
    ytr_t = torch.from_numpy(ytr)
    print(f'train: {len(xtr)} images {size}x{size}, test: {len(xte)}; classes: {", ".join(classes)}; '
          f'loaded in {time.time() - t0:.1f} s', flush=True)
    print('train positives per class: ' + ', '.join(f'{c} {int(n)}' for c, n in zip(classes, ytr.sum(0))), flush=True)

    build, opset, default_lr, channels_last = ARCHS[args.arch]
    args.lr = args.lr if args.lr is not None else default_lr
    if not channels_last:
        xtr, xte = xtr.contiguous(), xte.contiguous()
    model = build(len(classes), size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    # 20 steps of linear warm-up, then a cosine decay to 0 over the whole run.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    gen = torch.Generator().manual_seed(args.seed)

    t_train = time.time()
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            xb = augment(xtr[idx], gen)
            loss = F.binary_cross_entropy_with_logits(model(xb), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        m, aps, _ = evaluate(model, xte, yte)
        history.append({'epoch': epoch, 'loss': total / seen, 'test_map': m})
        print(f'epoch {epoch}/{args.epochs}: train loss {total / seen:.4f}, held-out mAP {m:.4f} '
              f'({time.time() - t_train:.0f} s)', flush=True)
    train_secs = time.time() - t_train

    m, aps, logits = evaluate(model, xte, yte)
    acc = float(((logits > 0) == (yte > 0)).mean())
    print('held-out AP per class: ' + ', '.join(f'{c} {a:.4f}' for c, a in zip(classes, aps)))
    print(f'held-out mAP {m:.4f} over {len(xte)} images (label accuracy at logit 0: {acc:.4f}); '
          f'training took {train_secs:.0f} s')

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 3, size, size), args.out, opset_version=opset,
        input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, do_constant_folding=True,
    )
    spec = {'size': [size, size], 'channels': 'RGB', 'scale': SCALE, 'mean': MEAN, 'std': STD, 'resize': 'rescale'}
    with open(args.out + '.json', 'w') as f:
        json.dump(spec, f, indent=2)
        f.write('\n')
    metrics_path = args.metrics or (args.out[:-5] if args.out.endswith('.onnx') else args.out) + '.metrics.json'
    with open(metrics_path, 'w') as f:
        json.dump({
            'classes': classes,
            'test_map': round(m, 4),
            'test_ap': {c: round(a, 4) for c, a in zip(classes, aps)},
            'test_label_accuracy': round(acc, 4),
            'train_images': len(xtr), 'test_images': len(xte), 'size': size,
            'arch': args.arch, 'opset': opset, 'epochs': args.epochs, 'batch': args.batch, 'lr': args.lr, 'seed': args.seed,
            'train_seconds': round(train_secs), 'torch': torch.__version__,
            'history': [{k: round(v, 4) if isinstance(v, float) else v for k, v in h.items()} for h in history],
        }, f, indent=2)
        f.write('\n')
    print(f'wrote {args.out} ({os.path.getsize(args.out)} bytes), {args.out}.json and {metrics_path}')


if __name__ == '__main__':
    main()
