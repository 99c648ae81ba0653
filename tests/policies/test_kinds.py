"""The `--policy` kinds (`egogym.policies.kinds`): every kind of the registry parses from its
documented text into its type and back (`text`, `describe()`), a malformed `--policy` is one
line naming the flag, and the registry imports and parses without torch or the simulator."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from egogym.core.errors import UserError
from egogym.eval.config import EvalConfig
from egogym.policies import kinds
from egogym.policies.kinds import (KINDS, Hold, LeRobotRun, HumanIkRun, PoseIkRun, Remote, Replay, Scripted, TrainedRun,
                                   kinds_help, parse_policy)


def examples(tmp_path) -> dict[type, str]:
    """One `--policy` text per kind, written as its `syntax` documents it."""
    return {Scripted: "scripted", Hold: "hold", Replay: f"replay:{tmp_path / 'robot.hdf5'}:demo_2",
            PoseIkRun: f"pose-ik:{tmp_path / 'run'}", HumanIkRun: f"human-ik:{tmp_path / 'run'}",
            TrainedRun: str(tmp_path / "run"),
            Remote: "ws://127.0.0.1:1?connect=0.2&k=10",  # nothing listens on port 1: described as unknown
            LeRobotRun: f"lerobot:{tmp_path / 'pretrained_model'}"}


def test_every_kind_parses_from_its_documented_text_and_round_trips(tmp_path):
    texts = examples(tmp_path)
    assert set(texts) == set(KINDS), "a kind without an example here: add one"
    assert KINDS[-1] is TrainedRun  # the fall-through claims every text, so it comes last
    for kind, text in texts.items():
        assert kind.syntax in kinds.__doc__ and kind.syntax in kinds_help()  # documented once, shown in --help
        spec = parse_policy(text)
        assert type(spec) is kind and spec.text == text
        assert parse_policy(spec.text) == spec
        described = spec.describe()
        assert json.loads(json.dumps(described)) == described  # JSON-able for summary.json
        assert parse_policy(spec.text).describe() == described
        assert spec.needs_sim == (kind is Scripted)
    assert PoseIkRun.for_run(tmp_path / "run") == parse_policy(texts[PoseIkRun])
    assert TrainedRun.for_run(tmp_path / "run") == parse_policy(texts[TrainedRun])
    assert parse_policy(texts[Remote]).describe()["unknown_because"].startswith("--policy ws://127.0.0.1:1")


def test_kinds_carry_their_arguments(tmp_path):
    r = parse_policy("replay:data/robot.hdf5:demo_3")
    assert isinstance(r, Replay) and (r.path, r.demo) == ("data/robot.hdf5", "demo_3")
    assert r.inputs() == ("data/robot.hdf5",)
    assert parse_policy("replay:robot.hdf5").demo == "demo_0"
    assert parse_policy("replay:C:/robot.hdf5").path == "C:/robot.hdf5"  # a colon that names no demo
    c = parse_policy("pose-ik:runs/act")
    assert isinstance(c, TrainedRun) and (c.run_dir, c.drive) == ("runs/act", "pose_head_ik")
    assert c.inputs() == ("runs/act",)
    assert parse_policy("runs/act").drive == "joint_head"
    assert parse_policy("ws://host:8000").inputs() == () and isinstance(parse_policy("wss://host:8000"), Remote)
    with pytest.raises(UserError, match="neither 'scripted' nor an existing run directory"):
        parse_policy(str(tmp_path / "missing")).cameras()


@pytest.mark.parametrize("text, words", [
    ("", "give one of scripted, hold, replay:FILE.hdf5[:demo_N]"),
    ("   ", "give one of"),
    ("replay:", "give replay:FILE.hdf5[:demo_N]"),
    ("pose-ik:", "give pose-ik:RUN_DIR"),
    ("lerobot:", "give lerobot:PATH"),
    ("ws://:80", "give ws://HOST:PORT"),
    ("ws://127.0.0.1:x", "the port is not a number"),
    ("ws://127.0.0.1:80?kk=3", "unknown parameter 'kk'"),
])
def test_a_malformed_policy_is_one_line_naming_the_flag(text, words):
    with pytest.raises(UserError) as e:
        parse_policy(text)
    msg = str(e.value)
    assert msg.startswith("--policy ") and "\n" not in msg and words in msg
    with pytest.raises(UserError, match="^--policy "):  # before any work: the config refuses it
        EvalConfig(policy=text)


def test_a_malformed_policy_on_the_command_line_is_one_line(tmp_path, capsys):
    from egogym.cli import main

    assert main(["eval", "--policy", "replay:", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--policy replay:" in err
    assert not (tmp_path / "o").exists()


def test_the_config_parses_once_and_refuses_sim_kinds_on_hardware():
    cfg = EvalConfig(policy="pose-ik:runs/act")
    assert cfg.policy_spec == PoseIkRun("pose-ik:runs/act", "runs/act")
    assert EvalConfig.from_dict(cfg.to_dict()).policy_spec == cfg.policy_spec
    assert "policy_spec" not in cfg.to_dict()
    with pytest.raises(UserError, match="reads the simulator's state"):
        EvalConfig(policy="scripted", backend="real")


def test_the_registry_needs_neither_torch_nor_the_simulator():
    code = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'mujoco', 'dm_control'}:
            raise ImportError(name + ' is blocked by this test')
sys.meta_path.insert(0, Block())
import numpy as np
from egogym.policies.kinds import KINDS, HoldPolicy, parse_policy
from egogym.eval.config import EvalConfig
for text in ('scripted', 'hold', 'replay:a.hdf5', 'pose-ik:runs/a', 'runs/a', 'ws://h:1', 'lerobot:a'):
    parse_policy(text)
    EvalConfig(policy=text)
p = HoldPolicy(); p.reset()
assert (p.act({'joint_positions': np.ones(7)}) == 1).all() and not p.reads_images()
print('ok')
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
