#!/usr/bin/env python3
"""The peer side of dsvd's GPU benchmarks: the same work done with PyTorch on the same card.

tools/gpu-check runs it on the lent GPU machine (PyTorch 2.11 + torchvision there). Only
benchmarks may use PyTorch; the product never does. TF32 follows PyTorch's defaults, set
explicitly: on for cuDNN convolutions, off for matmul (--tf32-matmul turns the latter on).

  gpu_pytorch_reference.py train_step --arch resnet50|alexnet --head gap|svd-pade
                                      --batch B [--size 224] [--classes 1000] [--steps N]
                                      [--amp] [--channels-last] [--compile]
      torchvision model (head gap) or the covariance-pooling ResNet of docs/models-and-training.md
      (head svd-pade: reduction 1x1 conv 2048->256 + BN + ReLU, float64 covariance, eigh, square
      root, Padé backward, upper triangle, fc 32896 -> classes), forward + cross-entropy +
      backward + SGD(momentum 0.9) on random float32 data already on the GPU. Prints
      "images_per_s X" (median step over N after 3 warm-ups), "ms X" and "peak_mem_mb Y"
      (torch.cuda.max_memory_allocated); with --profile, then a kernel-time table of 3 more steps.
      --amp: the forward under torch.autocast("cuda", torch.bfloat16), the covariance head kept in
      float32 as dsvd keeps it; --channels-last: model and input in torch.channels_last;
      --compile: torch.compile(model) (default mode; compiled during the warm-up steps).

  gpu_pytorch_reference.py eigh --batch 64 --n 256 --dtype f32|f64 [--reps 20]
      torch.linalg.eigh of a batch of random symmetric positive definite matrices; prints
      "ms X" (median).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _setup_tf32(args):
    import torch
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = bool(args.tf32_matmul)
    torch.backends.cudnn.benchmark = False


def _covariance_resnet(arch, classes):
    """ResNet-GCP with the svd-pade representation (docs/matrix-functions.md, float64 inside)."""
    import torch
    import torchvision
    from pytorch_reference import _make_layer, _pade_coefficients

    sqrt_layer = _make_layer("pade", _pade_coefficients())
    base = getattr(torchvision.models, arch)()
    channels = base.fc.in_features

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(channels, 256, 1, bias=False)
            self.bn = torch.nn.BatchNorm2d(256)
            self.fc = torch.nn.Linear(256 * 257 // 2, classes)

        def forward(self, x):
            # The head stays float32 under autocast (as dsvd's --amp keeps it).
            with torch.autocast("cuda", enabled=False):
                x = torch.relu(self.bn(self.conv(x.float())))
                return self.fc(sqrt_layer(x, torch.float64))

    body = torch.nn.Sequential(base.conv1, base.bn1, base.relu, base.maxpool,
                               base.layer1, base.layer2, base.layer3, base.layer4)
    return torch.nn.Sequential(body, Head())


def train_step(args):
    import torch
    import torchvision
    _setup_tf32(args)
    torch.manual_seed(0)
    dev = torch.device("cuda")
    if args.head == "gap":
        model = getattr(torchvision.models, args.arch)(num_classes=args.classes)
    else:
        if not args.arch.startswith("resnet"):
            sys.exit("--head svd-pade is built here for ResNets only")
        # the peer's rule code makes eye/arange without a device: make CUDA the default
        torch.set_default_device(dev)
        model = _covariance_resnet(args.arch, args.classes)
    model = model.to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    forward = torch.compile(model) if args.compile else model
    y = torch.randint(0, args.classes, (args.batch,), device=dev)
    torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(args.steps + 3):
        torch.cuda.synchronize()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.amp):
            loss = torch.nn.functional.cross_entropy(forward(x), y)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if step >= 3:
            times.append(time.perf_counter() - start)
    times.sort()
    ms = 1e3 * times[len(times) // 2]
    print("ms %.3f" % ms)
    print("images_per_s %.1f" % (args.batch * 1e3 / ms))
    print("peak_mem_mb %.1f" % (torch.cuda.max_memory_allocated() / 2**20), flush=True)
    if args.profile:
        # GPU kernel time of 3 more steps by kernel, for comparison with dsvd's --profile
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            torch.cuda.synchronize()
        print("== torch profile (3 steps)")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25), flush=True)


def eigh(args):
    import torch
    dev = torch.device("cuda")
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    gen = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn(args.batch, args.n, args.n, device=dev, dtype=dtype, generator=gen)
    sym = a @ a.transpose(1, 2) / args.n + 1e-3 * torch.eye(args.n, device=dev, dtype=dtype)
    times = []
    for rep in range(args.reps + 2):
        torch.cuda.synchronize()
        start = time.perf_counter()
        torch.linalg.eigh(sym)
        torch.cuda.synchronize()
        if rep >= 2:
            times.append(time.perf_counter() - start)
    times.sort()
    print("ms %.3f" % (1e3 * times[len(times) // 2]), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train_step")
    p.add_argument("--arch", required=True)
    p.add_argument("--head", default="gap", choices=["gap", "svd-pade"])
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--tf32-matmul", action="store_true")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--amp", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p = sub.add_parser("eigh")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    p.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    {"train_step": train_step, "eigh": eigh}[args.command](args)


if __name__ == "__main__":
    main()
