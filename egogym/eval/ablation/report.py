"""The report of an ablation: success per cell pooled over training seeds with Wilson
intervals, two-proportion tests against the robot-only reference and the controls, success
split by where the toy started, `report.md`, `scaling.png` and `results.json`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from egogym.core.outputs import write_text_atomic
from egogym.core.errors import UserError
from egogym.core.provenance import CPU_FEATURES
from egogym.eval.ablation.config import AblationConfig
from egogym.policies.config import HUMAN_DRIVES
from egogym.eval.ablation.plan import DRIVE_VARIANTS, HUMAN_DEMOS_PER_HOUR, drive_named, drive_of, ROBOT_DEMOS_PER_HOUR, collection_hours, equal_time_robot
from egogym.eval.metrics import between_runs_test, paired_comparison, two_proportion_test, wilson_interval


COMPARED_VARIANTS = ("base", *DRIVE_VARIANTS.values())
"""Variants whose co-trained cells are tested against robot-only cells of the same variant."""


def _arm(test: dict) -> str:
    """The co-trained arm of a test, with its variant unless it is the base one (EgoMimic's execution)."""
    v = test.get("variant", "base")
    return str(tuple(test["cotrained"])) + ("" if v == "base" else f" {v}")


def pooled(results: list[dict]) -> dict:
    """Episodes pooled over training seeds: successes, episodes, rate, Wilson interval, per-seed rates."""
    k = sum(r["summary"]["successes"] for r in results)
    n = sum(r["summary"]["episodes"] for r in results)
    per_seed = [r["summary"]["success_rate"] for r in results]
    pts = [r["summary"]["mean_points"] for r in results]
    return {"successes": k, "episodes": n, "rate": k / n, "interval": list(wilson_interval(k, n)),
            "per_seed": per_seed, "mean_points": sum(pts) / len(pts), "seeds": len(results)}


def group_results(results: list[dict]) -> dict[tuple[int, int, str], dict]:
    groups: dict[tuple[int, int, str], list[dict]] = {}
    for r in results:
        c = r["cell"]
        groups.setdefault((c["robot"], c["human"], c["variant"]), []).append(r)
    return {k: pooled(v) for k, v in groups.items()}


# ---- success by start region ----------------------------------------------------

Region = tuple[tuple[float, float], tuple[float, float]]


def _region(value: Any) -> Region:
    (x0, x1), (y0, y1) = value
    return (float(x0), float(x1)), (float(y0), float(y1))


def split_regions(cfg: AblationConfig) -> tuple[Region, Region] | None:
    """(robot demos' toy_region, evaluation's toy_region), ((x_lo, x_hi), (y_lo, y_hi)) in
    metres, world frame, when the robot's is a strict sub-region of the evaluation's; else
    None (nothing to split: the robot demos cover every evaluation placement, or the task
    has no toy_region). Unset options are the task's defaults."""
    from egogym.tasks import make_task

    try:
        robot = getattr(make_task(cfg.task, **cfg.data.robot_task_options), "toy_region", None)
        evaluation = getattr(make_task(cfg.task, **cfg.eval.task_options), "toy_region", None)
    except (TypeError, ValueError) as e:
        raise UserError(f"[data] robot_task_options / [eval] task_options for task {cfg.task!r}: {e}") from None
    if robot is None or evaluation is None:
        return None
    r, e = _region(robot), _region(evaluation)
    inside = all(e[i][0] <= r[i][0] and r[i][1] <= e[i][1] for i in (0, 1))
    return (r, e) if inside and r != e else None


def in_region(xy: Any, region: Region) -> bool:
    """True if the point (x, y) (m, world) lies in region, borders included."""
    (x0, x1), (y0, y1) = region
    return x0 <= float(xy[0]) <= x1 and y0 <= float(xy[1]) <= y1


def cell_records(cfg: AblationConfig, result: dict, out_dir: Path, need_start: bool = True) -> list[dict] | None:
    """The evaluation records of a finished cell (its evaluation seeds only), or None when
    the episode log is missing or (need_start) any record lacks `start` (evaluated before
    records had it)."""
    from egogym.eval.config import EPISODES_FILE
    from egogym.eval.records import read_records

    c = result["cell"]
    name = result.get("name") or f"r{c['robot']}_h{c['human']}_{c['variant']}_s{c['seed']}"
    records, _ = read_records(out_dir / "cells" / name / "eval" / EPISODES_FILE)
    wanted = range(cfg.eval.seed, cfg.eval.seed + cfg.eval.episodes)
    records = [r for r in records if r["seed"] in wanted]
    if not records or (need_start and any("toy_xy" not in r.get("start", {}) for r in records)):
        return None
    return records


def paired_tests(cfg: AblationConfig, results: list[dict], out_dir: Path, references,
                 keep: Callable[[dict], bool] | None = None) -> list[dict]:
    """Each co-trained group against each of its references, paired: a pair is one evaluation
    seed under one training seed (every cell is evaluated on the same seeds), so the exact
    McNemar test and Newcombe's interval use the pairing the unpaired tests ignore.
    `references`: (label, (robot, human, variant) of the co-trained group, reference key).
    keep: a filter on evaluation records (a start region); then cells whose records lack
    `start` are left out, never guessed."""
    by_key: dict[tuple, dict[int, dict]] = {}
    for r in results:
        c = r["cell"]
        by_key.setdefault((c["robot"], c["human"], c["variant"]), {})[c["seed"]] = r
    out = []
    for label, key, ref in references:
        if key not in by_key or ref not in by_key:
            continue
        a_recs, b_recs = [], []
        for seed in sorted(set(by_key[key]) & set(by_key[ref])):
            ra = cell_records(cfg, by_key[ref][seed], out_dir, need_start=keep is not None)
            rb = cell_records(cfg, by_key[key][seed], out_dir, need_start=keep is not None)
            if ra is None or rb is None:
                continue
            offset = seed * 10**9  # keep the training seeds' pairs apart
            a_recs += [{**x, "seed": x["seed"] + offset} for x in ra if keep is None or keep(x)]
            b_recs += [{**x, "seed": x["seed"] + offset} for x in rb if keep is None or keep(x)]
        if a_recs and b_recs:
            out.append({"cotrained": list(key[:2]), "variant": key[2], "reference": label,
                        "reference_cell": list(ref[:2]), "reference_variant": ref[2],
                        **paired_comparison(a_recs, b_recs).to_dict()})
    return out


def _rate(records: list[dict]) -> dict:
    k, n = sum(bool(r["success"]) for r in records), len(records)
    return {"successes": k, "episodes": n, "rate": k / n if n else None,
            "interval": list(wilson_interval(k, n)) if n else None}


def start_split(cfg: AblationConfig, results: list[dict], out_dir: Path, references=()) -> dict | None:
    """Success by start region per (robot, human, variant), pooled over training seeds;
    two-proportion tests of co-trained vs robot-only (same robot demos) on the episodes whose
    toy started outside the robot demos' region; and the paired tests of `references`
    (as `paired_tests`) on the episodes inside and on those outside. None when
    `split_regions` is None. A group with a cell whose records lack `start` is marked not
    recorded (never guessed)."""
    regions = split_regions(cfg)
    if regions is None:
        return None
    robot_region, eval_region = regions
    by_group: dict[tuple[int, int, str], list[dict]] = {}
    for r in results:
        c = r["cell"]
        by_group.setdefault((c["robot"], c["human"], c["variant"]), []).append(r)
    groups: dict[tuple[int, int, str], dict] = {}
    for key, cells in sorted(by_group.items()):
        per_cell = [cell_records(cfg, r, out_dir) for r in cells]
        if any(p is None for p in per_cell):
            missing = sorted(r.get("name") or str(r["cell"]["seed"]) for r, p in zip(cells, per_cell) if p is None)
            groups[key] = {"recorded": False, "cells_without_start": missing}
            continue
        where = {"inside": [], "outside": []}
        per_seed = {"inside": [], "outside": []}
        for r, p in sorted(zip(cells, per_cell), key=lambda rp: rp[0]["cell"]["seed"]):
            for name, keep in (("inside", True), ("outside", False)):
                chosen = [x for x in p if in_region(x["start"]["toy_xy"], robot_region) == keep]
                where[name] += chosen
                if chosen:  # a run without episodes in a region has no rate there
                    per_seed[name].append(sum(bool(x["success"]) for x in chosen) / len(chosen))
        groups[key] = {"recorded": True, "inside": _rate(where["inside"]), "outside": _rate(where["outside"]),
                       "per_seed": per_seed}
    tests = []
    for (n, m, v), g in groups.items():
        ref = groups.get((n, 0, "base"))
        if m == 0 or v != "base" or not g["recorded"] or ref is None or not ref["recorded"]:
            continue
        a, b = ref["outside"], g["outside"]
        if a["episodes"] and b["episodes"]:
            t = two_proportion_test(a["successes"], a["episodes"], b["successes"], b["episodes"])
            tests.append({"cotrained": [n, m], "reference_cell": [n, 0], **t.to_dict()})
    paired = {where: paired_tests(cfg, results, out_dir, references,
                                  keep=lambda x, inside=where == "inside":
                                  in_region(x["start"]["toy_xy"], robot_region) == inside)
              for where in ("inside", "outside")}
    between = []  # the run as the unit, per region: what new runs of each arm would do there
    for label, key, ref in references:
        a, b = groups.get(ref), groups.get(key)
        if key[:2] == ref[:2] or not (a and b and a["recorded"] and b["recorded"]):  # same runs: paired only
            continue
        runs = {where: between_runs_test(a["per_seed"][where], b["per_seed"][where]).to_dict()
                for where in ("inside", "outside")
                if min(len(a["per_seed"][where]), len(b["per_seed"][where])) >= 2}
        if runs:
            between.append({"cotrained": list(key[:2]), "variant": key[2], "reference": label,
                            "reference_cell": list(ref[:2]), "reference_variant": ref[2], **runs})
    return {"robot_toy_region": robot_region, "eval_toy_region": eval_region, "tests": tests, "paired": paired,
            "between_runs": between,
            "groups": [{"robot": k[0], "human": k[1], "variant": k[2], **v} for k, v in groups.items()]}


def _split_lines(split: dict) -> list[str]:
    (rx0, rx1), (ry0, ry1) = split["robot_toy_region"]
    (ex0, ex1), (ey0, ey1) = split["eval_toy_region"]
    lines = ["", "## Success by where the toy started", "",
             f"Robot demos placed the toy in x {rx0:g}..{rx1:g}, y {ry0:g}..{ry1:g} m (world); the evaluation in "
             f"x {ex0:g}..{ex1:g}, y {ey0:g}..{ey1:g} m. Each evaluation episode is counted by its toy's start "
             "(the record's `start.toy_xy`): *inside* the robot demos' region, or *outside* it, where only human "
             "demos showed the toy. Pooled over training seeds, Wilson 95% intervals.", "",
             "| robot demos | human demos | variant | inside: success | inside 95% CI | outside: success | "
             "outside 95% CI |", "|---|---|---|---|---|---|---|"]

    def cell(p: dict) -> tuple[str, str]:
        if not p["episodes"]:
            return "no episodes", "-"
        return (f"{p['successes']}/{p['episodes']} = {p['rate']:.1%}",
                f"{p['interval'][0]:.1%}-{p['interval'][1]:.1%}")

    for g in split["groups"]:
        head = f"| {g['robot']} | {g['human']} | {g['variant']} |"
        if not g["recorded"]:
            lines.append(f"{head} not recorded | - | not recorded | - |")
            continue
        (si, ci), (so, co) = cell(g["inside"]), cell(g["outside"])
        lines.append(f"{head} {si} | {ci} | {so} | {co} |")
    if any(not g["recorded"] for g in split["groups"]):
        lines += ["", "Not recorded: these cells were evaluated before episode records carried the start "
                      "placement; only a new evaluation of their policies with this version can split them."]
    if split["tests"]:
        lines += ["", "Co-trained vs robot-only (same robot demos) on the *outside* episodes: two-sided "
                      "two-proportion z test (pooled) and Fisher's exact test; difference = co-trained - robot-only.",
                  "", "| co-trained (robot, human) | robot-only (robot, human) | difference | p (z) | p (Fisher) |",
                  "|---|---|---|---|---|"]
        for t in split["tests"]:
            lines.append(f"| {tuple(t['cotrained'])} | {tuple(t['reference_cell'])} | {t['difference']:+.1%} | "
                         f"{t['p_value']:.3g} | {t['fisher_p_value']:.3g} |")
    if split.get("between_runs"):
        lines += ["", "Between training runs, by where the toy started (as the between-runs table above: Welch's t "
                      "on the per-seed success rates, here of the episodes inside / outside the region; "
                      "difference = arm - reference):", "",
                  "| arm | reference | runs | inside: mean rates (reference, arm) | inside: difference, 95% CI | "
                  "p | outside: mean rates | outside: difference, 95% CI | p |", "|---|---|---|---|---|---|---|---|---|"]

        def runs_cells(r: dict | None) -> str:
            if r is None:
                return "- | - | -"
            ci = "-" if r["interval"][0] is None else f"{r['interval'][0]:+.1%} to {r['interval'][1]:+.1%}"
            p = "-" if r["p_value"] is None else f"{r['p_value']:.3g}"
            return f"{r['mean_a']:.1%}, {r['mean_b']:.1%} | {r['difference']:+.1%}, {ci} | {p}"

        for t in split["between_runs"]:
            some = t.get("inside") or t["outside"]
            lines.append(f"| {_arm(t)} | {t['reference']} | {some['runs_a']}, {some['runs_b']} | "
                         f"{runs_cells(t.get('inside'))} | {runs_cells(t.get('outside'))} |")
    for where in ("outside", "inside"):
        if split.get("paired", {}).get(where):
            lines += ["", f"Paired, on the episodes whose toy started *{where}* the robot demos' region (as the "
                          "paired table above):", ""]
            lines += _paired_lines(split["paired"][where])
    return lines


def _paired_lines(paired: list[dict]) -> list[str]:
    lines = ["| arm | reference | pairs | only reference / only arm | difference | 95% CI | p (McNemar) |",
             "|---|---|---|---|---|---|---|"]
    for t in paired:
        lines.append(f"| {_arm(t)} | {t['reference']} | {t['seeds']} | {t['only_a']} / "
                     f"{t['only_b']} | {t['difference']:+.1%} | {t['interval'][0]:+.1%} to "
                     f"{t['interval'][1]:+.1%} | {t['mcnemar_p_value']:.3g} |")
    return lines


def _machine_lines(results: list[dict]) -> list[str]:
    """Which machines computed the cells (cell.json's `machine`): a seeded run is reproduced
    exactly on the same machine only, so a grid that spans machines says so."""
    def describe(m: dict | None) -> str:
        if m is None:
            return "not recorded"
        features = ("features unknown" if m["cpu_features"] is None
                    else ", ".join(m["cpu_features"]) or "none of " + "/".join(CPU_FEATURES))
        return f"{m['cpu']} ({features}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v) + ")"

    seen: dict[str, int] = {}
    for r in results:
        what = describe(r.get("machine"))
        seen[what] = seen.get(what, 0) + 1
    if len(seen) < 2:
        return []
    return ["Cells were computed on different machines (seeded runs agree exactly only on the same one): "
            + "; ".join(f"{n} on {what}" for what, n in seen.items()) + ".", ""]


