"""Two policies compared on the same seeds, adding episodes until the answer is clear.

`evaluate_paired(config_a, config_b, out_dir, rule)` evaluates A into `out_dir/a` and B into
`out_dir/b` (ordinary, resumable evaluations on the same seeds) in rounds of
`rule.look_every` episodes each; after each round `SequentialRule.decide` computes the
paired comparison (exact McNemar, Newcombe's interval at the rule's per-look level) and the
comparison stops when the interval excludes 0, is narrower than `rule.width`, or
`rule.max_episodes` is reached (the error guarantee is in `SequentialRule`'s docstring).
Every look is appended to `out_dir/paired.json`; a rerun resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from egogym.core.errors import UserError
from egogym.eval.config import EvalConfig
from egogym.eval.loop import evaluate
from egogym.eval.metrics import SequentialRule

PAIRED_FILE = "paired.json"


def evaluate_paired(config_a: EvalConfig, config_b: EvalConfig, out_dir: str | Path, rule: SequentialRule,
                    progress: bool = True) -> dict:
    """Run the paired sequential comparison; returns what `paired.json` holds."""
    if config_a.start_seed != config_b.start_seed:
        raise UserError(f"paired evaluation: both policies need the same --seed (got {config_a.start_seed} and "
                        f"{config_b.start_seed})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    looks, result = [], None
    for n in rule.schedule():
        recs = [evaluate(dataclasses.replace(c, episodes=n), out_dir / name, resume=True, progress=progress)
                for c, name in ((config_a, "a"), (config_b, "b"))]
        why, comparison = rule.decide(*recs)
        looks.append({"episodes": n, **comparison.to_dict()})
        result = {"policy_a": config_a.policy, "policy_b": config_b.policy, "rule": dataclasses.asdict(rule),
                  "stopped": why, "looks": looks}
        tmp = out_dir / (PAIRED_FILE + ".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(out_dir / PAIRED_FILE)
        if why:
            break
    return result


def format_paired(result: dict) -> str:
    last = result["looks"][-1]
    lo, hi = last["interval"]
    return (f"after {last['seeds']} paired seeds: A {last['rate_a']:.1%}, B {last['rate_b']:.1%}, B - A "
            f"{last['difference']:+.1%} ({last['confidence']:.2%} CI {lo:+.1%} to {hi:+.1%}), exact McNemar p = "
            f"{last['mcnemar_p_value']:.3g}; stopped: {result['stopped']}")
