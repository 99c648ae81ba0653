"""The rollout loop end to end on the sim: workers, SIGKILL + --resume, expert success, videos.

Small images (32x32), the Aria camera only and short episodes keep these fast: the
env step cost is dominated by rendering. Truncating an episode cuts the same
deterministic rollout short, so success within N steps implies success within 2000.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from egogym.cli import main
from egogym.core.errors import UserError
from egogym.eval.config import EvalConfig
from egogym.eval.loop import evaluate
from egogym.eval.records import comparable, read_records

SMALL = dict(image_size=(32, 32), cameras=("front_img_1",))
ARGS = ["--image-size", "32", "32", "--cameras", "front_img_1"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted single-worker evaluation: 6 episodes of 150 steps."""
    out = tmp_path_factory.mktemp("ref")
    cfg = EvalConfig(policy="scripted", episodes=6, start_seed=500, max_steps=150, workers=1, **SMALL)
    return evaluate(cfg, out, progress=False)


def test_records_are_complete_and_ordered(reference):
    assert [r["seed"] for r in reference] == list(range(500, 506))
    assert [r["episode"] for r in reference] == list(range(6))
    assert all(r["steps"] == 150 and r["status"] == "done" and r["sim_seconds"] == pytest.approx(3.0)
               for r in reference)


def test_records_carry_the_reset_start(reference):
    """`start` is the reset info's placement for the record's seed (and survives the sorted rewrite)."""
    from egogym.eval.rollout import make_env

    env = make_env(EvalConfig(policy="scripted", **SMALL))
    try:
        for r in reference[:2]:
            _, info = env.reset(seed=r["seed"])
            assert r["start"] == info["start"] and {"toy", "toy_xy", "toy_yaw", "bowl_xy"} <= set(r["start"])
    finally:
        env.close()
    assert len({tuple(r["start"]["toy_xy"]) for r in reference}) == len(reference)


def test_no_start_field_without_a_start():
    """A backend without a start placement (hardware: {}) gives records without `start`."""
    from egogym.eval.rollout import run_episode

    class NoStartEnv:
        unwrapped = property(lambda self: self)

        def reset(self, seed):
            return {"joint_positions": np.zeros(7)}, {"points": 0, "success": False, "time_s": 0.0, "start": {}}

        def step(self, action):
            return {"joint_positions": np.zeros(7)}, 0.0, False, True, {"time_s": 0.02, "aborted": None}

        def request_images(self, wanted):
            pass

        def finish_episode(self):
            from egogym.core.protocols import Score
            return Score()

    from egogym.policies.kinds import HoldPolicy
    rec = run_episode(NoStartEnv(), HoldPolicy(), 3, 0, EvalConfig(policy="hold"), repeat=1)
    assert "start" not in rec and rec["steps"] == 1


@pytest.mark.slow
def test_records_independent_of_workers(reference, tmp_path):
    cfg = EvalConfig(policy="scripted", episodes=6, start_seed=500, max_steps=150, workers=2, **SMALL)
    two = evaluate(cfg, tmp_path, progress=False)
    assert comparable(two) == comparable(reference)
    on_disk, _ = read_records(tmp_path / "episodes.jsonl")
    assert [r["seed"] for r in on_disk] == list(range(500, 506))  # file in seed order whatever K


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(reference, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "egogym.cli", "eval", "--policy", "scripted", "--episodes", "6", "--seed", "500",
           "--max-steps", "150", "--out", str(out), "--workers", "2", "--quiet", *ARGS]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = out / "episodes.jsonl"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if log.exists() and len(read_records(log)[0]) >= 2:
                break
            assert proc.poll() is None, "the evaluation ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no episode recorded within 120 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the evaluation and its workers, mid-run
        proc.wait()
    partial, _ = read_records(log)
    assert 2 <= len(partial) < 6, f"killed run recorded {len(partial)} episodes; the kill came too late to test"
    assert main(["eval", "--policy", "scripted", "--episodes", "6", "--seed", "500", "--max-steps", "150",
                 "--out", str(out), "--resume", "--quiet", *ARGS]) == 0
    resumed, _ = read_records(log)
    assert comparable(resumed) == comparable(reference)
    for r in partial:  # episodes finished before the kill were kept, not run again
        assert r in resumed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 6


