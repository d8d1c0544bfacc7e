#!/usr/bin/env python3
"""PyTorch eager forward+backward of W4's loss (no optimizer step), the reference of issue 3's second target:
Jx's eager ValueAndGrad of the same loss must not be slower. Same model, batch and threads as
shared/peers/torch_cpu.py's W4, whose step also includes Adam.

Usage: /usr/bin/python3 torch_fwd_bwd.py [--threads N] [--quick]
Prints one JSON object: {"W4-fwd-bwd": median_ms, "W4-fwd": median_ms, "meta": {...}}.
"""
import argparse, json, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_ms(fn, reps):
    for _ in range(5):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0], times[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reps = 11 if args.quick else 31

    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    xb, yb = torch.randn(256, 784), torch.randint(0, 10, (256,))

    def fwd_bwd():
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        return loss.item()

    def fwd():
        with torch.no_grad():
            return F.cross_entropy(model(xb), yb).item()

    out, spread = {}, {}
    out["W4-fwd-bwd"], *spread["W4-fwd-bwd"] = median_ms(fwd_bwd, reps)
    out["W4-fwd"], *spread["W4-fwd"] = median_ms(fwd, reps)
    out["meta"] = {"peer": "pytorch-cpu", "torch": torch.__version__, "threads": args.threads, "spread_ms": spread}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
