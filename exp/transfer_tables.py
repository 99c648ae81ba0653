"""Issue 24's ladder and bridges tables: arms of several grids against robot-only, inside and outside.

    .venv/bin/python exp/transfer_tables.py REF_GRID LABEL=GRID:VARIANT [LABEL=GRID:VARIANT ...]

GRID is an ablation's --out folder or its kept cells (`docs/results/NAME_cells`); REF_GRID holds the
robot-only cells (`r200_h0_base_s*`) every arm is compared with (all of issue 24's grids share them:
the same robot data, seed 0). Per arm, pooled over its training seeds: inside / outside the robot
demos' region (k/n, Wilson 95%), the outside successes per seed, and against robot-only on the
outside episodes: the paired difference (McNemar exact, Newcombe 95%; pairs = evaluation seed x
training seed, over the seeds both have) and the between-run test (Welch on the per-seed rates,
3 runs a side when both have them). Prints one markdown table.
"""
import gzip
import json
import sys
from pathlib import Path

from egogym.eval.ablation.config import config_from_dict
from egogym.eval.ablation.report import in_region, split_regions
from egogym.eval.metrics import between_runs_test, paired_comparison, wilson_interval


def grid_runs(grid: Path, variant: str, human: int | None) -> tuple[dict[int, list[dict]], tuple]:
    """{training seed: evaluation records} of a grid's cells of `variant`, and the robot demos' region."""
    cfg = config_from_dict(json.loads((grid / "ablation_config.json").read_text()))
    robot_region, _ = split_regions(cfg)
    runs = {}
    cells = sorted(grid.glob("cells/*/cell.json")) or sorted(grid.glob("*/cell.json"))
    for marker in cells:
        c = json.loads(marker.read_text())["cell"]
        if c["variant"] != variant or (human is not None and c["human"] != human):
            continue
        if human is None and c["human"] == 0:
            continue
        log = marker.parent / "eval" / "episodes.jsonl"
        text = log.read_text() if log.exists() else gzip.open(marker.parent / "episodes.jsonl.gz", "rt").read()
        wanted = range(cfg.eval.seed, cfg.eval.seed + cfg.eval.episodes)
        recs = {}
        for line in text.splitlines():
            r = json.loads(line)
            if r.get("seed") in wanted:
                recs[r["seed"]] = r  # a resumed evaluation's last record of a seed
        runs[c["seed"]] = list(recs.values())
    return runs, robot_region


def split(runs, region, inside: bool) -> dict[int, list[dict]]:
    return {s: [r for r in recs if in_region(r["start"]["toy_xy"], region) == inside] for s, recs in runs.items()}


def rate(by_seed) -> str:
    k = sum(bool(r["success"]) for recs in by_seed.values() for r in recs)
    n = sum(len(recs) for recs in by_seed.values())
    lo, hi = wilson_interval(k, n)
    return f"{k}/{n} = {100 * k / n:.1f}% ({100 * lo:.0f}-{100 * hi:.0f})"


def versus(ref, arm) -> tuple[str, str]:
    seeds = sorted(set(ref) & set(arm))
    a = [{**r, "seed": r["seed"] + s * 10**9} for s in seeds for r in ref[s]]
    b = [{**r, "seed": r["seed"] + s * 10**9} for s in seeds for r in arm[s]]
    pc = paired_comparison(a, b)
    paired = (f"{pc.only_a} / {pc.only_b}, {100 * pc.difference:+.1f} ({100 * pc.interval[0]:+.1f} to "
              f"{100 * pc.interval[1]:+.1f}), p = {pc.mcnemar_p_value:.2g}")
    rates = lambda runs: [sum(bool(r["success"]) for r in runs[s]) / len(runs[s]) for s in sorted(runs)]  # noqa: E731
    if min(len(ref), len(arm)) < 2:
        return paired, "one run"
    bt = between_runs_test(rates(ref), rates(arm))
    return paired, f"{100 * bt.difference:+.1f} ({100 * bt.interval[0]:+.1f} to {100 * bt.interval[1]:+.1f}), p = {bt.p_value:.2g}"


def main(argv: list[str]) -> None:
    ref_runs, region = grid_runs(Path(argv[0]), "base", 0)
    rows = [("robot-only", ref_runs)]
    for spec in argv[1:]:
        label, where = spec.split("=", 1)
        grid, variant = where.rsplit(":", 1)
        rows.append((label, grid_runs(Path(grid), variant, None)[0]))
    print("| arm | runs | inside | outside | outside per run | outside vs robot-only, paired: only robot-only / only arm, "
          "difference (95%), p | outside vs robot-only, between runs: difference (95%), p | inside vs robot-only, paired |")
    print("|---|---|---|---|---|---|---|---|")
    ref_out, ref_in = split(ref_runs, region, False), split(ref_runs, region, True)
    for label, runs in rows:
        if not runs:
            print(f"| {label} | 0 | | | | | | |")
            continue
        out, ins = split(runs, region, False), split(runs, region, True)
        per = ", ".join(str(sum(bool(r["success"]) for r in out[s])) for s in sorted(out))
        if runs is ref_runs:
            print(f"| {label} | {len(runs)} | {rate(ins)} | {rate(out)} | {per} | | | |")
            continue
        p_out, b_out = versus(ref_out, out)
        p_in, _ = versus(ref_in, ins)
        print(f"| {label} | {len(runs)} | {rate(ins)} | {rate(out)} | {per} | {p_out} | {b_out} | {p_in} |")


if __name__ == "__main__":
    main(sys.argv[1:])
