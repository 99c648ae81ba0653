"""bench/gpu_check.sh, the GPU machine's check of issue 25, runs end to end here in its reduced mode
(a few 32x32 demos, the smoke preset, 2 evaluation episodes) and writes one JSON with every key;
its wheel pruning keeps what egogym imports and drops only the listed parts."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TOP_KEYS = {"schema", "mode", "ok", "started_utc", "finished_utc", "wall_s", "budget_s", "machine", "versions",
            "torch", "options", "install", "phases", "figures"}
PHASES = {"probe", "collect_robot", "train_cpu", "eval_cpu", "collect_robot_big", "train_paper",
          "train_throughput", "collect_human", "train_cotrain"}
FIGURES = {
    "install_s", "gpu_name", "cuda_available", "torch_version", "egogym_version", "train_device",
    "collect_robot_s", "collect_robot_demos", "collect_robot_demos_per_s", "collect_robot_big_s",
    "collect_robot_big_demos", "collect_human_s", "collect_human_demos",
    "train_cpu_s", "train_cpu_steps", "train_cpu_samples_per_s",
    "eval_cpu_s", "eval_cpu_episodes", "eval_cpu_episodes_per_s", "eval_cpu_success_rate",
    "eval_cpu_success_rate_interval",
    "train_paper_s", "train_paper_steps", "train_paper_samples_per_s",
    "train_throughput_s", "throughput_paper_samples_per_s", "throughput_cpu_samples_per_s",
    "train_cotrain_s", "train_cotrain_steps", "train_cotrain_samples_per_s", "wall_s",
}


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_reduced_mode_writes_every_figure(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if k not in ("OUT", "GPU_CHECK_DEVICE", "GPU_CHECK_EVAL_DEVICE")}
    env.update(EGOGYM_PYTHON=sys.executable, OMP_NUM_THREADS="1")
    t = time.perf_counter()
    res = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--reduced", "--out", str(out),
                          "--work", str(work)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    seconds = time.perf_counter() - t
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "gpu_check_logs.txt"]
    d = json.loads((out / "gpu_check.json").read_text())
    mod = _module()
    assert set(d) == TOP_KEYS == set(mod.TOP_KEYS)
    assert set(d["phases"]) == PHASES == set(mod.PHASES)
    assert set(d["figures"]) == FIGURES == set(mod.FIGURES)
    bad = {k: (v["status"], v.get("reason"), v.get("error_tail", "")[-800:]) for k, v in d["phases"].items()
           if v["status"] != "ok"}
    assert not bad and d["ok"] is True, bad
    f = d["figures"]
    assert d["mode"] == "reduced" and d["install"]["status"] == "skipped"  # egogym imports here: no wheels
    assert f["collect_robot_demos"] == 4 and f["collect_robot_big_demos"] == 2 and f["collect_human_demos"] == 2
    assert f["train_cpu_steps"] == 4 and f["train_paper_steps"] == 2 and f["train_cotrain_steps"] == 2
    assert f["eval_cpu_episodes"] == 2 and 0.0 <= f["eval_cpu_success_rate"] <= 1.0
    assert d["phases"]["eval_cpu"]["summary"]["episodes"] == 2
    for k in ("collect_robot_s", "train_cpu_s", "train_cpu_samples_per_s", "eval_cpu_s", "eval_cpu_episodes_per_s",
              "train_paper_s", "train_throughput_s", "wall_s"):
        assert isinstance(f[k], (int, float)) and f[k] > 0, k
    assert d["phases"]["train_throughput"]["result"]["rows"]  # bench/train_throughput.py --json
    assert f["torch_version"] == d["torch"]["version"] and f["egogym_version"] == d["versions"]["egogym"]
    # --device is passed where the commands have it, the CPU here
    o = d["options"]
    assert o["train_device"] in (None, "cpu") and o["eval_device"] in (None, "cpu")
    assert f["wall_s"] <= d["budget_s"] and seconds < 240


def _wheel(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr(path.name.split("-")[0] + "-1.0.dist-info/RECORD", "\n".join(f"{n},," for n in files) + "\n")


def test_prune_keeps_what_egogym_imports(tmp_path):
    mod = _module()
    w = tmp_path / "dm_control-1.0.50-py3-none-any.whl"
    _wheel(w, {"dm_control/__init__.py": b"", "dm_control/mjcf/parser.py": b"x = 1\n",
               "dm_control/locomotion/soccer/ball.xml": b"0" * 5000, "dm_control/suite/dog_assets/a.stl": b"1" * 5000,
               "dm_control/suite/cartpole.py": b""})
    mod.prune_wheel(w)
    with zipfile.ZipFile(w) as z:
        names = set(z.namelist())
        record = z.read("dm_control-1.0.dist-info/RECORD").decode()
    assert names == {"dm_control/__init__.py", "dm_control/mjcf/parser.py", "dm_control/suite/cartpole.py",
                     "dm_control-1.0.dist-info/RECORD"}
    assert "locomotion" not in record and "dm_control/mjcf/parser.py,sha256=" in record

    h = tmp_path / "hdf5plugin-7.1.0-py3-none-manylinux_2_28_x86_64.whl"
    config = ("build_config = HDF5PluginBuildConfig(**{'openmp': False, 'filter_file_extension': '.so', "
              "'embedded_filters': ('blosc', 'blosc2', 'zstd')})\n")
    _wheel(h, {"hdf5plugin/_config.py": config.encode(), "hdf5plugin/plugins/libh5blosc.so": b"b",
               "hdf5plugin/plugins/libh5blosc2.so": b"c", "hdf5plugin/plugins/libh5zstd.so": b"z"})
    mod.prune_wheel(h)
    with zipfile.ZipFile(h) as z:
        assert sorted(n for n in z.namelist() if "/plugins/" in n) == ["hdf5plugin/plugins/libh5blosc.so"]
        assert "'embedded_filters': ('blosc',)})" in z.read("hdf5plugin/_config.py").decode()