def write_report(cfg: AblationConfig, results: list[dict], out_dir: Path, extra: dict | None = None,
                 wall_s: float | None = None, planned: int | None = None) -> Path:
    """report.md, scaling.png and results.json from finished cells (planned: the grid's cell
    count, when only some have finished)."""
    g = group_results(results)
    lines = [f"# Ablation `{cfg.name}`: what is human data worth?", ""]
    lines += [f"Task `{cfg.task}` ({cfg.env_id}), images {cfg.image_size[0]}x{cfg.image_size[1]}; "
              f"training preset `{cfg.train.preset}`, {cfg.train.steps} steps, seeds {list(cfg.train.seeds)}; "
              f"evaluation: {cfg.eval.episodes} episodes per training seed from seed {cfg.eval.seed}.",
              "", f"Robot demos' distribution: `{cfg.data.robot_task_options or 'full task distribution'}`; human "
              f"demos': `{cfg.data.human_task_options or 'full task distribution'}`; evaluation: "
              f"`{cfg.eval.task_options or 'full task distribution'}`.", ""]
    if wall_s is not None:
        lines += [f"Wall time of this invocation: {wall_s / 60:.1f} min.", ""]
    if planned is not None and planned > len(results):
        lines += [f"**Partial: {len(results)} of {planned} planned cells have finished**; the others are not yet "
                  "run (the `egogym ablate` command that started this grid resumes it).", ""]
    lines += _machine_lines(results)
    lines += ["Success rates pool the evaluation episodes of all training seeds (Wilson 95% interval); "
              "the per-seed rates show the spread between training runs, which the pooled interval does not include.",
              "", "| robot demos | human demos | variant | collection h | success | 95% CI | per seed | mean points |",
              "|---|---|---|---|---|---|---|---|"]
    for (n, m, v), p in sorted(g.items()):
        lines.append(f"| {n} | {m} | {v} | {collection_hours(n, m):.2f} | {p['successes']}/{p['episodes']} = "
                     f"{p['rate']:.1%} | {p['interval'][0]:.1%}-{p['interval'][1]:.1%} | "
                     f"{', '.join(f'{x:.0%}' for x in p['per_seed'])} | {p['mean_points']:.2f} |")
    tests = []
    for (n, m, v), p in sorted(g.items()):
        if m == 0:
            continue
        # an ablation's robot-only reference is the grid's under the same drive unless it has its own
        same = v if v in COMPARED_VARIANTS or (n, 0, v) in g else drive_of(v)
        if drive_named(same) in HUMAN_DRIVES:  # robot-only runs have no human pathway: EgoMimic's execution
            same = "base"
        refs = [("robot-only, same robot demos", (n, 0, same))]
        refs.append(("equal time (robot-only)", (equal_time_robot(n, m), 0, same)))
        refs.append(("equal episodes (robot-only)", (n + m, 0, same)))
        for label, key in refs:
            if key in g:
                b = g[key]
                t = two_proportion_test(b["successes"], b["episodes"], p["successes"], p["episodes"])
                runs = (between_runs_test(b["per_seed"], p["per_seed"]).to_dict()
                        if min(len(b["per_seed"]), len(p["per_seed"])) >= 2 else None)
                tests.append({"cotrained": [n, m], "variant": v, "reference": label, "reference_cell": list(key[:2]),
                              "reference_variant": key[2], **t.to_dict(), "between_runs": runs})
    refs = [(t["reference"], (t["cotrained"][0], t["cotrained"][1], t["variant"]),
             (*t["reference_cell"], t["reference_variant"])) for t in tests]
    # each other drive against EgoMimic's execution of the same trained runs
    for (n, m, v) in sorted(g):
        drive = drive_of(v)
        trained = "base" if v == drive else v[:-len(drive) - 1]
        if drive != "base" and (n, m, trained) in g:
            refs.append(("the same runs, joint-head drive", (n, m, v), (n, m, trained)))
    paired = paired_tests(cfg, results, out_dir, refs)
    if tests:
        lines += ["", "## Co-trained vs robot-only", "",
                  "Two-sided two-proportion z test (pooled) and Fisher's exact test; difference = co-trained - reference.",
                  "", "| co-trained (robot, human) | reference | reference (robot, human) | difference | p (z) | p (Fisher) |",
                  "|---|---|---|---|---|---|"]
        for t in tests:
            lines.append(f"| {_arm(t)} | {t['reference']} | {tuple(t['reference_cell'])} | "
                         f"{t['difference']:+.1%} | {t['p_value']:.3g} | {t['fisher_p_value']:.3g} |")
        runs = [t for t in tests if t["between_runs"]]
        if runs:
            lines += ["", "Between training runs (the run as the unit: per-seed success rates of each arm, "
                          "Welch's t test and its 95% interval on the difference of the mean rates). The tests "
                          "above and below count episodes of the runs that were trained; this one asks what new "
                          "runs of the same recipe would do, with the run-to-run spread as the noise.", "",
                      "| co-trained (robot, human) | reference | runs | mean rates (reference, arm) | difference "
                      "| 95% CI | p (Welch) |", "|---|---|---|---|---|---|---|"]
            for t in runs:
                r = t["between_runs"]
                ci = ("-" if r["interval"][0] is None
                      else f"{r['interval'][0]:+.1%} to {r['interval'][1]:+.1%}")
                pv = "-" if r["p_value"] is None else f"{r['p_value']:.3g}"
                lines.append(f"| {_arm(t)} | {t['reference']} | {r['runs_a']}, {r['runs_b']} | {r['mean_a']:.1%}, "
                             f"{r['mean_b']:.1%} | {r['difference']:+.1%} | {ci} | {pv} |")
    if paired:
        lines += ["", "Paired (every arm met the same seeds; a pair is one evaluation seed under one training "
                      "seed): exact McNemar test on the seeds only one arm solved, and Newcombe's 95% interval on "
                      "the difference of the paired success rates (arm - reference). Arm: (robot, human) demos "
                  "and its drive when it is not the joint head's.", ""]
        lines += _paired_lines(paired)
    split = start_split(cfg, results, out_dir, refs)
    if split is not None:
        lines += _split_lines(split)
    if extra:
        lines += ["", "## Reference evaluations", ""]
        for label, s in extra.items():
            lo, hi = s["success_rate_interval"]
            lines.append(f"- {label}: {s['successes']}/{s['episodes']} = {s['success_rate']:.1%} "
                         f"(95% CI {lo:.1%}-{hi:.1%}), mean points {s['mean_points']:.2f}")
    lines += ["", f"Controls use REFERENCE §6: 1 h of hand data ≈ {HUMAN_DEMOS_PER_HOUR} demos, 1 h of robot data "
              f"≈ {ROBOT_DEMOS_PER_HOUR}. Equal time: robot-only with n + m·{ROBOT_DEMOS_PER_HOUR}/"
              f"{HUMAN_DEMOS_PER_HOUR} robot demos; equal episodes: n + m.", "", "![scaling](scaling.png)", ""]
    report = out_dir / "report.md"
    write_text_atomic(report, "\n".join(lines))
    plot_scaling(cfg, g, out_dir / "scaling.png")
    write_text_atomic(out_dir / "results.json", json.dumps(
        {"config": cfg.to_dict(), "cells": results, "tests": tests, "paired_tests": paired, "extra": extra or {}, "start_split": split,
         "groups": [{"robot": k[0], "human": k[1], "variant": k[2], **v} for k, v in sorted(g.items())]},
        indent=2) + "\n")
    return report


