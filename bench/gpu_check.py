"""The GPU check of issue 25: data, training, evaluation and their times on one machine, one JSON.

Run it through `bash bench/gpu_check.sh [--reduced]`, which installs what is missing (the wheels
carried in `.whl/`), picks the Python and sets the GL variables; this file does the work with the
standard library only and runs every step as a child process of that Python:

 1. robot demos (the scripted expert, 64x64, the toy in the robot region) collected by one process
    per core over disjoint seed ranges, merged into one file (`egogym train` takes one --robot file)
    and split; a small 480x640 set the same way;
 2. the `cpu` preset trained robot-only (`egogym train --device cuda` when torch sees a GPU and the
    command has --device; --workers when it has that);
 3. the `cpu` policy evaluated on 200 held-out in-region seeds (`egogym eval --workers 16`);
 4. the `paper` preset trained at 480x640 for a few steps; `bench/train_throughput.py`;
 5. human demos and a co-trained `cpu` run, as far as the time budget allows.

Every phase has a time limit and the whole run a budget (--budget, from the shell script's start);
a phase that fails or runs out of time is recorded with its log's tail and the run goes on. All
figures go into ONE file, `$OUT/gpu_check.json` (else `./gpu_check_out/`), rewritten after each
phase; the phases' log tails go beside it in `gpu_check_logs.txt`.

`--reduced` is the same pipeline made small enough for a 2-core CPU machine (tests/package/
test_gpu_check.py): a few 32x32 demos, the `smoke` preset for a few steps, 2 evaluation episodes.

    python bench/gpu_check.py wheels        # here, with a network: fill .whl/ for the GPU machine
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "egogym.gpu_check/1"
REGION = "toy_region=[[0.08,0.30],[-0.36,-0.19]]"  # the robot demos' and the evaluation's region
EVAL_SEED = 100_000  # held out: collection uses seeds below it

# name -> what each mode does; the full mode is sized for 16 cores and one H200 within ~9 minutes
MODES = {
    "full": dict(
        budget_s=560, img=(64, 64), robot_demos=208, big_img=(480, 640), big_demos=16, human_demos=160,
        cpu_preset="cpu", cpu_steps=3000, paper_preset="paper", paper_steps=200, cotrain_steps=3000,
        eval_episodes=200, eval_max_steps=500, throughput_presets="paper,cpu", throughput_seconds=5,
        train_workers=8, train_threads=4,
        caps=dict(probe=90, collect_robot=110, train_cpu=240, eval_cpu=170, collect_robot_big=90,
                  train_paper=110, train_throughput=80, collect_human=70, train_cotrain=300)),
    "reduced": dict(
        budget_s=240, img=(32, 32), robot_demos=4, big_img=(32, 32), big_demos=2, human_demos=2,
        cpu_preset="smoke", cpu_steps=4, paper_preset="smoke", paper_steps=2, cotrain_steps=2,
        eval_episodes=2, eval_max_steps=60, throughput_presets="smoke", throughput_seconds=0.5,
        train_workers=0, train_threads=1,
        caps=dict(probe=60, collect_robot=60, train_cpu=60, eval_cpu=60, collect_robot_big=60,
                  train_paper=60, train_throughput=60, collect_human=60, train_cotrain=60)),
}
PHASES = ("probe", "collect_robot", "train_cpu", "eval_cpu", "collect_robot_big", "train_paper",
          "train_throughput", "collect_human", "train_cotrain")
OPTIONAL = ("collect_human", "train_cotrain")
"""Run if the budget allows (the co-trained run takes what is left): out of time there is no failure."""
FIGURES = (
    "install_s", "gpu_name", "cuda_available", "torch_version", "egogym_version", "train_device",
    "collect_robot_s", "collect_robot_demos", "collect_robot_demos_per_s",
    "collect_robot_big_s", "collect_robot_big_demos",
    "collect_human_s", "collect_human_demos",
    "train_cpu_s", "train_cpu_steps", "train_cpu_samples_per_s",
    "eval_cpu_s", "eval_cpu_episodes", "eval_cpu_episodes_per_s", "eval_cpu_success_rate",
    "eval_cpu_success_rate_interval",
    "train_paper_s", "train_paper_steps", "train_paper_samples_per_s",
    "train_throughput_s", "throughput_paper_samples_per_s", "throughput_cpu_samples_per_s",
    "train_cotrain_s", "train_cotrain_steps", "train_cotrain_samples_per_s",
    "wall_s",
)
"""Every key of the JSON's "figures" (null where a phase did not get that far)."""
TOP_KEYS = ("schema", "mode", "ok", "started_utc", "finished_utc", "wall_s", "budget_s", "machine", "versions",
            "torch", "options", "install", "phases", "figures")
