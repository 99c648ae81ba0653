"""`egogym eval --backend real` end to end from the command line on the fakes (operator
answers on stdin), with the torch-free rehearsal policies `hold` and `replay:FILE`."""
from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from egogym.cli import main
from egogym.core.errors import UserError
from egogym.data.writer import DemoWriter
from egogym.eval.config import EvalConfig
from egogym.eval.rollout import make_policy, run_episode
from egogym.policies.kinds import parse_policy
from egogym.eval.records import RECORD_FIELDS, RecordWriter, read_records

from .conftest import SIZE, Rig


def _eval_argv(out, *extra):
    return ["eval", "--policy", "hold", "--episodes", "2", "--seed", "7", "--out", str(out), "--image-size",
            str(SIZE[0]), str(SIZE[1]), "--max-steps", "10", "--quiet", *extra]


def test_eval_backend_real_from_the_command_line(options, tmp_path, monkeypatch, capsys):
    hw = tmp_path / "hardware.json"
    hw.write_text(json.dumps(options))
    real_out = tmp_path / "real"
    # per episode: scene ready, points, success, notes
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n1\ny\nfirst\n\n0\nn\n\n"))
    argv = _eval_argv(real_out, "--backend", "real", "--backend-option", "drivers=fake",
                      "--backend-option", f"hardware={hw}")
    assert main(argv) == 0, capsys.readouterr().err
    assert "success 1/2" in capsys.readouterr().out
    real, _ = read_records(real_out / "episodes.jsonl")
    assert [(r["seed"], r["status"], r["points"], r["success"], r["steps"]) for r in real] == [
        (7, "done", 1, True, 10), (8, "done", 0, False, 10)]
    summary = json.loads((real_out / "summary.json").read_text())
    assert summary["eval_config"]["backend"] == "real"
    ops = [json.loads(line) for line in open(tmp_path / "logs" / "operator.jsonl")]
    assert [o["notes"] for o in ops] == ["first", ""]

    sim_out = tmp_path / "sim"
    assert main(_eval_argv(sim_out)) == 0, capsys.readouterr().err
    sim, _ = read_records(sim_out / "episodes.jsonl")
    assert real[0]["notes"] == "first" and "notes" not in real[1]  # the operator's notes reach the log
    # the operator was shown each seed's placement: the one the sim episode of that seed has
    assert [r["start"] for r in real] == [s["start"] for s in sim]
    for r, s in zip(real, sim):
        r = {k: v for k, v in r.items() if k not in ("notes", "start")}
        s = {k: v for k, v in s.items() if k != "start"}
        assert list(r) == list(s) == list(RECORD_FIELDS)
        assert {k: type(v) for k, v in r.items()} == {k: type(v) for k, v in s.items()}

    # the operator quits at the scene prompt of the first episode of a resumed, longer run
    before = (real_out / "episodes.jsonl").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.StringIO("q\n"))
    resumed = [a if a != "2" else "3" for a in argv] + ["--resume"]
    assert main(resumed) == 130
    assert (real_out / "episodes.jsonl").read_bytes() == before


