#!/usr/bin/python3
"""The peer side of dsvd's benchmarks: the same work done with Debian's PyTorch/torchvision.

dsvd's benchmark programs run this script as a subprocess, round by round, and read the one
figure it prints on its last line. Only benchmarks may use PyTorch; the product never does.

  pytorch_reference.py data_loader --root DIR --workers N [--batch 32] [--epochs 2]
      ImageFolder + RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize through
      torch.utils.data.DataLoader; prints "images_per_s X" for the epochs after the first
      (warm-up: worker start-up and file cache).

  pytorch_reference.py transforms_check --dir DIR
      Reads DIR/input.png and dsvd's outputs DIR/<op>.png (written by benchmarks/data_loader) and
      prints "max_abs_diff X" against torchvision/Pillow doing the same resizes and crops.
"""
import argparse
import sys
import time


def data_loader(args):
    import torch
    import torchvision
    from torchvision import transforms

    torch.set_num_threads(1)
    pipeline = transforms.Compose([
        transforms.RandomResizedCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    dataset = torchvision.datasets.ImageFolder(args.root, pipeline)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0)
    timings = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        count = 0
        for images, labels in loader:
            count += images.shape[0]
        if epoch > 0:
            timings.append(count / (time.perf_counter() - start))
    print("images_per_s %.3f" % (sum(timings) / len(timings)))


def transforms_check(args):
    import os

    import numpy as np
    import torchvision.transforms.functional as F
    from PIL import Image

    image = Image.open(os.path.join(args.dir, "input.png")).convert("RGB")
    cases = {
        "resize_224x224": lambda im: im.resize((224, 224), Image.BILINEAR),
        "resize_50x60": lambda im: im.resize((60, 50), Image.BILINEAR),
        "resize_300x211": lambda im: im.resize((211, 300), Image.BILINEAR),
        "resized_crop": lambda im: F.resized_crop(im, 10, 20, 100, 150, [224, 224]),
        "resize256_center224": lambda im: F.center_crop(F.resize(im, 256), 224),
    }
    worst = 0
    for name, op in cases.items():
        ours = np.asarray(Image.open(os.path.join(args.dir, name + ".png")).convert("RGB")).astype(int)
        ref = np.asarray(op(image)).astype(int)
        if ours.shape != ref.shape:
            print("shape mismatch for %s: %s vs %s" % (name, ours.shape, ref.shape))
            return 1
        worst = max(worst, int(np.abs(ours - ref).max()))
    print("max_abs_diff %d" % worst)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data_loader")
    p.add_argument("--root", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p = sub.add_parser("transforms_check")
    p.add_argument("--dir", required=True)
    args = parser.parse_args()
    return {"data_loader": data_loader, "transforms_check": transforms_check}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
