"""`egogym eval`: evaluate a policy in sim or on the real robot.

    egogym eval --policy runs/NAME|scripted|ws://HOST:PORT --env egogym/ObjectInBowl-v0 --episodes 50 \\
        --seed 1000 --out evals/NAME [--workers K] [--resume] [--backend sim|real] \\
        [--backend-option k=v ...] [--task-option k=v ...] [--image-size H W] \\
        [--cameras front_img_1 ...] [--loop-hz 25] [--max-steps N] [--videos N]

Writes into --out: `episodes.jsonl` (one record per episode, `eval.records`),
`eval_config.json`, `summary.json` (`egogym.eval.metrics.summarize` + the policy and env
configuration) and `videos/` (the first N episodes).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from egogym.core.outputs import write_text_atomic
from egogym.core.bounds import MAX_EPISODES, MAX_STEPS, MAX_WORKERS, int_flag, seed_flag
from egogym.core.errors import UserError
from egogym.core.spec import ARIA_IMAGE_SIZE
from egogym.core.views import DEFAULT_CAMERAS
from egogym.core.configs import parse_options
from egogym.eval.config import EPISODES_FILE, EvalConfig
from egogym.eval.loop import evaluate
from egogym.eval.metrics import summarize
from egogym.policies.config import DEVICE_HELP
from egogym.policies.kinds import kinds_help
from egogym.tasks import TASK_OPTION_HELP

SUMMARY_FILE = "summary.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", required=True, help=kinds_help())
    p.add_argument("--env", default="egogym/ObjectInBowl-v0", help="registered env id")
    p.add_argument("--episodes", type=int_flag("--episodes", 1, MAX_EPISODES), default=50)
    p.add_argument("--seed", type=seed_flag(), default=1000, help="seed of episode 0; episode i uses seed + i")
    p.add_argument("--out", required=True, help="output folder (evals/NAME)")
    p.add_argument("--workers", type=int_flag("--workers", 1, MAX_WORKERS), default=1, help="parallel worker processes")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--resume", action="store_true", help="continue an evaluation in --out, skipping recorded seeds")
    p.add_argument("--backend", default="sim", choices=("sim", "real"))
    p.add_argument("--backend-option", action="append", metavar="K=V", help="backend keyword argument (real)")
    p.add_argument("--task-option", action="append", metavar="K=V", help=TASK_OPTION_HELP)
    p.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), help="camera image size (default 480 640)")
    p.add_argument("--cameras", nargs="+", help="observation cameras (default: those a trained policy reads, from its config.json; "
                   "the env's default for the scripted expert)")
    p.add_argument("--loop-hz", type=float, help="policy call rate in Hz, each action held env_hz/loop_hz steps (default: the "
                   "env's 50; egogym's trained policies run EgoMimic's 25 Hz schedule inside, keep 50 for them)")
    p.add_argument("--max-steps", type=int_flag("--max-steps", 1, MAX_STEPS), help="env steps per episode (default: the env's limit, 2000)")
    p.add_argument("--episode-timeout", type=float, help="wall-clock seconds after which an episode stops (status timeout)")
    p.add_argument("--stop-on-success", action="store_true",
                   help="end each episode at its first success (for success rates; points after it are not counted)")
    p.add_argument("--videos", type=int_flag("--videos", 0, MAX_EPISODES), default=0, help="write videos of the first N episodes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    paired = p.add_argument_group("paired comparison (--versus): --policy is A, --versus is B, the same seeds; "
                                  "--episodes is the most per policy")
    paired.add_argument("--versus", metavar="POLICY", help="compare --policy with this policy, seed by seed")
    paired.add_argument("--look-every", type=int_flag("--look-every", 1, MAX_EPISODES), help="episodes added per policy between looks (default: "
                        "--episodes, one look)")
    paired.add_argument("--alpha", type=float, default=0.05, help="error over all looks (Bonferroni)")
    paired.add_argument("--width", type=float, default=0.0, help="also stop once the interval is narrower")


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(policy=args.policy, env_id=args.env, episodes=args.episodes, start_seed=args.seed,
                      backend=args.backend, backend_options=parse_options(args.backend_option, "--backend-option"),
                      task_options=parse_options(args.task_option, "--task-option"),
                      image_size=tuple(args.image_size) if args.image_size else None,
                      cameras=tuple(args.cameras) if args.cameras else None, loop_hz=args.loop_hz,
                      max_steps=args.max_steps, episode_timeout_s=args.episode_timeout, workers=args.workers,
                      stop_on_success=args.stop_on_success,
                      videos=args.videos, device=args.device)


def describe_env(config: EvalConfig) -> dict:
    """The env's configuration for the summary: id, task description, arms, cameras, image size, rates.

    Read from the registration and the task, without building an env (on hardware,
    building one would connect to the robot again)."""
    import gymnasium as gym

    import egogym  # noqa: F401  (registers the ids)
    from egogym.tasks import make_task

    reg = gym.spec(config.env_id)
    kwargs = {**reg.kwargs}
    robot = kwargs.get("robot", egogym.EGOMIMIC)
    task = make_task(kwargs["task"], **config.task_options) if isinstance(kwargs.get("task"), str) else kwargs["task"]
    arms = kwargs.get("arms") or task.default_arms
    try:
        cameras = list(config.cameras or config.policy_spec.cameras() or DEFAULT_CAMERAS[arms])
    except UserError as e:  # a remote policy's server gone before the summary, never reached by this process
        cameras = f"unknown ({e})"
    return {"env_id": config.env_id, "backend": config.backend, "task": task.describe(), "arms": arms,
            "cameras": cameras,
            "image_size": list(config.image_size or ARIA_IMAGE_SIZE), "control_hz": robot.control_hz,
            "loop_hz": config.loop_hz or robot.control_hz,
            "max_episode_steps": config.max_steps or reg.max_episode_steps}


def write_summary(config: EvalConfig, out_dir: Path, records: list[dict], wall_s: float | None = None) -> dict:
    summary = {**summarize(records), "policy": config.policy_spec.describe(), "env": describe_env(config),
               "eval_config": config.to_dict()}
    if wall_s is not None:
        summary["wall_seconds_this_run"] = wall_s
    write_text_atomic(out_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary


def format_summary(s: dict) -> str:
    lo, hi = s["success_rate_interval"]
    plo, phi = s["mean_points_interval"]
    return (f"success {s['successes']}/{s['episodes']} = {s['success_rate']:.1%} (95% CI {lo:.1%}-{hi:.1%}); "
            f"points {s['mean_points']:.2f} per episode (95% CI {plo:.2f}-{phi:.2f}); statuses {s['statuses']}")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    out_dir = Path(args.out)
    if args.versus:
        from egogym.eval.metrics import SequentialRule
        from egogym.eval.sequential import PAIRED_FILE, evaluate_paired, format_paired

        try:
            rule = SequentialRule(args.look_every or args.episodes, args.episodes, args.alpha, args.width)
        except ValueError as e:
            raise UserError(f"--look-every / --episodes / --alpha / --width: {e}") from None
        result = evaluate_paired(config, dataclasses.replace(config, policy=args.versus), out_dir, rule,
                                 progress=not args.quiet)
        print(format_paired(result))
        print(f"wrote {out_dir / PAIRED_FILE} (A in {out_dir / 'a'}, B in {out_dir / 'b'})")
        return 0
    t0 = time.perf_counter()
    records = evaluate(config, out_dir, resume=args.resume, progress=not args.quiet)
    summary = write_summary(config, out_dir, records, time.perf_counter() - t0)
    print(format_summary(summary))
    print(f"wrote {out_dir / SUMMARY_FILE} and {out_dir / EPISODES_FILE}")
    return 0
