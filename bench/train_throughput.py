"""Training throughput of the policy presets, against this machine's dense matmul rate.

For each preset: training samples/s (one robot + one human batch per optimizer step,
and robot-only), the latency of one query (batch 1, z = 0, eval mode), the model's
FLOPs per training sample (counted by torch's FlopCounterMode over forward + backward:
matmuls, convolutions, attention), and the machine's dense fp32 matmul rate measured
in the same run. Utilization = FLOPs/sample x samples/s / matmul rate.

Inputs are synthetic in-memory batches at the preset's image size, so the numbers are
the model's, not the data loader's. `--design` also measures the candidate shapes the
`cpu` preset was chosen from (docs/POLICIES.md).

    python bench/train_throughput.py                    # smoke + cpu (+ paper at --paper-size)
    python bench/train_throughput.py --design           # the cpu-preset design table
    python bench/train_throughput.py --presets cpu --seconds 20
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from egogym.core.arms import Arms  # noqa: E402
from egogym.policies.batch import ModelInputs  # noqa: E402
from egogym.policies.config import Config, preset  # noqa: E402
from egogym.policies.device import autocast, resolve_device  # noqa: E402
from egogym.policies.model import EgoACT  # noqa: E402
from egogym.policies.objective import cotrain_loss, make_optimizer  # noqa: E402

# Candidate shapes measured for the cpu preset (overrides on top of `cpu`), in the order tried.
_A = {"model.hidden": 256, "model.ff": 1024, "model.heads": 8, "model.conv_channels": "32,64,128,256",
      "model.enc_layers": 2, "model.dec_layers": 2, "model.style_layers": 2, "model.queries": 100,
      "model.style_points": 100, "model.dropout": 0.1, "train.batch_size": 16}
# F: D without dropout, as overrides of today's `cpu` preset (the model's shape is what this
# script times: its inputs are synthetic tensors, so crops and sampling options do not count).
_F = {"model.hidden": 256, "model.ff": 1024, "model.heads": 8, "model.queries": 10}
DESIGN = {
    "A: issue baseline (h256, 2/2/2, 100 q, 100 style pts)": _A,
    "B: A with 10 queries": {**_A, "model.queries": 10},
    "C: B with 10 style pts": {**_A, "model.queries": 10, "model.style_points": 10},
    "D: C, 1 style layer": {**_A, "model.queries": 10, "model.style_points": 10, "model.style_layers": 1},
    "E: D at h128, ff512 (cpu until 2026-11-28)": {
        **_A, "model.queries": 10, "model.style_points": 10, "model.style_layers": 1, "model.hidden": 128,
        "model.ff": 512, "model.heads": 4, "model.conv_channels": "32,64,128,128"},
    "F: D without dropout (cpu 2026-11-28 to 12-02)": _F,
    "G: F, batch 32": {**_F, "train.batch_size": 32},
    "H: F at 96x96": {**_F, "model.image_size": "96,96"},
    "I: cpu now (the recipe at h128, 25 queries)": {},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(n: int = 1024, seconds: float = 2.0, device: torch.device = torch.device("cpu")) -> float:
    """Best dense matmul rate (GFLOP/s) of n x n by n x n products over `seconds`: fp32 on the CPU,
    bf16 on CUDA (the precision training runs in there: the reference of model FLOP utilisation)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    _sync(device)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        _sync(device)
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


RIGHT = Arms.parse("right")


def synthetic_inputs(cfg: Config, domain: str, batch: int, arms: Arms = RIGHT,
                     device: torch.device = torch.device("cpu")) -> ModelInputs:
    """Normalized random inputs of one domain's batch (the model's view; no I/O), on `device`."""
    h, w = cfg.model.image_size
    g = torch.Generator().manual_seed(0)
    images = {"front": torch.rand(batch, 3, h, w, generator=g).to(device)}
    if domain == "robot" and cfg.model.wrist_key:
        images["wrist"] = torch.rand(batch, 3, h, w, generator=g).to(device)
    a_dim = arms.joint_width + arms.xyz_width if domain == "robot" else arms.xyz_width
    p_dim = arms.joint_width if domain == "robot" else arms.xyz_width
    return ModelInputs(domain, images, torch.randn(batch, p_dim, generator=g).to(device),
                       torch.randn(batch, cfg.model.chunk, a_dim, generator=g).to(device),
                       torch.zeros(batch, cfg.model.chunk, dtype=torch.bool).to(device))