def plot_scaling(cfg: AblationConfig, g: dict, path: Path) -> None:
    """Success against human demos, one line per robot count, Wilson intervals as error bars;
    robot-only references as dashed lines, equal-time controls as crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    humans = sorted(cfg.data.human)
    for i, n in enumerate(sorted(cfg.data.robot)):
        col = colours[i % len(colours)]
        xs, ys, lo, hi = [], [], [], []
        for m in humans:
            p = g.get((n, m, "base"))
            if p is None:
                continue
            xs.append(m)
            ys.append(p["rate"])
            lo.append(p["rate"] - p["interval"][0])
            hi.append(p["interval"][1] - p["rate"])
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, color=col, label=f"{n} robot demos")
        ref = g.get((n, 0, "base"))
        if ref is not None:
            ax.axhline(ref["rate"], color=col, ls="--", lw=0.8)
        for m in humans:
            c = g.get((equal_time_robot(n, m), 0, "base")) if m else None
            if c is not None and equal_time_robot(n, m) != n:
                ax.plot([m], [c["rate"]], "x", color=col, ms=8)
    ax.set_xlabel("human demos (simulated Aria)")
    ax.set_ylabel("success rate (95% Wilson CI)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{cfg.name}: dashed = robot-only, x = equal-time robot-only")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
