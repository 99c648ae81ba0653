"""Training through the real file path (tiny egogym files) and the synthetic in-memory path."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from egogym.cli import main as egogym_main
from egogym.policies.checkpoint import CheckpointError, load_checkpoint
from egogym.policies.config import preset
from egogym.policies.synthetic import SyntheticEgoData, synthetic_stats
from egogym.policies.train import Trainer, open_files

SMOKE = preset("smoke").with_overrides({"model.image_size": "32,32"})


def _weights(run):
    return load_file(str(sorted((run / "checkpoints").iterdir())[-1] / "model.safetensors"))


def test_two_steps_then_resume_to_four_equals_four_straight(tiny_files, tmp_path):
    robot, human = tiny_files
    cfg = SMOKE.with_overrides({"train.val_every": 100, "train.ckpt_every": 2, "train.video_frames": 0})
    data, stats = open_files(cfg, robot, human)
    Trainer(cfg, data, stats, tmp_path / "straight", 4, progress=False).fit()
    Trainer(cfg, data, stats, tmp_path / "split", 2, progress=False).fit()
    t = Trainer(cfg, data, stats, tmp_path / "split", 4, resume=True, progress=False)
    assert t.start == 2
    t.fit()
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert set(a) == set(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    losses = lambda run: [json.loads(l)["loss"] for l in (run / "metrics.jsonl").read_text().splitlines()
                          if "loss" in json.loads(l)]
    np.testing.assert_allclose(losses(tmp_path / "straight"), losses(tmp_path / "split"), rtol=1e-6)


def test_loss_falls_on_a_tiny_dataset(tmp_path):
    r, h = SyntheticEgoData(32, "robot", image_size=(32, 32)), SyntheticEgoData(32, "human", image_size=(32, 32))
    cfg = SMOKE.with_overrides({"train.val_every": 1000, "train.ckpt_every": 1000, "train.video_frames": 0,
                                "train.batch_size": 8, "train.kl_weight": 1.0, "train.lr": 3e-3})
    data = {"robot": (r, r), "human": (h, h)}
    stats = {"robot": synthetic_stats(r), "human": synthetic_stats(h)}
    Trainer(cfg, data, stats, tmp_path / "run", 120, progress=False).fit()
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rows = [x for x in rows if "loss" in x]
    for key in ("robot/l1_joints", "robot/l1_xyz", "human/l1_xyz"):
        first = np.mean([x[key] for x in rows[:5]])
        last = np.mean([x[key] for x in rows[-5:]])
        assert last < 0.5 * first, (key, first, last)


def test_egogym_train_cli_cotrains_validates_writes_videos_and_a_loadable_checkpoint(tiny_files, tmp_path, capsys):
    robot, human = tiny_files
    out = tmp_path / "run"
    code = egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--human", str(human), "--out", str(out),
                        "--steps", "2", "--no-progress"])
    assert code == 0
    assert (out / "config.json").exists() and (out / "LATEST").exists() and any((out / "tb").iterdir())
    for d in ("robot", "human"):
        assert (out / "videos" / f"step_00000002_{d}.mp4").stat().st_size > 0
    val = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines() if "valid/robot/paired_mse_joints" in l]
    assert val and {"valid/human/final_mse_xyz", "valid/robot/final_mse_xyz"} <= set(val[-1])
    ck = load_checkpoint(out)
    assert ck.step == 2 and ck.model.domains == ("robot", "human")
    # An existing run is not overwritten; a typo'd preset is one line.
    assert egogym_main(["train", "--robot", str(robot), "--out", str(out)]) == 2
    assert egogym_main(["train", "--preset", "smok", "--robot", str(robot), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "did you mean 'smoke'" in err
    # Resuming a finished run (a restarted ablation does) changes nothing; asking for fewer steps is refused.
    before = _weights(out)
    resume = ["train", "--robot", str(robot), "--human", str(human), "--out", str(out), "--resume", "--no-progress"]
    assert egogym_main(resume + ["--steps", "2"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert all(torch.equal(before[k], v) for k, v in _weights(out).items())
    assert egogym_main(resume + ["--steps", "1"]) == 2
    assert "pass --steps 2 or more" in capsys.readouterr().err


def test_robot_only_baseline_and_wrong_domain(tiny_files, tmp_path, capsys):
    robot, human = tiny_files
    out = tmp_path / "act"
    assert egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--out", str(out), "--steps", "1",
                        "--no-progress", "--set", "train.video_frames=0"]) == 0
    assert load_checkpoint(out).model.domains == ("robot",)
    assert egogym_main(["train", "--preset", "smoke", "--robot", str(human), "--out", str(tmp_path / "y")]) == 2
    assert "pass it as --human" in capsys.readouterr().err


def test_checkpoint_refuses_missing_or_mismatched_config_and_stats(tiny_files, tmp_path):
    robot, human = tiny_files
    cfg = SMOKE.with_overrides({"train.video_frames": 0})
    data, stats = open_files(cfg, robot, human)
    Trainer(cfg, data, stats, tmp_path / "run", 1, progress=False).fit()
    ck = load_checkpoint(tmp_path / "run")
    d = ck.path
    # Round trip: identical outputs from the reloaded model.
    ck2 = load_checkpoint(d)
    x = {"front": torch.rand(1, 3, 32, 32), "wrist": torch.rand(1, 3, 32, 32)}
    ck.model.eval(), ck2.model.eval()
    torch.testing.assert_close(ck.model("robot", x, torch.zeros(1, 7))["joints"],
                               ck2.model("robot", x, torch.zeros(1, 7))["joints"], rtol=0, atol=0)
    stats_file = d / "stats_human.json"
    saved = stats_file.read_text()
    stats_file.unlink()
    with pytest.raises(CheckpointError, match="stats_human.json is missing"):
        load_checkpoint(d)
    s = json.loads(saved)
    s["stats"]["ee_pose"]["mean"][0] += 1.0
    stats_file.write_text(json.dumps(s))
    with pytest.raises(CheckpointError, match="digest mismatch"):
        load_checkpoint(d)
    stats_file.write_text(saved)
    c = json.loads((d / "config.json").read_text())
    c["model"]["hidden"] = 64
    (d / "config.json").write_text(json.dumps(c))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(d)
    (d / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_checkpoint(d)
