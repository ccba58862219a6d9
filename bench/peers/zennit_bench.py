#!/usr/bin/env python3
"""zennit's side of the peer bench (bench/peers/compare.ts drives it; it is not a test).

  PYTHONPATH=../shared/peers/zennit-0.5.1 /usr/bin/python3 bench/peers/zennit_bench.py \
      export --out DIR [--model vgg16] [--seed 0]
  PYTHONPATH=... /usr/bin/python3 bench/peers/zennit_bench.py \
      run --weights DIR/vgg16.pt [--batch 1,8] [--composite cmp-alpha2-flat,lrp-z] [--threads 2]
          [--device cpu|cuda] [--repeat 3] [--warmup 1]

`export` builds the torchvision model with fixed-seed random weights (torchvision's own
initialisation under torch.manual_seed), saves its state dict and exports the same model to ONNX
(opset 13, eval mode: dropout gone) with the ImageNet preprocessing spec beside it, so both sides
run the very same weights. `run` times, per batch size, the forward pass alone and each
composite's attribution (forward + modified backward through zennit's Gradient attributor,
registered once before the timing, with ResNetCanonizer for ResNets; the
relevance of the predicted class seeded with its logit, as webgpu-lrp's `init: logit`), and prints
one JSON object per line: {"side": "zennit", "model", "batch", "composite", "images_per_s", ...}.

Composites, the same rules as webgpu-lrp's presets of that name:
  cmp-alpha2-flat  zennit EpsilonAlpha2Beta1Flat(epsilon=0.1)   (flat first layer, alpha2-beta1
                   convolutions, epsilon 0.1 dense layers)
  cmp-alpha1       zennit EpsilonPlus(epsilon=0.1)
  lrp-z            Epsilon(1e-6) on every convolution and dense layer (webgpu-lrp's z rule:
                   stabilizer 1e-6 with the denominator's sign)
  lrp-epsilon      Epsilon(0.1) on every convolution and dense layer
  gradient         plain gradient (no rules)
Max-pooling takes the gradient (winner takes all) on both sides; ReLU passes relevance through.
"""
import argparse
import json
import os
import sys
import time


def build(model_name):
    import torchvision
    ctor = getattr(torchvision.models, model_name, None)
    if ctor is None:
        raise SystemExit(f'zennit_bench: torchvision has no model {model_name!r}')
    try:
        return ctor(weights=None)
    except TypeError:  # torchvision < 0.13
        return ctor(pretrained=False)


def export(args):
    import torch
    torch.manual_seed(args.seed)
    model = build(args.model).eval()
    os.makedirs(args.out, exist_ok=True)
    pt = os.path.join(args.out, f'{args.model}.pt')
    onnx_path = os.path.join(args.out, f'{args.model}.onnx')
    torch.save(model.state_dict(), pt)
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), onnx_path, opset_version=13,
                          input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    # ImageNet preprocessing (torchvision's), as webgpu-lrp's MODEL.onnx.json.
    spec = {
        'size': [224, 224], 'channels': 'RGB', 'scale': 1 / 255, 'mean': [0.485, 0.456, 0.406],
        'std': [0.229, 0.224, 0.225], 'resize': 'shorter-side-crop', 'shorter': 256,
    }
    with open(onnx_path + '.json', 'w') as f:
        json.dump(spec, f, indent=2)
    print(json.dumps({'exported': onnx_path, 'weights': pt, 'model': args.model, 'seed': args.seed}))


def canonizers_of(model_name):
    """zennit's canonizers for a torchvision family: ResNetCanonizer (BatchNorm merged into the
    convolutions, the skip sums as Sum modules that the composites' Norm rule reaches) for ResNets,
    none for VGG without BatchNorm (webgpu-lrp's importer canonizes the ONNX export the same way)."""
    if model_name.startswith('resnet'):
        from zennit.torchvision import ResNetCanonizer
        return [ResNetCanonizer()]
    if model_name.startswith('vgg') and model_name.endswith('_bn'):
        from zennit.torchvision import VGGCanonizer
        return [VGGCanonizer()]
    return None


