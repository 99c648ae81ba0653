"""The wheel is a package a researcher can `pip install`: built from a copy of the source,
installed into a fresh venv, and used from a folder that holds no source: the env's assets,
the built-in ablation config and the command line all come from the installed package."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _copy_source(dst: Path) -> None:
    keep = ["pyproject.toml", "README.md", "egogym"]
    for name in keep:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dst / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv with the wheel installed, a working folder away from the source)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, dist = tmp / "src", tmp / "dist"
    src.mkdir()
    _copy_source(src)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(dist), str(src)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    wheels = list(dist.glob("egogym-*.whl"))
    assert len(wheels) == 1
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    # The dependencies come from this test's own environment (read-only, by path), never the
    # egogym under test: the main venv's site-packages is added as a plain path, so its
    # editable-install hook (a .pth file) does not run.
    site = Path(sysconfig.get_paths()["purelib"])
    own_site = Path(subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                            text=True).strip())
    (own_site / "deps.pth").write_text(str(site) + "\n")
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(own_site),
                          str(wheels[0])], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    work = tmp / "work"
    work.mkdir()
    return py, work, wheels[0]


def _run(py: Path, work: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("MUJOCO_GL", "egl")
    return subprocess.run([str(py), "-c", code], cwd=work, capture_output=True, text=True, env=env)


def test_wheel_holds_the_package_data(installed):
    import zipfile

    names = set(zipfile.ZipFile(installed[2]).namelist())
    for needed in ("egogym/assets/workcell.xml", "egogym/eval/configs/cpu.toml", "egogym/py.typed",
                   "egogym/policies/train.py", "egogym/core/spec.py"):
        assert needed in names
    assert not any(n.split("/")[0] in ("policies", "eval", "assets", "tests") for n in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "egogym = egogym.cli:main" in zipfile.ZipFile(installed[2]).read(entry).decode()


def test_installed_env_resets_away_from_the_source(installed):
    py, work, _ = installed
    res = _run(py, work, "import egogym, gymnasium as gym, pathlib\n"
                         f"assert not pathlib.Path(egogym.__file__).is_relative_to({str(ROOT)!r}), egogym.__file__\n"
                         "env = gym.make('egogym/ObjectInBowl-v0', image_size=(32, 32))\n"
                         "obs, info = env.reset(seed=0)\n"
                         "print(sorted(obs), obs['front_img_1'].shape)\nenv.close()")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(32, 32, 3)" in res.stdout


def test_installed_command_line_collects_and_finds_its_builtin_config(installed):
    py, work, _ = installed
    cli = "import sys; from egogym.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("MUJOCO_GL", "egl")
    res = subprocess.run([str(py), "-c", cli, "--help"], cwd=work, capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "collect" in res.stdout and "quickstart" in res.stdout, res.stderr
    res = subprocess.run([str(py), "-c", cli, "collect", "--episodes", "1", "--image-size", "32", "32", "--max-steps",
                          "20", "--out", "one.hdf5", "--no-progress"], cwd=work, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (work / "one.hdf5").stat().st_size > 0
    res = _run(py, work, "from egogym.eval.ablation import load_config; print(load_config('cpu').name)")
    assert res.returncode == 0 and res.stdout.strip() == "cpu", res.stderr[-3000:]
