#!/usr/bin/env python3
"""PyTorch reference for `npm run bench -- --compare-pytorch`.

The same two models as the seed tutorials and samples/*.latent.json, trained in PyTorch eager mode:

- dense-autoencoder (seed 000): 784-128-64-32-16-64-128-784, ReLU, sigmoid output,
  binary cross-entropy, Adadelta(lr=1.0, rho=0.95, eps=1e-7), batch 256.
- fashion-conv-autoencoder (seed 003): Conv2D 16/8/4 (3x3 same, ReLU) each followed by
  MaxPooling2D 2x2 'same' down to 4x4x4, then Conv2D 8/8 (same) + UpSampling2D, Conv2D 16 (valid)
  + UpSampling2D, Conv2D 1 (same, sigmoid); mean squared error, Adam(lr=1e-3, eps=1e-7), batch 128.

Data: random float32 in [0, 1) with the datasets' shapes (speed does not depend on the pixel
values). PyTorch's native NCHW layout is used for the conv model (Keras/tfjs use NHWC); the
arithmetic is the same. Keras' 'same' pooling of 7x7 to 4x4 is MaxPool2d(ceil_mode=True).

Each step is what the tfjs training loop does per batch: gather a shuffled batch from the
in-memory set, forward, loss, backward, optimizer step, accumulate the loss on the device.
Untimed warm-up steps come first; then the timed steps. Prints one JSON line per model:
{model, engine: "pytorch", threads, batchSize, samplesPerSec, ...}.
"""
import argparse
import json
import os
import sys
import time

import torch
from torch import nn

MODELS = {
    "dense-autoencoder": {"batchSize": 256, "shape": (784,)},
    "fashion-conv-autoencoder": {"batchSize": 128, "shape": (1, 28, 28)},
}


def dense_autoencoder():
    sizes = [784, 128, 64, 32, 16, 64, 128]
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers += [nn.Linear(128, 784), nn.Sigmoid()]
    model = nn.Sequential(*layers)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    return model, opt, nn.BCELoss()


def conv_autoencoder():
    def conv(cin, cout, padding=1):
        return nn.Conv2d(cin, cout, 3, padding=padding)

    model = nn.Sequential(
        conv(1, 16), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),  # 28 -> 14
        conv(16, 8), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),  # 14 -> 7
        conv(8, 4), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),  # 7 -> 4 ('same')
        conv(4, 8), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),  # 4 -> 8
        conv(8, 8), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),  # 8 -> 16
        conv(8, 16, padding=0), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),  # 16 -> 14 -> 28
        conv(16, 1), nn.Sigmoid(),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    return model, opt, nn.MSELoss()


BLAS = None
BUILD = {"dense-autoencoder": dense_autoencoder, "fashion-conv-autoencoder": conv_autoencoder}


def blas_in_use():
    """The BLAS library this process loaded (Debian's torch takes whatever libblas.so.3 resolves to)."""
    torch.rand(64, 64) @ torch.rand(64, 64)  # make sure the BLAS is loaded
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return None
    names = sorted({os.path.basename(os.path.realpath(p)) for p in paths if any(k in os.path.basename(p).lower() for k in ("blas", "mkl_rt", "mkl_core", "blis"))})
    if not names:
        return None
    kind = "OpenBLAS" if any("openblas" in n for n in names) else "MKL" if any("mkl" in n for n in names) else "BLIS" if any("blis" in n for n in names) else "reference BLAS" if any(n.startswith("libblas") for n in names) else "?"
    return f"{kind} ({', '.join(names)})"


def bench(name, device, warmup, steps, samples):
    spec = MODELS[name]
    batch = spec["batchSize"]
    torch.manual_seed(42)
    model, opt, loss_fn = BUILD[name]()
    model.to(device).train()
    data = torch.rand((samples,) + spec["shape"], dtype=torch.float32, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    state = {"order": torch.randperm(samples, device=device), "pos": 0}

    def step(loss_sum):
        if state["pos"] + batch > samples:
            state["order"] = torch.randperm(samples, device=device)
            state["pos"] = 0
        idx = state["order"][state["pos"]:state["pos"] + batch]
        state["pos"] += batch
        xs = data[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs), xs)
        loss.backward()
        opt.step()
        return loss_sum + loss.detach() * batch

    loss_sum = torch.zeros((), device=device)
    for _ in range(warmup):
        loss_sum = step(loss_sum)
    loss_sum.item()
    sync()
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    for _ in range(steps):
        loss_sum = step(loss_sum)
    mean_loss = loss_sum.item() / (steps * batch)  # read back once, as the tfjs loop does per epoch
    sync()
    seconds = time.perf_counter() - t0
    return {
        "model": name,
        "engine": "pytorch",
        "device": device.type,
        "threads": torch.get_num_threads(),
        "batchSize": batch,
        "samplesPerSec": round(steps * batch / seconds),
        "measuredSamples": steps * batch,
        "seconds": round(seconds, 3),
        "loss": round(mean_loss, 5),
        "torchVersion": torch.__version__,
        "blas": BLAS,
        "data": "random float32",
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", choices=sorted(MODELS), help="repeatable; default: both")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (cuda when available, and cpu)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: os.cpu_count())")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (default 10)")
    p.add_argument("--seconds", type=float, default=5.0, help="time the model for about this long (default 5)")
    p.add_argument("--min-steps", type=int, default=20, help="at least this many timed steps (default 20)")
    p.add_argument("--samples", type=int, default=8192, help="random samples held in memory (default 8192)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    global BLAS
    BLAS = blas_in_use()
    devices = []
    if args.device in ("cpu", "auto"):
        devices.append(torch.device("cpu"))
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))

    for device in devices:
        for name in args.model or list(MODELS):
            # A short probe sets the step count so each model is timed for about --seconds.
            probe = bench(name, device, warmup=args.warmup, steps=5, samples=args.samples)
            per_step = probe["seconds"] / 5
            steps = max(args.min_steps, int(args.seconds / max(per_step, 1e-6)))
            line = bench(name, device, warmup=args.warmup, steps=steps, samples=args.samples)
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
