"""Evaluation renders only what is read: a policy that reads the cameras once every k steps
gets images on exactly those steps, and the episode's records and actions are the same as
when every step renders (rendering never touches the simulation). Early stop on success."""
from __future__ import annotations

import numpy as np

from egogym.eval.config import EvalConfig
from egogym.eval.records import comparable
from egogym.eval.rollout import make_env, make_policy, run_episode

SMALL = dict(image_size=(32, 32), cameras=("front_img_1", "front_img_1_line", "right_wrist_img"))


class ReadsEveryK:
    """Reads the Aria image every k-th step (as a chunking policy queries its model) and steers
    the waist by the image's brightness, so skipped or wrong images would change the actions."""

    def __init__(self, env, k: int = 7):
        self.home, self.k = env.unwrapped.robot.arm("right").home_command, k
        self.actions: list[np.ndarray] = []
        self.images_seen = self.steps_without_images = 0

    def reset(self):
        self.t, self.level = 0, 0.0
        self.actions.clear()

    def reads_images(self) -> bool:
        return self.t % self.k == 0

    def act(self, obs):
        if self.t % self.k == 0:
            assert obs["front_img_1_line"].flags.writeable, "a query step got the blank frame of a skipped render"
            self.level = float(obs["front_img_1_line"].mean()) / 255.0
            self.images_seen += 1
        elif not obs["front_img_1"].flags.writeable:  # the env's read-only black frame: nothing rendered
            self.steps_without_images += 1
        self.t += 1
        a = self.home.copy()
        a[0] += 0.3 * np.sin(0.05 * self.t) + 0.2 * self.level
        self.actions.append(a)
        return a


def _rollout(cfg, seed, render_every_step: bool):
    env = make_env(cfg)
    try:
        pol = ReadsEveryK(env)
        on_frame = (lambda obs, policy: None) if render_every_step else None  # a frame hook renders every step
        rec = run_episode(env, pol, seed, 0, cfg, repeat=1, on_frame=on_frame)
        return rec, np.array(pol.actions), pol
    finally:
        env.close()


def test_lazy_rendering_gives_the_same_episode():
    cfg = EvalConfig(policy="hold", episodes=1, max_steps=60, **SMALL)
    lazy, a_lazy, p_lazy = _rollout(cfg, 5, render_every_step=False)
    full, a_full, p_full = _rollout(cfg, 5, render_every_step=True)
    assert comparable([lazy]) == comparable([full])
    np.testing.assert_array_equal(a_lazy, a_full)
    assert p_lazy.images_seen == p_full.images_seen == 9  # steps 0, 7, ..., 56 of 60 acts
    assert p_lazy.steps_without_images == 60 - 9 and p_full.steps_without_images == 0


def test_scripted_expert_records_are_the_same_without_renders():
    cfg = EvalConfig(policy="scripted", episodes=1, max_steps=150, **SMALL)
    recs = []
    for render in (False, True):
        env = make_env(cfg)
        try:
            recs.append(run_episode(env, make_policy(cfg.policy_spec, env), 3, 0, cfg, 1,
                                    (lambda o, p: None) if render else None))
        finally:
            env.close()
    assert comparable(recs[:1]) == comparable(recs[1:])


def test_stop_on_success_ends_the_episode_at_its_first_success():
    base = dict(policy="scripted", episodes=1, max_steps=600, **SMALL)
    recs = {}
    for stop in (False, True):
        cfg = EvalConfig(stop_on_success=stop, **base)
        env = make_env(cfg)
        try:
            recs[stop] = run_episode(env, make_policy(cfg.policy_spec, env), 2, 0, cfg, 1)
        finally:
            env.close()
    assert recs[False]["success"] and recs[True]["success"]
    assert recs[True]["steps"] < recs[False]["steps"] == 600
    assert recs[True]["reason"] == f"success at step {recs[True]['steps']} (--stop-on-success)"
    assert recs[True]["status"] == "done" and recs[True]["points"] == 1


def test_paired_sequential_evaluation_stops_and_resumes(tmp_path, capsys):
    """The scripted expert (B) against holding still (A) on the same seeds: a large difference,
    so the rule stops at its first look; a rerun resumes from the logs and decides the same."""
    import json

    from egogym.cli import main

    argv = ["eval", "--policy", "hold", "--versus", "scripted", "--episodes", "12", "--look-every", "6",
            "--max-steps", "400", "--image-size", "32", "32", "--stop-on-success", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    res = json.loads((tmp_path / "paired.json").read_text())
    assert res["stopped"] == "difference" and len(res["looks"]) == 1
    look = res["looks"][0]
    assert look["seeds"] == 6 and look["only_b"] == 6 and look["only_a"] == 0 and look["interval"][0] > 0
    assert main(argv) == 0
    assert json.loads((tmp_path / "paired.json").read_text())["looks"] == res["looks"]
    assert "stopped: difference" in capsys.readouterr().out

