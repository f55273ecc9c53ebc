#!/usr/bin/python3
"""The peer side of dsvd's benchmarks: the same work done with Debian's PyTorch/torchvision.

dsvd's benchmark programs run this script as a subprocess, round by round, and read the one
figure it prints on its last line. Only benchmarks may use PyTorch; the product never does.

  pytorch_reference.py data_loader --root DIR --workers N [--batch 32] [--epochs 2]
      ImageFolder + RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize through
      torch.utils.data.DataLoader; prints "images_per_s X" for the epochs after the first
      (warm-up: worker start-up and file cache).

  pytorch_reference.py matfn --batch B --channels N --positions M --dtype f64|f32 [--reps R]
  pytorch_reference.py invsqrt --batch B --n N --dtype f64|f32 [--reps R] [--methods mpa-lya-inv,eig]
      covariance pooling -> matrix square root -> upper-triangle vectorisation, forward + backward,
      for every rule, written as in the reference (torch.linalg.eigh, a custom autograd.Function
      per rule with the formulas of docs/matrix-functions.md). Prints "ms <rule> X" per rule (median).
      With --save DIR it times nothing and writes x.npy, g.npy, y_<rule>.npy and grad_<rule>.npy.

  pytorch_reference.py train_step --arch A --batch B --size S --classes C [--steps N]
      torchvision model, forward + cross-entropy + backward + SGD(momentum 0.9) step on random
      float32 data; prints "ms X" (median over the steps after two warm-ups) and "peak_rss_mb Y".

  pytorch_reference.py ddp --world W --batch B --size S --classes C [--arch A] [--steps N] [--threads T]
      W processes (torch.multiprocessing) in a gloo process group, DistributedDataParallel around a
      torchvision model when W > 1, each process training on B random images per step with T
      threads; prints "images_per_s X" for the whole job (W·B over the median step time of rank 0,
      each step ending with a barrier so that the ranks' steps line up).

  pytorch_reference.py interop --dir DIR [--arch resnet18] [--classes 10]
      Writes a torchvision model's state_dict (random weights, random BN statistics) as
      DIR/weights.safetensors with a minimal writer of the public format, an input batch
      DIR/input.npy and PyTorch's eval-mode logits DIR/logits_torch.npy; if DIR/logits_dsvd.npy
      exists, prints "max_abs_diff X" between the two. tools/interop-check drives it.

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


# --- matrix functions (the peer of benchmarks/matfn) ------------------------------------------

EPS64 = 2.220446049250313e-16


def _pade_coefficients():
    # The [50/50] Padé coefficients of 1/(1-x), read from dsvd's own table (ops/matfn/svd_pade.cpp,
    # the reference's mpmath values rounded to float64): the peer computes with the same constants.
    import os
    import re
    here = os.path.dirname(os.path.abspath(__file__))
    src = open(os.path.join(here, "..", "ops", "matfn", "svd_pade.cpp")).read()
    blocks = re.findall(r"std::array<double, 51> \w = \{([^}]*)\}", src)
    p, q = [[float.fromhex(v.strip()) for v in b.split(",") if v.strip()] for b in blocks]
    assert len(p) == 51 and len(q) == 51
    return p, q


def _fix_inf(t):
    import torch
    pos = torch.isposinf(t)
    if pos.any():
        t = torch.where(pos, t[~pos].max(), t)
    neg = torch.isneginf(t)
    if neg.any():
        t = torch.where(neg, t[~neg].min(), t)
    return t


def _series_terms(lam):
    import torch
    n = lam.shape[1]
    eye = torch.eye(n, dtype=lam.dtype, device=lam.device)
    li, lj = lam.unsqueeze(2), lam.unsqueeze(1)
    ratio = li / lj
    r = torch.where(ratio < 1, ratio, 1 / ratio) - eye
    a = torch.where(li >= lj, 1 / li, -1 / lj) * (1 - eye)
    return r, a


def _k_matrix(rule, lam, pade):
    import torch
    n = lam.shape[1]
    eye = torch.eye(n, dtype=lam.dtype, device=lam.device)
    if rule in ("original", "topn", "trunc"):
        k = 1 / (lam.unsqueeze(2) - lam.unsqueeze(1) + eye) - eye
        return k.clamp(-1e10, 1e10) if rule == "trunc" else _fix_inf(k)
    r, a = _series_terms(lam)
    if rule == "taylor":
        acc, pw = torch.ones_like(r), torch.ones_like(r)
        for _ in range(100):
            pw = pw * r
            acc = acc + pw
        return _fix_inf(a * acc)
    p, q = pade
    pw = torch.ones_like(r)
    P, Q = torch.full_like(r, p[0]), torch.full_like(r, q[0])
    for m in range(1, 51):
        pw = pw * r
        P = P + p[m] * pw
        Q = Q + q[m] * pw
    return _fix_inf(a * P / Q)


def _ns_forward(sigma, iterations):
    import torch
    n = sigma.shape[1]
    i3 = 3 * torch.eye(n, dtype=sigma.dtype, device=sigma.device)
    trace = (sigma * torch.eye(n, dtype=sigma.dtype, device=sigma.device)).sum((1, 2), keepdim=True)
    a = sigma / trace
    ys, zs = [], []
    if iterations < 2:
        y_final = 0.5 * a @ (i3 - a)
    else:
        t = 0.5 * (i3 - a)
        ys.append(a @ t)
        zs.append(t)
        for _ in range(1, iterations - 1):
            t = 0.5 * (i3 - zs[-1] @ ys[-1])
            ys.append(ys[-1] @ t)
            zs.append(t @ zs[-1])
        y_final = 0.5 * ys[-1] @ (i3 - zs[-1] @ ys[-1])
    return a, ys, zs, y_final, trace


def _ns_backward(g, sigma, state, iterations):
    import torch
    a, ys, zs, y_final, trace = state
    n = sigma.shape[1]
    i3 = 3 * torch.eye(n, dtype=sigma.dtype, device=sigma.device)
    root = trace.sqrt()
    p = g * root
    aux = (g * y_final).sum((1, 2), keepdim=True) / (2 * root)
    if iterations < 2:
        d = 0.5 * (p @ (i3 - a) - a @ p)
    else:
        y, z = ys[-1], zs[-1]
        dy = 0.5 * (p @ (i3 - y @ z) - z @ y @ p)
        dz = -0.5 * y @ p @ y
        for k in range(iterations - 3, -1, -1):
            e = i3 - ys[k] @ zs[k]
            f = zs[k] @ ys[k]
            dy, dz = 0.5 * (dy @ e - zs[k] @ dz @ zs[k] - f @ dy), 0.5 * (e @ dz - ys[k] @ dy @ ys[k] - dz @ f)
        d = 0.5 * (dy @ (i3 - a) - dz - a @ dy)
    d = d.transpose(1, 2)
    return d / trace + (aux - (d * sigma).sum((1, 2), keepdim=True) / trace ** 2) * torch.eye(n, dtype=sigma.dtype, device=sigma.device)


# The fast square roots (docs/matrix-functions.md §10): Taylor or [5/5] Padé of sqrt(1 - z) in
# Z = I - A/||A||_F forward, the Lyapunov equation Y X + X Y = G by the sign iteration backward.
MTP_COEFFICIENTS = [1.0, -1 / 2, -1 / 8, -1 / 16, -5 / 128, -7 / 256, -21 / 1024, -33 / 2048, -429 / 32768, -715 / 65536,
                    -2431 / 262144]
MPA_P = [1.0, -11 / 4, 11 / 4, -77 / 64, 55 / 256, -11 / 1024]
MPA_Q = [1.0, -9 / 4, 7 / 4, -35 / 64, 15 / 256, -1 / 1024]


def _matrix_polynomial(z, coefficients):
    import torch
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    r = coefficients[-1] * eye.expand_as(z)
    for c in reversed(coefficients[:-1]):
        r = r @ z + c * eye
    return r


def _fast_sqrt_forward(a, rule):
    import torch
    s = a.norm(dim=(1, 2), keepdim=True)
    z = torch.eye(a.shape[1], dtype=a.dtype, device=a.device) - a / s
    if rule == "mtp-lya":
        y = _matrix_polynomial(z, MTP_COEFFICIENTS)
    else:
        y = torch.linalg.solve(_matrix_polynomial(z, MPA_Q), _matrix_polynomial(z, MPA_P))
    return y * s.sqrt(), s.sqrt()


def _lyapunov_backward(y, g, root_scale, iterations=8):
    import torch
    i3 = 3 * torch.eye(y.shape[1], dtype=y.dtype, device=y.device)
    b, c = y / root_scale, g / root_scale
    for _ in range(iterations):
        b2 = b @ b
        t = i3 - b2
        c = 0.5 * (c @ t - b2 @ c + b @ c @ b)
        b = 0.5 * b @ t
    return 0.5 * c


def _make_inverse_sqrt(method):
    # The inverse square root (docs/matrix-functions.md §11): MPA-Lya-Inv (Pade forward upside down,
    # Lyapunov backward scaled by the whole batch's ||W||_F) or the eigendecomposition's.
    import torch

    class InverseSqrt(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            if method == "mpa-lya-inv":
                s = a.norm(dim=(1, 2), keepdim=True)
                z = torch.eye(a.shape[1], dtype=a.dtype, device=a.device) - a / s
                w = torch.linalg.solve(_matrix_polynomial(z, MPA_P), _matrix_polynomial(z, MPA_Q)) / s.sqrt()
                ctx.save_for_backward(w)
                return w
            lam, v = torch.linalg.eigh(a)
            lam = torch.where(lam <= EPS64, torch.full_like(lam, EPS64), lam)
            ctx.save_for_backward(v, lam)
            return (v * lam.rsqrt().unsqueeze(1)) @ v.transpose(1, 2)

        @staticmethod
        def backward(ctx, g):
            if method == "mpa-lya-inv":
                (w,) = ctx.saved_tensors
                a_inv = w @ w
                g_prime = -(a_inv @ g @ a_inv)
                return _lyapunov_backward(w, g_prime, w.norm())
            v, lam = ctx.saved_tensors
            root = lam.sqrt()
            ri, rj = root.unsqueeze(2), root.unsqueeze(1)
            f = -1 / (ri * rj * (ri + rj))
            vt = v.transpose(1, 2)
            return v @ (f * (vt @ g @ v)) @ vt

    return InverseSqrt.apply


def _save_or_time(args, name, fn, source, g, output_prefix):
    """With --save, writes fn's output and the gradient of <output, g> for the input `source`
    (<prefix>_<name>.npy, grad_<name>.npy); otherwise prints the median time of forward + backward
    over args.reps runs after one warm-up ("ms <name> <value>")."""
    if args.save:
        import numpy as np
        leaf = source.clone().requires_grad_()
        out = fn(leaf)
        out.backward(g)
        np.save("%s/%s_%s.npy" % (args.save, output_prefix, name), out.detach().numpy())
        np.save("%s/grad_%s.npy" % (args.save, name), leaf.grad.numpy())
        return
    times = []
    for rep in range(args.reps + 1):
        leaf = source.clone().requires_grad_()
        start = time.perf_counter()
        fn(leaf).backward(g)
        if rep > 0:  # the first run warms up
            times.append(time.perf_counter() - start)
    times.sort()
    print("ms %s %.4f" % (name, 1e3 * times[len(times) // 2]), flush=True)


def invsqrt(args):
    import torch
    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, args.n, 2 * args.n, generator=gen, dtype=torch.float64)
    a = (x @ x.transpose(1, 2) / (2 * args.n) + 0.1 * torch.eye(args.n, dtype=torch.float64)).to(dtype)
    g = torch.randn(args.batch, args.n, args.n, generator=gen, dtype=torch.float64).to(dtype)
    if args.save:
        import numpy as np
        np.save(args.save + "/a.npy", a.numpy())
        np.save(args.save + "/g.npy", g.numpy())
    for method in args.methods.split(","):
        _save_or_time(args, method, _make_inverse_sqrt(method), a, g, "w")


def _make_seb(pade):
    # SEB (docs/matrix-functions.md §7) as the reference's SEB.py builds it: a custom Function for the
    # eigendecomposition's two branches Q = V diag(sqrt(l)) V^T and S = V diag(exp(-l)) V^T, then
    # plain autograd for A = Q S^T, F.normalize and the element-wise division.
    import torch

    class SebEig(torch.autograd.Function):
        @staticmethod
        def forward(ctx, sigma):
            w, v = torch.linalg.eigh(sigma)
            s, order = w.abs().sort(dim=1, descending=True)
            v = v.gather(2, order.unsqueeze(1).expand_as(v))
            lam = torch.where(s <= EPS64, torch.full_like(s, EPS64), s)
            ctx.save_for_backward(v, lam)
            vt = v.transpose(1, 2)
            return (v * lam.sqrt().unsqueeze(1)) @ vt, (v * torch.exp(-lam).unsqueeze(1)) @ vt

        @staticmethod
        def backward(ctx, gq, gs):
            v, lam = ctx.saved_tensors
            vt = v.transpose(1, 2)
            e = torch.exp(-lam)
            grad_v = ((gq + gq.transpose(1, 2)) @ v) * lam.sqrt().unsqueeze(1) + ((gs + gs.transpose(1, 2)) @ v) * e.unsqueeze(1)
            grad_lam = (0.5 * torch.diagonal(vt @ gq @ v, dim1=1, dim2=2) / lam.sqrt()
                        - e * torch.diagonal(vt @ gs @ v, dim1=1, dim2=2))
            k = _k_matrix("original", lam, pade)
            inner = _fix_inf(k.transpose(1, 2) * (vt @ grad_v) + torch.diag_embed(grad_lam))
            return _fix_inf(v @ inner @ vt)

    def seb(sigma):
        q, s = SebEig.apply(sigma)
        a = q @ s.transpose(1, 2)
        normalised = torch.nn.functional.normalize(a.reshape(a.shape[0], -1), dim=1).reshape(a.shape)
        return q + q * (a / normalised)

    return seb


def _make_layer(rule, pade):
    import torch

    class Covariance(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, dtype):
            b, c = x.shape[0], x.shape[1]
            xh = x.to(dtype).reshape(b, c, -1)
            xb = xh - xh.mean(2, keepdim=True)
            ctx.save_for_backward(xb)
            ctx.input_shape, ctx.input_dtype = x.shape, x.dtype
            return xb @ xb.transpose(1, 2) / xb.shape[2]

        @staticmethod
        def backward(ctx, g):
            (xb,) = ctx.saved_tensors
            gx = (g + g.transpose(1, 2)) @ xb / xb.shape[2]
            if rule in ("original", "trunc", "topn", "taylor", "pade", "pi"):  # not seb
                gx = torch.nan_to_num(_fix_inf(gx), nan=0.0, posinf=float("inf"), neginf=float("-inf"))
            return gx.reshape(ctx.input_shape).to(ctx.input_dtype), None

    class MatrixSqrt(torch.autograd.Function):
        @staticmethod
        def forward(ctx, sigma):
            if rule == "isqrt":
                state = _ns_forward(sigma, 5)
                ctx.state = state
                ctx.save_for_backward(sigma)
                return state[3] * state[4].sqrt()
            if rule in ("mtp-lya", "mpa-lya"):
                y, root_scale = _fast_sqrt_forward(sigma, rule)
                ctx.save_for_backward(y, root_scale)
                return y
            w, v = torch.linalg.eigh(sigma)
            s, order = w.abs().sort(dim=1, descending=True)
            v = v.gather(2, order.unsqueeze(1).expand_as(v))
            if rule == "topn":
                s = s.clone()
                s[:, max(0, s.shape[1] - 50):] = EPS64
            lam = torch.where(s <= EPS64, torch.full_like(s, EPS64), s)
            if rule == "newton":
                ctx.state = _ns_forward(sigma, 10)
            ctx.save_for_backward(sigma, v, lam)
            return (v * lam.sqrt().unsqueeze(1)) @ v.transpose(1, 2)

        @staticmethod
        def backward(ctx, g):
            if rule == "isqrt":
                (sigma,) = ctx.saved_tensors
                return _ns_backward(g, sigma, ctx.state, 5)
            if rule in ("mtp-lya", "mpa-lya"):
                y, root_scale = ctx.saved_tensors
                return _lyapunov_backward(y, g, root_scale)
            sigma, v, lam = ctx.saved_tensors
            if rule == "newton":
                return _ns_backward(g, sigma, ctx.state, 10)
            vt = v.transpose(1, 2)
            root = lam.sqrt()
            if rule == "exact":
                cm = vt @ g @ v
                return 0.5 * v @ ((cm + cm.transpose(1, 2)) / (root.unsqueeze(2) + root.unsqueeze(1))) @ vt
            grad_v = ((g + g.transpose(1, 2)) @ v) * root.unsqueeze(1)
            grad_lam = 0.5 * torch.diagonal(vt @ g @ v, dim1=1, dim2=2) / root
            n = lam.shape[1]
            if rule == "pi":
                d = (sigma @ v).norm(dim=(1, 2), keepdim=True).clamp(min=1e-10)
                a = (torch.eye(n, dtype=v.dtype, device=v.device) - v @ vt) / d
                total = a
                for _ in range(20):
                    a = (sigma / d) @ a
                    total = total + a
                return total @ grad_v @ vt
            if rule == "pi-deflation":
                c = vt @ grad_v
                lk, lj = lam.unsqueeze(1), lam.unsqueeze(2)
                idx = torch.arange(n, device=v.device)
                above = (idx.unsqueeze(1) < idx.unsqueeze(0))
                below = (idx.unsqueeze(1) > idx.unsqueeze(0))
                r = lj / lk
                series, pw = torch.ones_like(r), torch.ones_like(r)
                for _ in range(19):
                    pw = pw * r
                    series = series + pw
                lower = (c - lk * c.transpose(1, 2) / lj) * series / lk
                w = torch.where(above, c / lk, torch.zeros_like(c)) + torch.where(below, lower, torch.zeros_like(c))
                return v @ (w + torch.diag_embed(grad_lam)) @ vt
            k = _k_matrix(rule, lam, pade)
            inner = _fix_inf(k.transpose(1, 2) * (vt @ grad_v) + torch.diag_embed(grad_lam))
            return _fix_inf(v @ inner @ vt)

    seb = _make_seb(pade)

    def layer(x, dtype):
        sigma = Covariance.apply(x, dtype)
        q = seb(sigma) if rule == "seb" else MatrixSqrt.apply(sigma)
        n = q.shape[1]
        rows, cols = torch.triu_indices(n, n, device=q.device)
        return q[:, rows, cols].to(torch.float32)

    return layer


def matfn(args):
    import torch
    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    pade = _pade_coefficients()
    gen = torch.Generator().manual_seed(0)
    side = int(round(args.positions ** 0.5))
    x = torch.relu(torch.randn(args.batch, args.channels, side, args.positions // side, generator=gen))
    g = torch.randn(args.batch, args.channels * (args.channels + 1) // 2, generator=gen)
    if args.save:
        import numpy as np
        np.save(args.save + "/x.npy", x.numpy())
        np.save(args.save + "/g.npy", g.numpy())
    for rule in args.rules.split(","):
        layer = _make_layer(rule, pade)
        _save_or_time(args, rule, lambda leaf: layer(leaf, dtype), x, g, "y")


def train_step(args):
    import resource

    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(num_classes=args.classes)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, args.classes, (args.batch,))
    times = []
    for step in range(args.steps + 2):
        start = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - start)
    times.sort()
    print("ms %.3f" % (1e3 * times[len(times) // 2]))
    print("peak_rss_mb %.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


def _ddp_worker(rank, args, results):
    import os

    import torch
    import torch.distributed as dist
    import torchvision

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(args.port)
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=args.world)
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(num_classes=args.classes)
    model.train()
    if args.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch.manual_seed(1 + rank)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, args.classes, (args.batch,))
    times = []
    for step in range(args.steps + 2):
        dist.barrier()
        start = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        dist.barrier()
        if step >= 2:
            times.append(time.perf_counter() - start)
    if rank == 0:
        times.sort()
        results.put(times[len(times) // 2])
    dist.destroy_process_group()


def ddp(args):
    import random

    import torch.multiprocessing as mp

    args.port = random.randint(20000, 40000)
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    mp.spawn(_ddp_worker, args=(args, results), nprocs=args.world, join=True)
    print("images_per_s %.3f" % (args.world * args.batch / results.get()))


def interop(args):
    import json
    import os
    import struct

    import numpy as np
    import torch
    import torchvision

    out = lambda name: os.path.join(args.dir, name)
    if os.path.exists(out("logits_dsvd.npy")):
        a, b = np.load(out("logits_dsvd.npy")), np.load(out("logits_torch.npy"))
        print("max_abs_diff %.3e" % float(np.abs(a - b).max()))
        return
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(num_classes=args.classes)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    model.eval()
    header, blobs, offset = {}, [], 0
    codes = {torch.float32: "F32", torch.int64: "I64"}
    for name, t in model.state_dict().items():
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(out("weights.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    x = torch.randn(2, 3, args.size, args.size)
    np.save(out("input.npy"), x.numpy())
    with torch.no_grad():
        np.save(out("logits_torch.npy"), model(x).numpy())
    print("wrote %s" % args.dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data_loader")
    p.add_argument("--root", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p = sub.add_parser("matfn")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--channels", type=int, required=True)
    p.add_argument("--positions", type=int, required=True)
    p.add_argument("--dtype", choices=["f64", "f32"], default="f64")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save", default="", help="write x, g and each rule's output and input gradient as .npy here")
    p.add_argument("--rules", default="original,trunc,topn,taylor,pade,pi,pi-deflation,newton,exact,isqrt,mtp-lya,mpa-lya,seb")
    p = sub.add_parser("invsqrt")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dtype", choices=["f64", "f32"], default="f64")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save", default="", help="write a, g and each method's output and input gradient as .npy here")
    p.add_argument("--methods", default="mpa-lya-inv,eig")
    p = sub.add_parser("train_step")
    p.add_argument("--arch", required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("ddp")
    p.add_argument("--world", type=int, required=True)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p = sub.add_parser("interop")
    p.add_argument("--dir", required=True)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--size", type=int, default=64)
    p = sub.add_parser("transforms_check")
    p.add_argument("--dir", required=True)
    args = parser.parse_args()
    return {"data_loader": data_loader, "transforms_check": transforms_check, "matfn": matfn, "invsqrt": invsqrt,
            "train_step": train_step, "interop": interop, "ddp": ddp}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
