"""`--device`: names parsed once, a CUDA-free machine says so in one line, the CPU path is the
one it always was, and checkpoints hold CPU tensors whatever device trained them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from egogym.cli import main as egogym_main
from egogym.core.errors import UserError
from egogym.policies.checkpoint import load_checkpoint
from egogym.policies.device import autocast, distributed_backend, resolve_device, to_device
from egogym.policies.normalize import Normalizer

NO_CUDA = not torch.cuda.is_available()


def test_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))
    for bad in ("gpu", "cuda:", "CUDA", "cpu0", ""):
        if bad == "":
            continue  # empty means auto
        with pytest.raises(UserError, match="--device .*use auto, cpu, cuda or cuda:N"):
            resolve_device(bad)
    assert distributed_backend(torch.device("cpu")) == "gloo"
    assert distributed_backend(torch.device("cuda", 0)) == "nccl"


@pytest.mark.skipif(not NO_CUDA, reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line(tiny_files, tmp_path, capsys):
    with pytest.raises(UserError, match="--device cuda: torch .* sees no CUDA GPU"):
        resolve_device("cuda")
    robot, _ = tiny_files
    assert egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--out", str(tmp_path / "r"),
                        "--steps", "1", "--device", "cuda:0", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device cuda:0" in err[0] and "use --device cpu or auto" in err[0]
    assert not (tmp_path / "r").exists()  # refused before any work
    assert egogym_main(["eval", "--policy", "hold", "--episodes", "1", "--out", str(tmp_path / "e"),
                        "--device", "gpu"]) == 2
    assert "--device 'gpu'" in capsys.readouterr().err


def test_the_cpu_path_is_unchanged():
    """On the CPU no autocast, and batches stay what they were (numpy in, numpy out)."""
    cpu = torch.device("cpu")
    batch = {"x": np.arange(6).reshape(2, 3)}
    assert to_device(batch, cpu) is batch
    # elsewhere, numbers become tensors there and names stay as they are (meta: a device with no storage)
    moved = to_device({"x": np.zeros((2, 3), np.uint8), "demo": np.array(["demo_0", "demo_1"])}, torch.device("meta"))
    assert moved["x"].device.type == "meta" and moved["demo"].tolist() == ["demo_0", "demo_1"]
    with autocast(cpu):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32


def test_normalizer_follows_the_tensors_device(tiny_files):
    """Statistics are cached per device and applied where the data is (meta: a device with no storage)."""
    from egogym.data.stats import NormStats

    robot, _ = tiny_files
    stats = NormStats.compute(robot)
    n = Normalizer({"robot": stats})
    x = torch.zeros(2, stats.mean["joint_positions"].shape[-1])
    assert n.normalize("robot", "joint_positions", x).device.type == "cpu"
    assert n.normalize("robot", "joint_positions", x.to("meta")).device.type == "meta"
    assert {k[2] for k in n._torch} == {"cpu", "meta"}


def test_a_checkpoint_holds_cpu_tensors_and_loads_on_the_cpu(tiny_files, tmp_path):
    """Weights and optimizer moments are written from CPU copies (a CUDA run's too) and read to
    the CPU; `load_policy(device="cpu")` runs them there."""
    from safetensors import safe_open

    from egogym.policies.policy import load_policy

    robot, _ = tiny_files
    out = tmp_path / "run"
    assert egogym_main(["train", "--preset", "smoke", "--robot", str(robot), "--out", str(out), "--steps", "2",
                        "--device", "cpu", "--no-progress"]) == 0
    ck = load_checkpoint(out)
    for name in ("model.safetensors", "optimizer.safetensors"):
        with safe_open(str(ck.path / name), framework="pt") as f:
            assert all(f.get_tensor(k).device.type == "cpu" for k in f.keys())
    policy = load_policy(out, None, device="cpu")
    assert all(p.device.type == "cpu" for p in policy.model.parameters())