def composite_of(name, model_name):
    from zennit.composites import EpsilonAlpha2Beta1Flat, EpsilonPlus, LayerMapComposite, layer_map_base
    from zennit.rules import Epsilon
    from zennit.types import Convolution, Linear
    canonizers = canonizers_of(model_name)
    if name == 'cmp-alpha2-flat':
        return EpsilonAlpha2Beta1Flat(epsilon=0.1, canonizers=canonizers)
    if name == 'cmp-alpha1':
        return EpsilonPlus(epsilon=0.1, canonizers=canonizers)
    if name == 'lrp-z':
        return LayerMapComposite(layer_map=layer_map_base() + [(Convolution, Epsilon(1e-6)), (Linear, Epsilon(1e-6))],
                                 canonizers=canonizers)
    if name == 'lrp-epsilon':
        return LayerMapComposite(layer_map=layer_map_base() + [(Convolution, Epsilon(0.1)), (Linear, Epsilon(0.1))],
                                 canonizers=canonizers)
    if name == 'gradient':
        return None
    raise SystemExit(f'zennit_bench: no zennit composite for {name!r}')


def run(args):
    import torch
    from zennit.attribution import Gradient
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model_name = os.path.basename(args.weights).rsplit('.', 1)[0]
    model = build(model_name)
    model.load_state_dict(torch.load(args.weights, map_location='cpu'))
    model = model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    def timed(fn, repeat, warmup):
        for _ in range(warmup):
            fn()
        sync()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        times.sort()
        return times[len(times) // 2]

    for batch in [int(b) for b in args.batch.split(',')]:
        g = torch.Generator().manual_seed(batch)
        x = (torch.rand(batch, 3, 224, 224, generator=g) * 4 - 2).to(device)

        def forward():
            with torch.no_grad():
                model(x).cpu()
        sec = timed(forward, args.repeat, args.warmup)
        emit(args, model_name, batch, 'forward', sec)
        for name in args.composite.split(','):
            composite = composite_of(name, model_name)
            xg = x.clone().requires_grad_(True)
            # The composite is registered (hooks, canonizers) once, outside the timing, as
            # webgpu-lrp's explainer is built once: the timed part is the attribution itself.
            with Gradient(model=model, composite=composite) as attributor:
                def explain():
                    out = attributor.model(xg)
                    seed = torch.zeros_like(out)
                    top = out.argmax(1)
                    seed[torch.arange(batch), top] = out[torch.arange(batch), top]
                    # The attributor's call would run the forward pass again; this is its body.
                    rel, = torch.autograd.grad((out,), (xg,), grad_outputs=(seed.detach(),))
                    rel.cpu()
                sec = timed(explain, args.repeat, args.warmup)
            emit(args, model_name, batch, name, sec)


def emit(args, model, batch, composite, sec):
    print(json.dumps({
        'side': 'zennit', 'model': model, 'batch': batch, 'composite': composite, 'seconds': sec,
        'images_per_s': batch / sec, 'threads': args.threads, 'device': args.device,
    }), flush=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('export')
    e.add_argument('--out', required=True)
    e.add_argument('--model', default='vgg16')
    e.add_argument('--seed', type=int, default=0)
    r = sub.add_parser('run')
    r.add_argument('--weights', required=True)
    r.add_argument('--batch', default='1')
    r.add_argument('--composite', default='cmp-alpha2-flat,lrp-z')
    r.add_argument('--threads', type=int, default=2)
    r.add_argument('--device', default='cpu')
    r.add_argument('--repeat', type=int, default=3)
    r.add_argument('--warmup', type=int, default=1)
    args = ap.parse_args(argv)
    if args.cmd == 'export':
        export(args)
    else:
        run(args)


if __name__ == '__main__':
    main(sys.argv[1:])
