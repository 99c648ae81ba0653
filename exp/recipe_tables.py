"""docs/RESULTS.md's condensed tables of an ablation, from its results.json (`egogym ablate NAME --report`).

    .venv/bin/python exp/recipe_tables.py /work/ablations/recipe2 [--variant pose_ik]

Prints two markdown tables for one drive (default: the joint head, `base`): success inside and
outside the robot demos' region per arm (per training seed and pooled, Wilson 95%), and each
co-trained arm against its references: paired (exact McNemar, Newcombe) and between runs (Welch
on the per-seed rates), inside and outside. Every number is the report's own; this only selects."""
import argparse
import json
from pathlib import Path

from egogym.eval.ablation.plan import equal_time_robot

parser = argparse.ArgumentParser()
parser.add_argument("out", type=Path)
parser.add_argument("--variant", default="base")
args = parser.parse_args()
res = json.loads((args.out / "results.json").read_text())
split, cfg = res["start_split"], res["config"]
human = [m for m in cfg["data"]["human"] if m]
labels = {}  # (robot, human) -> arm name, in table order: per robot count, robot-only, co-trained, controls
for n in sorted(cfg["data"]["robot"], reverse=True):
    labels[(n, 0)] = f"robot-only {n}"
    labels.update({(n, m): f"co-trained {n} + {m}" for m in human})
    for m in human:
        labels.setdefault((equal_time_robot(n, m), 0), f"equal time for {n} + {m}: robot-only {equal_time_robot(n, m)}")
    for m in human:
        labels.setdefault((n + m, 0), f"equal episodes for {n} + {m}: robot-only {n + m}")

def rate(p):
    lo, hi = p["interval"]
    return f"{p['successes']}/{p['episodes']} = {p['rate']:.1%} ({lo:.1%}-{hi:.1%})"


print("| arm (robot + human demos) | inside, per seed | inside, pooled (Wilson 95%) | outside, per seed | outside, pooled (Wilson 95%) |")
print("|---|---|---|---|---|")
order = list(labels)
groups = sorted((g for g in split["groups"] if g["variant"] == args.variant and g["recorded"]),
                key=lambda g: order.index((g["robot"], g["human"])))
for g in groups:
    seeds = {w: " / ".join(f"{x:.1%}" for x in g["per_seed"][w]) for w in ("inside", "outside")}
    print(f"| {labels[(g['robot'], g['human'])]} | {seeds['inside']} | "
          f"{rate(g['inside'])} | {seeds['outside']} | {rate(g['outside'])} |")

print()
print("| arm vs reference | paired inside | paired outside | between runs inside | between runs outside |")
print("|---|---|---|---|---|")


def key(t):
    return tuple(t["cotrained"]), t["variant"], tuple(t["reference_cell"]), t["reference_variant"]


def paired(t):
    return (f"{t['difference']:+.1%} ({t['interval'][0]:+.1%} to {t['interval'][1]:+.1%}), "
            f"p = {t['mcnemar_p_value']:.2g}")


def runs(t):
    if t is None:
        return "-"
    ci = "" if t["interval"][0] is None else f" ({t['interval'][0]:+.1%} to {t['interval'][1]:+.1%})"
    p = "-" if t["p_value"] is None else f"{t['p_value']:.2g}"
    return f"{t['difference']:+.1%}{ci}, p = {p}"


between = {key(t): t for t in split["between_runs"]}
outside = {key(t): t for t in split["paired"]["outside"]}
for t in sorted(split["paired"]["inside"], key=lambda t: order.index(tuple(t["cotrained"]))):
    k = key(t)
    if k[1] != args.variant or k[3] != args.variant:
        continue
    b = between.get(k, {})
    print(f"| {labels[k[0]]} vs {labels[k[2]]} | {paired(t)} | {paired(outside[k]) if k in outside else '-'} | "
          f"{runs(b.get('inside'))} | {runs(b.get('outside'))} |")