"""Every top-level key of the JSON."""

MIN_PHASE_S = 8  # a phase with less time than this left is skipped


# ---- running children -------------------------------------------------------------------------
def _kill(p: subprocess.Popen) -> None:
    """End a child we started and everything in its process group (it was started in its own session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            p.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def run_many(cmds: list[list[str]], logs: list[Path], timeout: float, env: dict | None = None) -> list[dict]:
    """Run the commands side by side (cwd: the repo), each to its log; those still running after
    `timeout` seconds are ended. Returns one {rc, timed_out, seconds} per command."""
    t0 = time.perf_counter()
    procs, files = [], []
    for cmd, log in zip(cmds, logs):
        log.parent.mkdir(parents=True, exist_ok=True)
        f = open(log, "wb")
        f.write(("$ " + " ".join(cmd) + "\n").encode())
        f.flush()
        files.append(f)
        procs.append(subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      cwd=REPO, env=env, start_new_session=True))
    done: dict[int, dict] = {}
    while len(done) < len(procs):
        for i, p in enumerate(procs):
            if i not in done and p.poll() is not None:
                done[i] = {"rc": p.returncode, "timed_out": False, "seconds": round(time.perf_counter() - t0, 2)}
        if len(done) < len(procs) and time.perf_counter() - t0 > timeout:
            for i, p in enumerate(procs):
                if i not in done:
                    _kill(p)
                    done[i] = {"rc": p.returncode, "timed_out": True, "seconds": round(time.perf_counter() - t0, 2)}
        time.sleep(0.05)
    for f in files:
        f.close()
    return [done[i] for i in range(len(procs))]


def tail(path: Path, chars: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - chars))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def smi(fields) -> tuple[list[list[str]], str | None]:
    """nvidia-smi's rows of these --query-gpu fields, or ([], why not)."""
    try:
        q = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [], repr(e)
    if q.returncode:
        return [], (q.stderr or q.stdout)[-500:]
    return [[c.strip() for c in line.split(",")] for line in q.stdout.strip().splitlines() if line.strip()], None


class GpuSampler(threading.Thread):
    """Samples the GPU's memory in use (MiB) and utilization (%) every `every` s while a phase runs."""

    def __init__(self, every: float = 2.0):
        super().__init__(daemon=True)
        self.every, self.stop, self.samples = every, threading.Event(), []

    def run(self):
        while not self.stop.is_set():
            rows, _ = smi(("memory.used", "utilization.gpu"))
            if not rows:
                return
            try:
                self.samples.append((float(rows[0][0]), float(rows[0][1])))
            except (ValueError, IndexError):
                return
            self.stop.wait(self.every)

    def result(self) -> dict | None:
        self.stop.set()
        self.join(timeout=25)
        if not self.samples:
            return None
        mem, util = zip(*self.samples)
        return {"samples": len(mem), "memory_used_max_mib": max(mem),
                "utilization_mean_pct": round(sum(util) / len(util), 1), "utilization_max_pct": max(util)}


# ---- merging collected files --------------------------------------------------------------------
def merge(out: Path, inputs: list[Path]) -> dict:
    """Copy the demos of several egogym HDF5 files (one kind, one image size) into `out` as
    demo_0..demo_{n-1}, ordered by file then seed; file attributes from the first, `total` summed.
    Runs in a child (h5py and hdf5plugin live where egogym's dependencies do)."""
    import h5py
    import hdf5plugin  # noqa: F401  (the blosc filter, should a chunk need it)

    n = total = 0
    with h5py.File(out, "w") as fo:
        g = None
        for path in inputs:
            with h5py.File(path, "r") as fi:
                if g is None:
                    for k, v in fi.attrs.items():
                        fo.attrs[k] = v
                    g = fo.create_group("data")
                    for k, v in fi["data"].attrs.items():
                        g.attrs[k] = v
                src = fi["data"]
                demos = sorted((d for d in src if d.startswith("demo_")), key=lambda d: int(d.split("_")[1]))
                for d in demos:
                    name = f"demo_{n}"
                    fi.copy(src[d], g, name=name)
                    if "episode" in g[name].attrs:
                        g[name].attrs["episode"] = n
                    total += int(src[d].attrs.get("num_samples", 0))
                    n += 1
        if g is not None:
            g.attrs["total"] = total
    return {"demos": n, "samples": total, "bytes": out.stat().st_size}


