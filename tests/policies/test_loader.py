"""`egogym train --workers N`: DataLoader workers read the same batches as the training process.

Each StepLoader with workers spawns processes (a few seconds each on a small machine), so the
cases share loaders: consecutive steps, then a jump (a resume) in the same loader."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from egogym.cli import main as egogym_main
from egogym.policies.batch import BatchPlan
from egogym.policies.config import preset
from egogym.policies.loader import StepLoader, step_samples
from egogym.policies.train import Trainer, open_files

SMOKE = preset("smoke").with_overrides({"model.image_size": "32,32"})


def _assert_same(loaded: dict, direct: dict, where: str) -> None:
    assert set(loaded) == set(direct), where
    for k, want in direct.items():
        got = loaded[k]
        if want.dtype.kind in "USO":  # demo names: DataLoader leaves string arrays as numpy
            assert isinstance(got, np.ndarray) and np.array_equal(got, want), (where, k)
        else:
            assert isinstance(got, torch.Tensor), (where, k, type(got))
            want_t = torch.as_tensor(want)
            assert got.dtype == want_t.dtype and torch.equal(got, want_t), (where, k)


@pytest.mark.parametrize("domain", ["robot", "human"])
def test_loader_steps_equal_in_process_any_start_and_rank(tiny_files, domain):
    robot, human = tiny_files
    data, _ = open_files(SMOKE, robot, human)
    ds = data[domain][0]
    # a sample map with repeats, as early_repeat makes; batches wrap over epochs within a few steps
    smap = np.concatenate([np.arange(len(ds)), np.arange(min(5, len(ds)))])
    for world, rank in ((1, 0), (2, 1)):
        plan = BatchPlan(len(smap), 4, 3, domain, world, rank)
        loader = StepLoader(ds, smap, plan, stop=9, workers=2, prefetch_factor=2)
        try:
            for step in (0, 1, 2, 6, 7, 8):  # 6: a jump (a run resumed at step 6) opens a new pass there
                _assert_same(loader.samples(step), step_samples(ds, smap, plan, step),
                             f"{domain} world={world} rank={rank} step={step}")
            assert loader._it is None  # the workers stop after the last step
        finally:
            loader.close()


def test_loader_refuses_fork_and_zero_workers(tiny_files):
    plan = BatchPlan(10, 2, 0, "robot")
    with pytest.raises(ValueError, match="fork"):
        StepLoader([], np.arange(10), plan, 5, 2, context="fork")
    with pytest.raises(ValueError, match="workers"):
        StepLoader([], np.arange(10), plan, 5, 0)


def _run(tmp, name, robot, human, *extra):
    out = tmp / name
    code = egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--human", str(human), "--out", str(out),
                        "--steps", "3", "--no-progress", "--device", "cpu", "--set", "model.image_size=32,32",
                        "--set", "train.video_frames=0", "--set", "train.val_every=3", "--set", "train.log_every=1",
                        *extra])
    assert code == 0
    weights = load_file(str(sorted((out / "checkpoints").iterdir())[-1] / "model.safetensors"))
    rows = [{k: v for k, v in json.loads(l).items() if k not in ("samples_per_s", "data_wait_frac")}
            for l in (out / "metrics.jsonl").read_text().splitlines()]
    return weights, rows, json.loads((out / "config.json").read_text())


def test_cli_workers_2_trains_exactly_as_workers_0(tiny_files, tmp_path):
    robot, human = tiny_files
    w0, rows0, cfg0 = _run(tmp_path, "w0", robot, human, "--workers", "0")
    w2, rows2, cfg2 = _run(tmp_path, "w2", robot, human, "--workers", "2")
    assert cfg0 == cfg2  # --workers is not part of the run's config
    assert set(w0) == set(w2)
    for k in w0:
        assert torch.equal(w0[k], w2[k]), k
    assert rows0 == rows2 and any(k.startswith("valid/") for r in rows0 for k in r)
    assert egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--out", str(tmp_path / "bad"),
                        "--workers", "-1", "--no-progress", "--device", "cpu"]) == 2


def test_resume_with_workers_equals_straight_in_process(tiny_files, tmp_path):
    robot, human = tiny_files
    cfg = SMOKE.with_overrides({"train.val_every": 100, "train.ckpt_every": 2, "train.video_frames": 0})
    data, stats = open_files(cfg, robot, human)
    Trainer(cfg, data, stats, tmp_path / "straight", 4, progress=False).fit()
    Trainer(cfg, data, stats, tmp_path / "split", 2, progress=False, workers=1).fit()
    t = Trainer(cfg, data, stats, tmp_path / "split", 4, resume=True, progress=False, workers=2)
    assert t.start == 2
    t.fit()
    assert all(lo._it is None for lo in t._loaders.values())
    last = lambda run: load_file(str(sorted((run / "checkpoints").iterdir())[-1] / "model.safetensors"))
    a, b = last(tmp_path / "straight"), last(tmp_path / "split")
    assert set(a) == set(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    losses = lambda run: [json.loads(l)["loss"] for l in (run / "metrics.jsonl").read_text().splitlines()
                          if "loss" in json.loads(l)]
    np.testing.assert_allclose(losses(tmp_path / "straight"), losses(tmp_path / "split"), rtol=1e-6)