def test_hold_and_replay_policies_on_the_real_backend(options, tmp_path):
    rig = Rig(options)
    rig.answers = ["", "0", "n", "", "", "0", "n", ""]
    env = rig.make_env(max_episode_steps=12)
    try:
        guard = env.unwrapped.backend.guard
        home = guard.home_target()
        demo = home + 0.02 * np.sin(np.arange(12)[:, None] * 0.5 + np.arange(7)[None, :])
        path = tmp_path / "demo.hdf5"
        size = env.unwrapped.image_size
        w = DemoWriter(path, "robot", env.unwrapped.calibration, arms=env.unwrapped.arms, control_hz=50.0,
                       image_size=size, env_args={}, embodiment="real-vx300s")
        img = np.zeros((12,) + size + (3,), np.uint8)
        w.write_demo({"front_img_1": img, "front_img_1_masked": img, "front_img_1_line": img,
                      "right_wrist_img": img, "joint_positions": demo, "ee_pose": np.zeros((12, 3))},
                     {"joints": demo})
        config = EvalConfig(policy="hold", backend="real", episodes=1, max_steps=12)
        backend = env.unwrapped.backend
        stepped: list[np.ndarray] = []  # the command each policy step sent (moves home are not steps)
        apply = backend.apply
        backend.apply = lambda c: stepped.append(apply(c)) or stepped[-1]
        hold = make_policy(config.policy_spec, env)
        rec = run_episode(env, hold, 1, 0, config, repeat=1)
        held = np.array(stepped)
        assert rec["status"] == "done", (rec, backend.stop_log.entries)
        assert rec["steps"] == 12 and len(held) == 12
        # hold sends the first measured pose (home, within the verified tolerance) again and again
        np.testing.assert_allclose(held, np.tile(held[0], (12, 1)), atol=1e-12)
        np.testing.assert_allclose(held[0, :6], home[:6], atol=backend.config.safety.home_tolerance)
        stepped.clear()
        replay = make_policy(parse_policy(f"replay:{path}:demo_0"), env)
        rec = run_episode(env, replay, 2, 1, config, repeat=1)
        assert rec["status"] == "done" and rec["steps"] == 12
        np.testing.assert_allclose(np.array(stepped), np.clip(demo, guard.lower, guard.upper), atol=1e-9)
        with pytest.raises(UserError, match=r"has no data/demo_5/actions"):
            make_policy(parse_policy(f"replay:{path}:demo_5"), env)
        with pytest.raises(UserError, match=r"cannot open .*nope.hdf5"):
            make_policy(parse_policy(f"replay:{tmp_path / 'nope.hdf5'}"), env)
    finally:
        env.close()


def test_records_keep_optional_notes(tmp_path):
    log = tmp_path / "episodes.jsonl"
    base = {"seed": 1, "episode": 0, "success": True, "points": 1, "steps": 3, "sim_seconds": 0.1,
            "wall_seconds": 0.2, "status": "done", "reason": "r"}
    with RecordWriter(log) as w:
        w.append({**base, "notes": "toy bounced", "extra": 1})
        w.append({**base, "seed": 2})
    recs, _ = read_records(log)
    assert recs[0]["notes"] == "toy bounced" and "extra" not in recs[0] and "notes" not in recs[1]
    with pytest.raises(UserError, match="notes must be a string"):
        with RecordWriter(log) as w:
            w.append({**base, "seed": 3, "notes": 5})


def test_a_cotrained_policy_reading_the_line_view_runs_on_the_fake_robot(options, tmp_path, monkeypatch, capsys):
    """EgoMimic's default input, front_img_1_line, on the real backend (drivers=fake): the view
    is computed at run time from the twin, and the co-trained policy's episode runs to the end."""
    import torch

    from egogym.policies.config import preset
    from egogym.policies.synthetic import train_synthetic_run

    torch.set_num_threads(1)
    assert preset("smoke").model.front_key == "front_img_1_line"
    run = train_synthetic_run(tmp_path / "run", image_size=SIZE, steps=2, samples=8)
    hw = tmp_path / "hardware.json"
    hw.write_text(json.dumps(options))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n0\nn\n\n"))
    out = tmp_path / "e"
    argv = ["eval", "--policy", str(run), "--episodes", "1", "--seed", "3", "--out", str(out), "--image-size",
            str(SIZE[0]), str(SIZE[1]), "--max-steps", "60", "--quiet", "--backend", "real",
            "--backend-option", "drivers=fake", "--backend-option", f"hardware={hw}"]
    assert main(argv) == 0, capsys.readouterr().err
    (rec,), _ = read_records(out / "episodes.jsonl")
    assert (rec["steps"], rec["status"], rec["reason"]) == (60, "done", "time limit (60 steps)"), rec
    summary = json.loads((out / "summary.json").read_text())
    assert "front_img_1_line" in summary["env"]["cameras"]