# ---- the check ------------------------------------------------------------------------------------
PROBE = r"""
import json, sys
from importlib import metadata
out = {}
def ver(n):
    try:
        return metadata.version(n)
    except Exception:
        return None
out["versions"] = {n: ver(n) for n in ("torch", "mujoco", "dm-control", "gymnasium", "hdf5plugin", "h5py",
                                      "numpy", "scipy", "safetensors", "tensorboard")}
try:
    import egogym
    out["versions"]["egogym"] = egogym.__version__
    out["egogym_path"] = egogym.__file__
    from egogym.core.provenance import machine
    out["provenance"] = machine()
except Exception as e:
    out["egogym_error"] = repr(e)
try:
    import torch
    ok = torch.cuda.is_available()
    out["torch"] = {"version": torch.__version__, "cuda_available": ok, "cuda": torch.version.cuda,
                    "cudnn": torch.backends.cudnn.version() if ok else None,
                    "device_count": torch.cuda.device_count() if ok else 0,
                    "device_name": torch.cuda.get_device_name(0) if ok else None,
                    "capability": list(torch.cuda.get_device_capability(0)) if ok else None,
                    "bf16": torch.cuda.is_bf16_supported() if ok else None,
                    "threads": torch.get_num_threads()}
except Exception as e:
    out["torch"] = {"error": repr(e), "cuda_available": False}
try:
    import mujoco, dm_control.mjcf, gymnasium, hdf5plugin
    out["sim_imports"] = "ok"
except Exception as e:
    out["sim_imports"] = repr(e)
print("PROBE " + json.dumps(out))
"""


