"""`egogym compare SIM_EVALS REAL_EVALS`: does the sim rank policies as the real robot does?

SIM_EVALS and REAL_EVALS are folders of evaluations (`egogym eval --out DIR/NAME`). A
policy evaluated in both is one whose subfolder NAME holds an `episodes.jsonl` on both
sides. For those policies we compute, from the records (not from summaries), each
side's success rate (or mean points with `--metric points`) and:

- Pearson r between the sim and real values (needs 3 or more policies and values that
  are not all equal on either side; higher is better, at most 1);
- MMRV, the Mean Maximum Rank Violation of SIMPLER (Li et al., 2024): for policies i, j,
  a rank violation RV(i, j) = |real_i - real_j| when sim and real order the pair
  differently ((sim_i < sim_j) != (real_i < real_j)), else 0; MMRV = mean over i of
  max over j of RV(i, j). In [0, 1] for success rates; 0 is a perfect ranking; a wrong
  order of policies whose real values are close costs little.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from egogym.core.outputs import write_text_atomic
from egogym.core.errors import UserError
from egogym.eval.config import EPISODES_FILE
from egogym.eval.metrics import wilson_interval
from egogym.eval.records import read_records

METRICS = ("success", "points")


def pearson_r(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation of x and y; None when undefined (fewer than 3 points, or a constant side)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"pearson_r: x and y must be 1-D of one length, got {a.shape} and {b.shape}")
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / math.sqrt((a @ a) * (b @ b)))


def mmrv(sim: Sequence[float], real: Sequence[float]) -> float:
    """Mean Maximum Rank Violation between sim and real values of the same policies (lower is better)."""
    s, r = np.asarray(sim, dtype=float), np.asarray(real, dtype=float)
    if s.shape != r.shape or s.ndim != 1 or s.size < 2:
        raise ValueError(f"mmrv: need two 1-D arrays of one length >= 2, got {s.shape} and {r.shape}")
    violated = (s[:, None] < s[None, :]) != (r[:, None] < r[None, :])
    rv = np.abs(r[:, None] - r[None, :]) * violated
    return float(rv.max(axis=1).mean())


def policy_value(eval_dir: Path, metric: str) -> tuple[float, int, int]:
    """(value, successes, episodes) of one evaluation folder, from its episode records."""
    records, _ = read_records(eval_dir / EPISODES_FILE)
    if not records:
        raise UserError(f"{eval_dir / EPISODES_FILE}: no episode records; run `egogym eval --out {eval_dir}` first")
    k = sum(r["success"] for r in records)
    if metric == "success":
        return k / len(records), k, len(records)
    return float(np.mean([r["points"] for r in records])), k, len(records)


def evaluated_policies(root: Path, flag: str) -> dict[str, Path]:
    if not root.is_dir():
        raise UserError(f"{flag} {root}: not a folder; give the folder holding one evaluation per policy")
    return {p.name: p for p in sorted(root.iterdir()) if (p / EPISODES_FILE).is_file()}


def compare(sim_root: Path, real_root: Path, metric: str = "success") -> dict:
    """Per-policy values and the agreement statistics for policies evaluated on both sides."""
    sim, real = evaluated_policies(sim_root, "SIM_EVALS"), evaluated_policies(real_root, "REAL_EVALS")
    names = sorted(set(sim) & set(real))
    if len(names) < 2:
        raise UserError(f"{sim_root} and {real_root} share {len(names)} evaluated policies ({', '.join(names) or 'none'}); "
                        f"comparing needs at least 2 subfolders of the same name with an {EPISODES_FILE} on both sides")
    rows = []
    for n in names:
        sv, sk, sn = policy_value(sim[n], metric)
        rv, rk, rn = policy_value(real[n], metric)
        rows.append({"policy": n, "sim": sv, "real": rv, "sim_episodes": sn, "real_episodes": rn,
                     "sim_interval": list(wilson_interval(sk, sn)) if metric == "success" else None,
                     "real_interval": list(wilson_interval(rk, rn)) if metric == "success" else None})
    s, r = [x["sim"] for x in rows], [x["real"] for x in rows]
    return {"metric": metric, "policies": rows, "pearson_r": pearson_r(s, r), "mmrv": mmrv(s, r),
            "only_in_sim": sorted(set(sim) - set(real)), "only_in_real": sorted(set(real) - set(sim))}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sim_evals", metavar="SIM_EVALS", help="folder of sim evaluations, one subfolder per policy")
    p.add_argument("real_evals", metavar="REAL_EVALS", help="folder of real evaluations, same subfolder names")
    p.add_argument("--metric", choices=METRICS, default="success", help="success rate (default) or mean points")
    p.add_argument("--out", help="also write the result as JSON to this file")


def run(args: argparse.Namespace) -> int:
    res = compare(Path(args.sim_evals), Path(args.real_evals), args.metric)
    label = "success rate" if args.metric == "success" else "mean points"
    print(f"{'policy':24s} {'sim ' + label:>22s} {'real ' + label:>22s}")
    for row in res["policies"]:
        fmt = (lambda v, n: f"{v:.1%} (n={n})") if args.metric == "success" else (lambda v, n: f"{v:.2f} (n={n})")
        print(f"{row['policy']:24s} {fmt(row['sim'], row['sim_episodes']):>22s} {fmt(row['real'], row['real_episodes']):>22s}")
    r = res["pearson_r"]
    print(f"Pearson r: {'undefined (needs 3+ policies and non-constant values)' if r is None else f'{r:.3f}'}")
    print(f"MMRV: {res['mmrv']:.3f} (0 = same ranking; lower is better)")
    for key, side in (("only_in_sim", "sim"), ("only_in_real", "real")):
        if res[key]:
            print(f"evaluated only in {side} (left out): {', '.join(res[key])}")
    if args.out:
        write_text_atomic(args.out, json.dumps(res, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0
