"""
The PyTorch speed peer of `icl-lab bench`, self-contained: the seed's training step with the model of
icl_lab_torch.py, float32 on CPU.

Each step is the seed's run_experiment step: a fresh batch of the seed's task (B = 128, d = 5, L = 40,
x, x_q, beta ~ N(0, I), y_i = beta.x_i + sqrt(d) * 0.01 * eps_i, y_q = beta.x_q; drawn in the seed's
order x, x_q, beta, eps), zero_grad, forward, MSELoss, backward, Adam(lr 1e-3) step, loss.item().
It prints the mean steps per second over the timed steps (after a warm-up), which is the statistic
`icl-lab bench --json` reports as `steps_per_second`: compare mean with mean, both programs pinned to
the same core (`taskset -c 1`), measured in one sitting.

    python python/bench_torch.py --heads 1 2 4 8 [--steps 2000] [--attention linear] [--json out.json]
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from icl_lab_torch import ATTENTIONS, OneLayerModel  # noqa: E402


def seed_batch(B, L, d, noise_std):
    x = torch.randn(B, L, d)
    x_q = torch.randn(B, 1, d)
    beta = torch.randn(B, d, 1)
    y = x @ beta + math.sqrt(d) * noise_std * torch.randn(B, L, 1)
    y_q = x_q @ beta
    return torch.cat([x_q, torch.zeros_like(y_q)], dim=2), torch.cat([x, y], dim=2), y_q


def bench_one(H, steps, warmup, attention, d=5, L=40, B=128, noise_std=0.01, seed=0):
    torch.manual_seed(seed)
    model = OneLayerModel(d, H, 1, attention)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss_func = torch.nn.MSELoss()
    last = float("nan")

    def step():
        z_q, z, y_q = seed_batch(B, L, d, noise_std)
        opt.zero_grad()
        loss = loss_func(model(z_q, z), y_q)
        loss.backward()
        opt.step()
        return loss.detach().item()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        last = step()
    return steps / (time.perf_counter() - t0), last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heads", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--steps", type=int, default=2000, help="timed steps per head count")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--attention", default="softmax", choices=ATTENTIONS)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    a = ap.parse_args()
    if a.steps < 1 or a.warmup < 0 or a.threads < 1 or any(h < 1 for h in a.heads):
        ap.error("--steps, --threads and --heads must be positive, --warmup non-negative")
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, python {platform.python_version()}, {a.threads} thread(s), "
          f"{a.attention} attention, {a.steps} steps after {a.warmup} warm-up", flush=True)
    rows = []
    for H in a.heads:
        sps, last = bench_one(H, a.steps, a.warmup, a.attention)
        rows.append({"H": H, "attention": a.attention, "threads": a.threads, "steps_per_second": sps, "last_loss": last})
        print(f"H={H}: {sps:8.1f} steps/s  ({1e6 / sps:7.1f} us/step, last loss {last:.3f})", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "steps": a.steps, "warmup": a.warmup, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