class Check:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.mode = "reduced" if args.reduced else "full"
        self.m = dict(MODES[self.mode], caps=dict(MODES[self.mode]["caps"]))
        for kv in args.set or ():  # --set robot_demos=64 --set caps.train_cpu=300
            k, _, v = kv.partition("=")
            d, key = (self.m["caps"], k[5:]) if k.startswith("caps.") else (self.m, k)
            if key not in d:
                raise SystemExit(f"gpu_check: --set {kv}: unknown setting {k!r}; known: {sorted(self.m)}")
            d[key] = json.loads(v)
        self.py = args.python or sys.executable
        self.t0 = float(os.environ.get("GPU_CHECK_T0") or time.time())
        self.budget = float(args.budget or os.environ.get("GPU_CHECK_BUDGET_S") or self.m["budget_s"])
        self.deadline = self.t0 + self.budget
        self.out = Path(args.out or os.environ.get("OUT") or REPO / "gpu_check_out").resolve()
        self.work = Path(args.work or os.environ.get("GPU_CHECK_WORK") or f"/tmp/gpu_check_{self.mode}").resolve()
        self.procs = args.procs or min(16, os.cpu_count() or 1)
        if self.mode == "reduced":
            self.procs = min(self.procs, 2)
        self.env = dict(os.environ)
        self.env.setdefault("MUJOCO_GL", "egl")
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in self.env.get("PYTHONPATH", "").split(
            os.pathsep) if p and Path(p).resolve() != REPO])
        self.env1 = {**self.env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # the many-process phases
        self.logs: list[tuple[str, Path]] = []
        self.res = {k: None for k in TOP_KEYS}
        self.res.update(schema=SCHEMA, mode=self.mode, ok=False, budget_s=self.budget,
                        started_utc=dt.datetime.fromtimestamp(self.t0, dt.timezone.utc).isoformat(timespec="seconds"),
                        machine=self.machine(), versions={}, torch={}, options={}, install=self.install_info(),
                        phases={p: {"status": "not run"} for p in PHASES}, figures={k: None for k in FIGURES})
        self.fig = self.res["figures"]
        self.fig["install_s"] = self.res["install"].get("seconds")

    # -- bookkeeping --
    def left(self) -> float:
        return self.deadline - time.time()

    def limit(self, phase: str) -> float | None:
        """This phase's time limit: its cap, cut to what is left of the budget; None: skip it."""
        t = min(float(self.m["caps"][phase]), self.left() - 3)
        return t if t >= MIN_PHASE_S else None

    def write(self) -> None:
        self.res["finished_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.res["wall_s"] = self.fig["wall_s"] = round(time.time() - self.t0, 1)
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "gpu_check.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.res, indent=2, default=str) + "\n")
        os.replace(tmp, path)
        with open(self.out / "gpu_check_logs.txt.tmp", "w") as f:
            for name, log in self.logs:
                f.write(f"\n===== {name}: {log}\n{tail(log, 6000)}\n")
        os.replace(self.out / "gpu_check_logs.txt.tmp", self.out / "gpu_check_logs.txt")

    def phase(self, name: str, fn) -> None:
        limit = self.limit(name)
        rec = self.res["phases"][name]
        if limit is None:
            rec.update(status="skipped", reason=f"out of time ({self.left():.0f} s of the budget left)")
            self.write()
            return
        rec.update(status="running", limit_s=round(limit, 1))
        t = time.perf_counter()
        sampler = GpuSampler() if self.res["machine"].get("nvidia_smi") else None
        if sampler:
            sampler.start()
        try:
            status = fn(rec, limit) or "ok"
        except Exception:  # a bug here must not lose the phases after it
            import traceback
            status = "failed"
            rec["error_tail"] = traceback.format_exc()[-2000:]
        if sampler:
            rec["gpu"] = sampler.result()
        rec["status"] = status
        rec["seconds"] = round(time.perf_counter() - t, 2)
        print(f"gpu_check: {name}: {status} in {rec['seconds']} s ({self.left():.0f} s of the budget left)",
              flush=True)
        self.write()

    def run(self, name: str, cmd: list[str], limit: float, rec: dict, env: dict | None = None) -> dict:
        """One command as (part of) a phase: rc, seconds, timed_out and, unless rc is 0, the log's tail in rec."""
        log = self.work / "logs" / f"{name}.log"
        self.logs.append((name, log))
        r = run_many([cmd], [log], limit, env or self.env)[0]
        r["cmd"] = " ".join(cmd)
        if r["rc"] != 0:
            r["error_tail"] = rec["error_tail"] = tail(log)
        rec.setdefault("runs", []).append(r)
        return r

    @staticmethod
    def status(r: dict) -> str:
        return "ok" if r["rc"] == 0 else ("timeout" if r["timed_out"] else "failed")

    def egogym(self, *a) -> list[str]:
        return [self.py, "-m", "egogym.cli", *map(str, a)]

    # -- facts --
    @staticmethod
    def machine() -> dict:
        m = {"hostname": socket.gethostname(), "platform": platform.platform(), "processor": platform.machine(),
             "cpu_count": os.cpu_count(), "python": sys.version.split()[0], "nvidia_smi": None}
        try:
            with open("/proc/meminfo") as f:
                m["mem_total_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
        except (OSError, ValueError, IndexError):
            pass
        for fields in (("name", "driver_version", "memory.total", "compute_cap"), ("name",)):
            rows, err = smi(fields)
            if rows:
                m["nvidia_smi"] = [dict(zip(fields, r)) for r in rows]
                break
            m["nvidia_smi_error"] = err
        return m

    @staticmethod
    def install_info() -> dict:
        log = os.environ.get("GPU_CHECK_INSTALL_LOG")
        whl = sorted(REPO.glob(".whl/*.whl"))
        info = {"status": os.environ.get("GPU_CHECK_INSTALL_STATUS", "not by gpu_check.sh"),
                "seconds": float(os.environ["GPU_CHECK_INSTALL_S"]) if os.environ.get("GPU_CHECK_INSTALL_S") else None,
                "site": os.environ.get("GPU_CHECK_SITE"), "gl": os.environ.get("GPU_CHECK_GL"),
                "wheels": {w.name: w.stat().st_size for w in whl}}
        if info["status"] == "failed" and log:
            info["error_tail"] = tail(Path(log))
        return info

    # -- phases --
    def p_probe(self, rec: dict, limit: float):
        """Versions, torch and the GPU; which flags the commands have (--device, --workers)."""
        names = ["probe", "help_train", "help_eval", "help_throughput"]
        cmds = [[self.py, "-c", PROBE], self.egogym("train", "--help"), self.egogym("eval", "--help"),
                [self.py, "bench/train_throughput.py", "--help"]]
        logs = [self.work / "logs" / f"{n}.log" for n in names]
        self.logs += list(zip(names, logs))
        rs = run_many(cmds, logs, limit, self.env)
        rec["runs"] = [{"name": n, **r} for n, r in zip(names, rs)]
        text = {n: Path(log).read_text(errors="replace") for n, log in zip(names, logs)}
        probe = next((json.loads(line[6:]) for line in text["probe"].splitlines() if line.startswith("PROBE ")), None)
        if probe is None:
            rec["error_tail"] = tail(logs[0])
            return "failed"
        self.res["versions"] = probe["versions"]
        self.res["torch"] = probe.get("torch", {})
        self.res["machine"]["provenance"] = probe.get("provenance")
        rec["sim_imports"] = probe.get("sim_imports")
        rec["egogym_path"] = probe.get("egogym_path")
        if "egogym_error" in probe:
            rec["egogym_error"] = probe["egogym_error"]
        cuda = bool(self.res["torch"].get("cuda_available"))
        device = os.environ.get("GPU_CHECK_DEVICE") or ("cuda" if cuda else "cpu")
        o = self.res["options"]
        o["train_device_flag"] = rs[1]["rc"] == 0 and "--device" in text["help_train"]
        o["train_workers_flag"] = rs[1]["rc"] == 0 and "--workers" in text["help_train"]
        o["eval_device_flag"] = rs[2]["rc"] == 0 and "--device" in text["help_eval"]
        o["throughput_device_flag"] = rs[3]["rc"] == 0 and "--device" in text["help_throughput"]
        o["throughput_json_flag"] = rs[3]["rc"] == 0 and "--json" in text["help_throughput"]
        o["train_device"] = device if o["train_device_flag"] else None
        o["eval_device"] = (os.environ.get("GPU_CHECK_EVAL_DEVICE") or device) if o["eval_device_flag"] else None
        o["train_workers"] = self.m["train_workers"] if o["train_workers_flag"] and self.m["train_workers"] else None
        o["train_threads"] = self.m["train_threads"]
        o["processes"] = self.procs
        o["mode_settings"] = {k: v for k, v in self.m.items() if k != "caps"}
        o["caps_s"] = self.m["caps"]
        smi = self.res["machine"].get("nvidia_smi") or [{}]
        self.fig.update(gpu_name=self.res["torch"].get("device_name") or smi[0].get("name"), cuda_available=cuda,
                        torch_version=self.res["torch"].get("version"), egogym_version=probe["versions"].get("egogym"),
                        train_device=o["train_device"])
        bad = [n for n, r in zip(names, rs) if r["rc"] != 0]
        if bad or probe.get("sim_imports") != "ok" or "egogym_error" in probe:
            rec["error_tail"] = "\n".join(f"--- {n}\n{tail(self.work / 'logs' / f'{n}.log', 800)}" for n in bad)
            return "failed"

    def collect(self, name: str, rec: dict, limit: float, demos: int, img, extra: list[str], seed0: int = 0):
        """`demos` episodes over self.procs collect processes (disjoint seed ranges), merged and split."""
        data = self.work / "data"
        data.mkdir(parents=True, exist_ok=True)
        per = math.ceil(demos / self.procs)
        parts = []
        for i in range(self.procs):
            n = min(per, demos - i * per)
            if n > 0:
                parts.append((data / f"{name}_part{i:02d}.hdf5", seed0 + i * per, n))
        for f, _, _ in parts:
            f.unlink(missing_ok=True)
            shutil.rmtree(f.with_name(f.name + ".recordings"), ignore_errors=True)
        cmds = [self.egogym("collect", "--image-size", *img, "--episodes", n, "--seed", s, "--out", f,
                            "--no-progress", *extra) for f, s, n in parts]
        logs = [self.work / "logs" / f"{name}_part{i:02d}.log" for i in range(len(parts))]
        self.logs += [(f"{name} part {i}", log) for i, log in enumerate(logs)]
        t = time.perf_counter()
        rs = run_many(cmds, logs, limit - min(15.0, limit / 4), self.env1)  # the rest: merge and split
        rec["collect_s"] = round(time.perf_counter() - t, 2)
        rec["processes"] = len(parts)
        rec["parts"] = [{"seed": s, "episodes": n, **r} for (_, s, n), r in zip(parts, rs)]
        good = [f for (f, _, _), r in zip(parts, rs) if r["rc"] == 0]
        failed = [i for i, r in enumerate(rs) if r["rc"] != 0]
        if failed:
            rec["error_tail"] = tail(logs[failed[0]])
        if not good:
            return "timeout" if all(r["timed_out"] for r in rs) else "failed"
        merged = data / f"{name}.hdf5"
        merged.unlink(missing_ok=True)
        r = self.run(f"{name}_merge", [self.py, str(Path(__file__).resolve()), "merge", str(merged), *map(str, good)],
                     max(5.0, self.deadline - time.time() - 3), rec, self.env1)
        if r["rc"] != 0:
            return self.status(r)
        m = json.loads(Path(str(merged) + ".json").read_text())
        rec.update(file=str(merged), demos=m["demos"], samples=m["samples"], bytes=m["bytes"])
        r = self.run(f"{name}_split", self.egogym("split", merged), max(5.0, self.deadline - time.time() - 3), rec,
                     self.env1)
        if r["rc"] != 0:
            return self.status(r)
        return "partial" if failed else "ok"

    def p_collect_robot(self, rec, limit):
        st = self.collect("robot", rec, limit, self.m["robot_demos"], self.m["img"],
                          ["--task-option", REGION, "--stop-after-points", "1", "--max-steps", "1000"])
        self.fig.update(collect_robot_s=rec.get("collect_s"), collect_robot_demos=rec.get("demos"))
        if rec.get("demos") and rec.get("collect_s"):
            self.fig["collect_robot_demos_per_s"] = round(rec["demos"] / rec["collect_s"], 3)
        return st

    def p_collect_robot_big(self, rec, limit):
        st = self.collect("robot_big", rec, limit, self.m["big_demos"], self.m["big_img"],
                          ["--task-option", REGION, "--stop-after-points", "1", "--max-steps", "1000"], seed0=50_000)
        self.fig.update(collect_robot_big_s=rec.get("collect_s"), collect_robot_big_demos=rec.get("demos"))
        return st

    def p_collect_human(self, rec, limit):
        st = self.collect("human", rec, limit, self.m["human_demos"], self.m["img"], ["--embodiment", "human"])
        self.fig.update(collect_human_s=rec.get("collect_s"), collect_human_demos=rec.get("demos"))
        return st

    def train(self, name: str, rec: dict, limit: float, preset: str, steps: int, robot: Path,
              human: Path | None = None):
        o = self.res["options"]
        run_dir = self.work / "runs" / name
        if not robot.exists():
            rec["reason"] = f"no data: {robot}"
            return "skipped"
        if human is not None and not human.exists():
            rec["reason"] = f"no data: {human}"
            return "skipped"
        base = self.egogym("train", "--preset", preset, "--robot", robot, "--out", run_dir, "--steps", steps,
                           "--no-progress", "--set", "train.video_frames=0")  # no mp4s: the GPU machine has no ffmpeg
        if human is not None:
            base += ["--human", str(human)]
        if o.get("train_device"):
            base += ["--device", o["train_device"]]
        if self.m["train_threads"]:
            base += ["--threads", str(self.m["train_threads"])]
        tries = [base + ["--workers", str(o["train_workers"])]] if o.get("train_workers") else []
        tries.append(base)
        t = time.perf_counter()
        for i, cmd in enumerate(tries):
            shutil.rmtree(run_dir, ignore_errors=True)
            left = limit - (time.perf_counter() - t)
            if left < MIN_PHASE_S:
                break
            r = self.run(f"{name}{'_retry' if i else ''}", cmd, left, rec)
            if r["rc"] == 0 or r["timed_out"]:
                break
        rec["train_s"] = round(sum(r["seconds"] for r in rec.get("runs", [])[-1:]), 2)
        rec["workers"] = "--workers" in rec["runs"][-1]["cmd"] if rec.get("runs") else None
        rec["run"] = str(run_dir)
        rec.update(self.metrics(run_dir))
        rec["steps_asked"] = steps
        return self.status(rec["runs"][-1]) if rec.get("runs") else "skipped"

    @staticmethod
    def metrics(run_dir: Path) -> dict:
        """The run's last logged step and samples/s and its last validation numbers (metrics.jsonl)."""
        out = {"steps_done": None, "samples_per_s": None, "valid": {}}
        try:
            lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        except OSError:
            return out
        for line in lines:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            out["steps_done"] = d.get("step", out["steps_done"])
            if "samples_per_s" in d:
                out["samples_per_s"] = round(float(d["samples_per_s"]), 2)
            out["valid"].update({k: v for k, v in d.items() if k.startswith("valid")})
        return out

    def p_train_cpu(self, rec, limit):
        st = self.train("cpu", rec, limit, self.m["cpu_preset"], self.m["cpu_steps"], self.work / "data/robot.hdf5")
        self.fig.update(train_cpu_s=rec.get("train_s"), train_cpu_steps=rec.get("steps_done"),
                        train_cpu_samples_per_s=rec.get("samples_per_s"))
        return st

    def p_train_paper(self, rec, limit):
        st = self.train("paper", rec, limit, self.m["paper_preset"], self.m["paper_steps"],
                        self.work / "data/robot_big.hdf5")
        self.fig.update(train_paper_s=rec.get("train_s"), train_paper_steps=rec.get("steps_done"),
                        train_paper_samples_per_s=rec.get("samples_per_s"))
        return st

    def p_train_cotrain(self, rec, limit):
        st = self.train("cotrain", rec, limit, self.m["cpu_preset"], self.m["cotrain_steps"],
                        self.work / "data/robot.hdf5", self.work / "data/human.hdf5")
        self.fig.update(train_cotrain_s=rec.get("train_s"), train_cotrain_steps=rec.get("steps_done"),
                        train_cotrain_samples_per_s=rec.get("samples_per_s"))
        return st

    def p_eval_cpu(self, rec, limit):
        run_dir = self.work / "runs" / "cpu"
        if not (run_dir / "LATEST").exists():  # a run stopped at its time limit still has its last checkpoint
            rec["reason"] = "no checkpoint to evaluate"
            return "skipped"
        rec["checkpoint"] = (run_dir / "LATEST").read_text().strip()
        out = self.work / "evals" / "cpu"
        shutil.rmtree(out, ignore_errors=True)
        n, workers = self.m["eval_episodes"], self.procs
        cmd = self.egogym("eval", "--policy", run_dir, "--episodes", n, "--seed", EVAL_SEED,
                          "--max-steps", self.m["eval_max_steps"], "--image-size", *self.m["img"],
                          "--task-option", REGION, "--stop-on-success", "--workers", workers, "--out", out, "--quiet")
        if self.res["options"].get("eval_device"):
            cmd += ["--device", self.res["options"]["eval_device"]]
        r = self.run("eval_cpu", cmd, limit, rec, self.env1)
        rec.update(episodes_asked=n, workers=workers, out=str(out), eval_s=r["seconds"])
        summary = None
        try:
            summary = json.loads((out / "summary.json").read_text())
        except (OSError, ValueError):
            pass
        rec["summary"] = summary
        episodes = successes = None
        if summary:
            episodes, successes = summary.get("episodes"), summary.get("successes")
            self.fig["eval_cpu_success_rate_interval"] = summary.get("success_rate_interval")
        else:  # stopped early: count what episodes.jsonl has
            try:
                recs = [json.loads(x) for x in (out / "episodes.jsonl").read_text().splitlines() if x.strip()]
                episodes, successes = len(recs), sum(bool(x.get("success")) for x in recs)
            except (OSError, ValueError):
                pass
        rec.update(episodes=episodes, successes=successes)
        self.fig.update(eval_cpu_s=r["seconds"], eval_cpu_episodes=episodes,
                        eval_cpu_episodes_per_s=round(episodes / r["seconds"], 3) if episodes else None,
                        eval_cpu_success_rate=round(successes / episodes, 4) if episodes else None)
        return self.status(r)

    def p_train_throughput(self, rec, limit):
        o = self.res["options"]
        js = self.work / "train_throughput.json"
        js.unlink(missing_ok=True)
        cmd = [self.py, "bench/train_throughput.py", "--presets", self.m["throughput_presets"],
               "--seconds", str(self.m["throughput_seconds"])]
        if o.get("throughput_device_flag"):
            cmd += ["--device", o.get("train_device") or "cpu"]
        if o.get("throughput_json_flag"):
            cmd += ["--json", str(js)]
        r = self.run("train_throughput", cmd, limit, rec)
        try:
            rec["result"] = json.loads(js.read_text())
        except (OSError, ValueError):
            rec["result"] = None
        self.fig["train_throughput_s"] = r["seconds"]
        for row in (rec["result"] or {}).get("rows", []):
            key = f"throughput_{str(row.get('name', '')).split()[0]}_samples_per_s"
            if key in self.fig and not row.get("cotrain"):  # robot-only, as train_cpu and train_paper here
                self.fig[key] = round(float(row["samples_per_s"]), 2)
        return self.status(r)

    def main(self) -> int:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        print(f"gpu_check: {self.mode} mode, python {self.py}, work {self.work}, results {self.out}, "
              f"budget {self.budget:.0f} s ({self.left():.0f} s left)", flush=True)
        self.write()
        for name in PHASES:
            self.phase(name, getattr(self, f"p_{name}"))
        ph = self.res["phases"]
        self.res["ok"] = all(ph[p]["status"] == "ok" for p in PHASES if p not in OPTIONAL) and \
            all(ph[p]["status"] in ("ok", "timeout") or ph[p].get("reason", "").startswith("out of time")
                for p in OPTIONAL)
        self.write()
        print(f"gpu_check: {'ok' if self.res['ok'] else 'NOT ok'}; {self.out / 'gpu_check.json'}", flush=True)
        print(json.dumps(self.fig, indent=1), flush=True)
        return 0


# ---- the wheels for the GPU machine ------------------------------------------------------------
# What its image lacks (the device notes' package list) at egogym's pins, for CPython 3.12 x86-64.
# Not torch (its own CUDA build is there), nor what is there already (numpy, scipy, h5py, ...).
WHEELS = ("mujoco==3.17.0", "dm-control==1.0.50", "dm-env==1.6", "dm-tree==0.1.10", "labmaze==1.0.6",
          "glfw==2.11.0", "PyOpenGL==3.1.10", "gymnasium==1.4.0", "Farama-Notifications==0.0.6",
          "hdf5plugin==7.1.0", "websockets==17.4",
          "projectaria-tools==2.3.0")  # the [aria] extra: the human pipeline's converter reads MPS files with it
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64")
# Parts of two wheels that egogym never imports (the data of dm_control's locomotion and dog domains and
# its tests, 53 of its 54 MiB; hdf5plugin's filters other than blosc, 41 of 44 MiB): the 129 MiB of wheels
# become 38, under the 64 MiB that a device call carries with the repository. egogym imports
# dm_control.{mjcf,mujoco,_render,rl,utils} and writes blosc only (egogym.data.schema.codec_kwargs).
PRUNE = {
    "dm_control": ("dm_control/locomotion/", "dm_control/suite/dog_assets/", "dm_control/mujoco/testing/",
                   "dm_control/blender/", "dm_control/mjcf/test_assets/", "dm_control/suite/all_domains.png"),
    "hdf5plugin": tuple(f"hdf5plugin/plugins/libh5{f}.so" for f in (
        "blosc2", "bshuf", "bzip2", "fcidecomp", "htj2k", "lz4", "sperr", "sz", "sz3", "zfp", "zstd")),
}
HDF5PLUGIN_KEEP = ("blosc",)  # egogym's image codecs are blosc-lz4 / -lz4hc / -zstd: the blosc filter


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def prune_wheel(path: Path) -> tuple[int, int]:
    """Rewrite a wheel without the PRUNE entries of its package (RECORD updated); (bytes before, after)."""
    pkg = path.name.split("-")[0].lower()
    drop = PRUNE.get(pkg)
    before = path.stat().st_size
    if not drop:
        return before, before
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zi, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zo:
        names = [i.filename for i in zi.infolist()]
        kept = [n for n in names if not n.startswith(drop) and not n.endswith(".dist-info/RECORD")]
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        rows = []
        for n in kept:
            data = zi.read(n)
            if pkg == "hdf5plugin" and n == "hdf5plugin/_config.py":
                text = data.decode()
                start = text.index("'embedded_filters': (")
                end = text.index(")", start)
                data = (text[:start] + f"'embedded_filters': {HDF5PLUGIN_KEEP!r}" + text[end + 1:]).encode()
            zo.writestr(zi.getinfo(n), data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            if not n.endswith("/"):
                rows.append(f"{n},{_record_hash(data)},{len(data)}")
        rows.append(f"{record_name},,")
        zo.writestr(record_name, "\n".join(rows) + "\n")
    os.replace(tmp, path)
    return before, path.stat().st_size


def wheels(dest: Path) -> int:
    """Download WHEELS for CPython 3.12 x86-64 into `dest`, prune the three big ones; print the sizes."""
    dest.mkdir(parents=True, exist_ok=True)
    plat = [a for p in PLATFORMS for a in ("--platform", p)]
    for spec in WHEELS:
        name = spec.split("==")[0].lower().replace("-", "_")
        if any(w.name.lower().startswith(name + "-") for w in dest.glob("*.whl")):
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *plat, "-d", str(dest), spec],
                       check=True)
    total = 0
    for w in sorted(dest.glob("*.whl")):
        before, after = prune_wheel(w)
        total += after
        print(f"{after / 2**20:7.2f} MiB  {w.name}" + (f"  (pruned from {before / 2**20:.2f})" if after < before
                                                        else ""))
    print(f"{total / 2**20:7.2f} MiB  in all ({dest})")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        out = Path(argv[1])
        info = merge(out, [Path(p) for p in argv[2:]])
        Path(str(out) + ".json").write_text(json.dumps(info))
        print(json.dumps(info))
        return 0
    if argv[:1] == ["wheels"]:
        return wheels(Path(argv[1]) if len(argv) > 1 else REPO / ".whl")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reduced", action="store_true", help="a few 32x32 demos, the smoke preset, 2 episodes (CPU)")
    ap.add_argument("--out", help="folder of gpu_check.json (default: $OUT, else ./gpu_check_out)")
    ap.add_argument("--work", help="data, runs and logs (default /tmp/gpu_check_MODE; emptied first)")
    ap.add_argument("--budget", type=float, help="seconds for the whole check from GPU_CHECK_T0 (default: the mode's)")
    ap.add_argument("--procs", type=int, default=0, help="collect / eval processes (default: cores, at most 16)")
    ap.add_argument("--python", help="the Python with egogym (default: this one)")
    ap.add_argument("--set", action="append", metavar="K=V",
                    help="override a setting of the mode (MODES), the value as JSON: robot_demos=64, "
                         "caps.train_cpu=300")
    return Check(ap.parse_args(argv)).main()


if __name__ == "__main__":
    sys.exit(main())