def test_rerun_without_resume_refuses(reference, tmp_path, capsys):
    (tmp_path / "episodes.jsonl").write_text(json.dumps(reference[0]) + "\n")
    assert main(["eval", "--policy", "scripted", "--episodes", "1", "--out", str(tmp_path), *ARGS]) == 2
    assert "pass --resume" in capsys.readouterr().err


def test_bad_inputs_are_one_line(tmp_path, capsys):
    assert main(["eval", "--policy", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "neither 'scripted' nor an existing run directory" in capsys.readouterr().err
    assert main(["eval", "--policy", "scripted", "--loop-hz", "30", "--out", str(tmp_path / "o2"), *ARGS]) == 2
    assert "divides it" in capsys.readouterr().err
    with pytest.raises(UserError, match="front_img_1"):
        EvalConfig(policy="scripted", videos=1, cameras=("right_wrist_img",))


@pytest.mark.slow
def test_scripted_expert_succeeds_95_percent(tmp_path):
    cfg = EvalConfig(policy="scripted", episodes=20, start_seed=1000, max_steps=600, workers=2, **SMALL)
    recs = evaluate(cfg, tmp_path, progress=False)
    rate = sum(r["success"] for r in recs) / len(recs)
    assert len(recs) == 20
    assert rate >= 0.95, f"scripted expert: {rate:.0%} success on ObjectInBowl; records in {tmp_path}"


class ChunkExpert:
    """The scripted expert plus a fixed predicted chunk 0.5 m ahead of the Aria (for the overlay)."""

    def __init__(self, inner):
        self.inner = inner
        t = np.linspace(0, 1, 20)
        self.last_chunk_xyz = np.stack([-0.1 + 0.2 * t, np.zeros_like(t), np.full_like(t, 0.5)], axis=1)

    def reset(self):
        self.inner.reset()

    def act(self, obs):
        return self.inner.act(obs)


def test_video_draws_the_chunk(tmp_path, monkeypatch):
    import egogym.eval.rollout as loop
    from egogym.sim.experts import make_expert

    monkeypatch.setattr(loop, "make_policy", lambda spec, env, device="cpu": ChunkExpert(make_expert(env)))
    cfg = EvalConfig(policy="scripted", episodes=2, max_steps=10, videos=1, image_size=(48, 64),
                     cameras=("front_img_1",))
    evaluate(cfg, tmp_path, progress=False)
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["episode_0000_seed_1000.mp4"]  # only the first episode
    frames = imageio.mimread(videos[0])
    assert len(frames) == 11  # the reset frame + 10 steps
    f = np.asarray(frames[-1], dtype=int)
    assert f.shape[:2] == (240, 320)  # 48x64 scaled by 5
    # the chunk runs along the image's middle row (y = 0 in the camera frame): red there
    mid = f[118:123, 110:210]
    red = (mid[..., 0] > 150) & (mid[..., 1] < 110) & (mid[..., 2] < 110)
    assert red.mean() > 0.2


def test_lower_loop_rate_holds_each_action():
    from egogym.eval.rollout import env_rates, make_env, run_episode

    class Counting:
        def __init__(self, env):
            self.home = env.unwrapped.robot.arm("right").home_command
            self.calls = self.resets = 0

        def reset(self):
            self.resets += 1

        def act(self, obs):
            self.calls += 1
            return self.home

    cfg = EvalConfig(policy="scripted", episodes=1, max_steps=11, loop_hz=25, **SMALL)
    env = make_env(cfg)
    try:
        assert env_rates(env, cfg) == (50.0, 2)
        pol = Counting(env)
        rec = run_episode(env, pol, 7, 0, cfg, repeat=2)
        assert (rec["steps"], pol.calls, pol.resets) == (11, 6, 1)  # 5 full holds + 1 cut by the time limit
        assert rec["status"] == "done" and rec["reason"] == "time limit (11 steps)"
        assert rec["sim_seconds"] == pytest.approx(11 / 50)
    finally:
        env.close()