def measure(cfg: Config, batch: int, seconds: float, human: bool = True,
            device: torch.device = torch.device("cpu")) -> dict:
    torch.manual_seed(0)
    domains = ("robot", "human") if human else ("robot",)
    model = EgoACT(cfg.model, RIGHT, domains).to(device)
    opt = make_optimizer(model, cfg.train)
    robot = synthetic_inputs(cfg, "robot", batch, device=device)
    hum = synthetic_inputs(cfg, "human", batch, device=device) if human else None
    per_step = batch * (2 if human else 1)

    def step():
        with autocast(device):
            loss, _ = cotrain_loss(model, robot, hum, cfg.train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    with FlopCounterMode(display=False) as fc:
        with autocast(device):
            loss, _ = cotrain_loss(model, robot, hum, cfg.train)
        loss.backward()
    flops_per_sample = fc.get_total_flops() / per_step
    for _ in range(3 if device.type == "cuda" else 1):  # warm-up (CUDA: kernel selection)
        step()
    _sync(device)
    times, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 2:
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    # The machine is shared: the fastest step approximates an uncontended one, the median a typical one.
    sps, sps_median = per_step / min(times), per_step / statistics.median(times)
    # One query: batch 1, eval mode, z = 0.
    model.eval()
    one = synthetic_inputs(cfg, "robot", 1, device=device)
    lat = []
    with torch.no_grad(), autocast(device):
        model("robot", one.images, one.proprio)
        for _ in range(25):
            t0 = time.perf_counter()
            model("robot", one.images, one.proprio)
            _sync(device)
            lat.append(time.perf_counter() - t0)
    return {"params_M": sum(p.numel() for p in model.parameters()) / 1e6, "batch": batch,
            "samples_per_s": sps, "steps_timed": len(times), "flops_per_sample_G": flops_per_sample / 1e9,
            "samples_per_s_median": sps_median, "query_ms": 1e3 * min(lat),
            "query_ms_median": 1e3 * statistics.median(lat)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="smoke,cpu,paper", help="comma-separated presets")
    ap.add_argument("--design", action="store_true", help="also measure the cpu-preset design candidates")
    ap.add_argument("--seconds", type=float, default=8.0, help="timed training seconds per row")
    ap.add_argument("--batch", type=int, default=0, help="per-domain batch (0: the preset's)")
    ap.add_argument("--paper-size", default=None,
                    help="paper preset image size H,W (default: 96,128 on the CPU, its own 480,640 on CUDA)")
    ap.add_argument("--paper-batch", type=int, default=0,
                    help="paper preset per-domain batch (default: 2 on the CPU, the preset's on CUDA)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (CUDA: bf16 autocast, bf16 matmul reference)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    args.paper_size = args.paper_size or ("480,640" if cuda else "96,128")
    torch.set_num_threads(args.threads)
    rows = []
    n_ref = 8192 if cuda else 1024
    rate = matmul_gflops(n_ref, device=device)
    print(f"dense {'bf16' if cuda else 'fp32'} matmul ({n_ref}^3 on {device}, {torch.get_num_threads()} threads): "
          f"{rate:.1f} GFLOP/s; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    todo = []
    for name in [p for p in args.presets.split(",") if p]:
        cfg = preset(name)
        batch = args.batch or cfg.train.batch_size
        label = name
        if name == "paper":
            cfg = cfg.with_overrides({"model.image_size": args.paper_size})
            batch = args.paper_batch or (cfg.train.batch_size if cuda else 2)
            label = f"paper @ {args.paper_size.replace(',', 'x')}"
        todo.append((label, cfg, batch))
    if args.design:
        base = preset("cpu")
        for label, ov in DESIGN.items():
            cfg = base.with_overrides(ov)
            todo.append((label, cfg, args.batch or cfg.train.batch_size))
    for label, cfg, batch in todo:
        for human in (True, False):
            r = measure(cfg, batch, args.seconds, human, device)
            r.update(name=label, cotrain=human, matmul_gflops=rate,
                     utilization=r["flops_per_sample_G"] * r["samples_per_s"] / rate,
                     utilization_median=r["flops_per_sample_G"] * r["samples_per_s_median"] / rate)
            rows.append(r)
            print(f"{label:55s} {'robot+human' if human else 'robot only ':11s} batch {batch:3d}  "
                  f"{r['params_M']:6.2f} M params  {r['samples_per_s']:7.2f} samples/s  "
                  f"(median {r['samples_per_s_median']:7.2f})  {r['flops_per_sample_G']:7.3f} GFLOP/sample  "
                  f"util {100 * r['utilization']:5.1f}% (median {100 * r['utilization_median']:5.1f}%)  "
                  f"query {r['query_ms']:6.1f} ms (median {r['query_ms_median']:6.1f})", flush=True)
    rate_end = matmul_gflops(n_ref, device=device)
    print(f"dense matmul at the end: {rate_end:.1f} GFLOP/s (start {rate:.1f})")
    print("\nbest step (median step in brackets); utilization against the best matmul rate at the start")
    print("| preset | data | batch/domain | params (M) | samples/s | GFLOP/sample | utilization | one query (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {'robot+human' if r['cotrain'] else 'robot only'} | {r['batch']} | "
              f"{r['params_M']:.2f} | {r['samples_per_s']:.1f} ({r['samples_per_s_median']:.1f}) | "
              f"{r['flops_per_sample_G']:.3f} | {100 * r['utilization']:.0f}% ({100 * r['utilization_median']:.0f}%) | "
              f"{r['query_ms']:.1f} ({r['query_ms_median']:.1f}) |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": str(device), "matmul_gflops": [rate, rate_end],
                                         "matmul_dtype": "bf16" if cuda else "fp32", "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
