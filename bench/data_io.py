"""Data I/O benchmark: egogym's layout vs EgoMimic's, on the same recorded episodes.

    python bench/data_io.py --episodes 2 --steps 100 --image-size 480 640
    python bench/data_io.py --streaming --steps 3000      # peak RSS of one long demo written

    python bench/data_io.py --large --large-gb 6 --samples 200   # reads from a file bigger than the cache left
    python bench/data_io.py --loader --loader-workers 1 2 4     # training's batches: DataLoader workers vs in-process
    python bench/data_io.py --loader --loader-file robot.hdf5 --loader-workers 2 4 8

`--loader` measures reading alone, as `egogym train` reads (`egogym.policies.loader`): the
batches of `--loader-steps` consecutive training steps (`--batch` samples each, `BatchPlan`
order, the keys the `--loader-preset` model reads), read in the process (`--workers 0`) and
by a `StepLoader` with each of `--loader-workers` worker processes, and prints samples/s of
each, with and without the workers' start-up, and the ratio to the in-process path. The
file's pages are dropped from the cache (posix_fadvise DONTNEED, which needs no root) before
each pass. The file is `--loader-file` (an egogym or EgoMimic robot file; every demo, split
"all"), else one demo of `--steps` steps written here with four `--image-size` views
(blosc-lz4, as collect writes). DONTNEED cannot evict pages another process holds mapped;
for a cold read that no cache can serve use a file larger than the page cache: collect one
(`egogym collect --episodes N --image-size 480 640 --out big.hdf5`: a few hundred kB a step
with blosc-lz4; pick N for the size) and, as root, run `sync; echo 3 > /proc/sys/vm/drop_caches`
before the bench, or else make the file larger than the machine's RAM. The "trainer CPU"
column is the training process's own CPU time per step: what reading takes from driving the
GPU; the workers' samples/s grow with the free cores (each worker also pays for moving its
batch into shared memory, about 1 GB/s).

`--large` writes an EgoMimic-layout robot file of `--large-gb` GB (uncompressed, as the
public files), drops its pages from the cache, then measures random-access samples/s and
peak RSS through `EgoDataset`, and `egogym train` samples/s and peak RSS from it.

`--streaming` measures memory, not codecs: a child process writes ONE demo of `--steps`
steps with four 480x640 views (front_img_1, _masked, _line, right_wrist_img: synthetic
frames, no rendering) and prints its peak resident set size (`ru_maxrss`), for the
streaming writer (`DemoWriter.begin_demo`, what collect, the human conversion and teleop
use) and, at `--inmemory-steps`, for the old way (the episode held in lists and stacked,
then `write_demo`); then exports the streamed file to EgoMimic's layout and converts it
back (`egogym convert egomimic`), each in a child, with their peak RSS.

Records `--episodes` scripted-expert episodes of object_in_bowl once (in memory), writes
them with every image codec of `egogym.data.schema.IMAGE_CODECS` and exports one copy to
EgoMimic's public layout (uncompressed images, pre-stacked chunks), then prints for each
file: bytes per timestep, write time per step, and random-access samples/s through
`EgoDataset` (uniform random (demo, t), every obs key plus the action chunks, as training
reads), with the page cache warm and cold (the file's pages dropped with
posix_fadvise(DONTNEED) before each pass), best of 3 passes. Ratios are against the EgoMimic file.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def samples_per_s(path: Path, n: int, cold: bool, seed: int = 0, repeats: int = 3) -> float:
    """Best of `repeats` passes (the machine is shared: the best pass is the least disturbed)."""
    return max(_one_pass(path, n, cold, seed + r) for r in range(repeats))


def _one_pass(path: Path, n: int, cold: bool, seed: int) -> float:
    from egogym.data.reader import EgoDataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = EgoDataset(path, split="all", calibration=None)
    idx = np.random.default_rng(seed).integers(0, len(ds), n)
    if cold:
        drop_cache(path)
    else:
        for i in idx:
            ds[int(i)]
    t0 = time.perf_counter()
    for i in idx:
        ds[int(i)]
    dt = time.perf_counter() - t0
    ds.close()
    return n / dt


VIEWS = ("front_img_1", "front_img_1_masked", "front_img_1_line", "right_wrist_img")


def synthetic_views(rng: np.random.Generator, size: tuple[int, int], n: int = 8) -> list[dict]:
    """n sets of four frames: flat regions (table, wall), a few shaded boxes and noise on
    3% of the pixels, so that they compress about as much as the twin's renders (1/10-1/20
    with blosc-lz4); memory, not compression, is what --streaming measures."""
    h, w = size
    out = []
    for i in range(n):
        views = {}
        for j, k in enumerate(VIEWS):
            img = np.empty((h, w, 3), np.uint8)
            img[: h // 2] = (90 + 10 * j, 110, 130)
            img[h // 2:] = (160, 140 + 5 * i, 120)
            for _ in range(4):
                r, c = rng.integers(0, h - h // 5), rng.integers(0, w - w // 5)
                img[r: r + h // 5, c: c + w // 5] = rng.integers(0, 256, 3)
            noisy = rng.random((h, w)) < 0.03
            img[noisy] = rng.integers(0, 256, (int(noisy.sum()), 3))
            views[k] = img
        out.append(views)
    return out


def _child_write(mode: str, path: str, steps: int, size: tuple[int, int]) -> None:
    """In a child process: write one demo of `steps` steps; print peak RSS and time."""
    import resource

    from egogym.core import geometry
    from egogym.core.spec import Calibration
    from egogym.data.writer import DemoWriter

    rng = np.random.default_rng(0)
    views = synthetic_views(rng, size)
    K = geometry.intrinsics(266.5 * size[0] / 480, *size)
    cal = Calibration({k: K for k in ("front_img_1", "right_wrist_img")},
                      {k: size for k in ("front_img_1", "right_wrist_img")}, {"right": np.eye(4)}, source="bench")
    t0 = time.perf_counter()
    with DemoWriter(path, "robot", cal, arms="right", control_hz=50, image_size=size, env_args={}) as w:
        def step(t):
            v = views[t % len(views)]
            o = {k: v[k].copy() for k in VIEWS}  # a fresh frame per step, as an env gives
            o["joint_positions"] = np.full(7, t / steps)
            o["ee_pose"] = np.array([0.0, 0.1, 0.5]) + t / steps
            return o, np.full(7, t / steps)

        if mode == "stream":
            with w.begin_demo({"bench": 1}) as st:
                for t in range(steps):
                    o, a = step(t)
                    st.append(o, {"joints": a}, np.zeros(20))
                st.commit()
        else:  # the old record_episode: lists, np.stack, write_demo
            rec, acts = {k: [] for k in (*VIEWS, "joint_positions", "ee_pose")}, []
            for t in range(steps):
                o, a = step(t)
                for k, v in o.items():
                    rec[k].append(v)
                acts.append(a)
            obs = {k: np.stack(v) for k, v in rec.items()}
            w.write_demo(obs, {"joints": np.stack(acts)}, states=np.zeros((steps, 20)))
    dt = time.perf_counter() - t0
    print(f"RESULT {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.3f} {dt:.1f}")


def _child_cmd(which: str, src: str, dst: str) -> None:
    import resource

    t0 = time.perf_counter()
    if which == "export":
        from egogym.data.export import export_egomimic

        export_egomimic(src, dst)
    else:
        from egogym.data.egomimic import convert_egomimic

        convert_egomimic(src, dst, calibration="egomimic", progress=False)
    dt = time.perf_counter() - t0
    print(f"RESULT {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.3f} {dt:.1f}")


def _run_child(*args: str) -> tuple[float, float]:
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-2000:]}")
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")][-1]
    rss, dt = map(float, line.split()[1:])
    return rss, dt


def streaming(args) -> int:
    size = tuple(args.image_size)
    frame_gb = 4 * size[0] * size[1] * 3 / 1e9
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        rows = []
        for mode, steps in (("stream", args.steps), ("inmemory", args.inmemory_steps)):
            if steps <= 0:
                continue
            p = tmp / f"{mode}.hdf5"
            rss, dt = _run_child("write", mode, str(p), str(steps), *map(str, size))
            rows.append((f"write ({'streaming' if mode == 'stream' else 'in memory, old'})", steps, rss, dt,
                         p.stat().st_size))
            if mode == "inmemory":
                p.unlink()
        src = tmp / "stream.hdf5"
        ego = tmp / "egomimic.hdf5"
        rss, dt = _run_child("export", str(src), str(ego))
        rows.append(("egogym export (EgoMimic layout)", args.steps, rss, dt, ego.stat().st_size))
        back = tmp / "converted.hdf5"
        rss, dt = _run_child("convert", str(ego), str(back))
        rows.append(("egogym convert egomimic", args.steps, rss, dt, back.stat().st_size))
    print(f"one demo, four {size[0]}x{size[1]} views ({frame_gb:.4f} GB of frames per step; "
          f"{args.steps} steps = {frame_gb * args.steps:.1f} GB of frames)")
    print(f"{'writer':36s} {'steps':>6s} {'peak RSS GB':>12s} {'seconds':>8s} {'file GB':>8s}")
    for name, steps, rss, dt, size_b in rows:
        print(f"{name:36s} {steps:6d} {rss:12.2f} {dt:8.1f} {size_b / 1e9:8.3f}")
    return 0


def write_large_egomimic(path: Path, gb: float, size: tuple[int, int], demos: int = 4) -> int:
    """An EgoMimic-layout robot file of about `gb` GB (uncompressed frames, pre-stacked
    chunks, disjoint masks), written with plain h5py block by block; returns its steps."""
    import h5py

    per_step = 4 * size[0] * size[1] * 3 + 100 * 10 * 8 + 10 * 10 * 8 + 10 * 8
    steps = max(demos * 2, int(gb * 1e9 / per_step))
    T = steps // demos
    views = synthetic_views(np.random.default_rng(1), size)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = "{}"
        for d in range(demos):
            g = data.create_group(f"demo_{d}")
            g.attrs["num_samples"] = T
            for k in VIEWS:
                ds = g.create_dataset(f"obs/{k}", shape=(T, *size, 3), dtype=np.uint8, chunks=(1, *size, 3))
                for a in range(0, T, 64):
                    b = min(T, a + 64)
                    ds[a:b] = np.stack([views[t % len(views)][k] for t in range(a, b)])
            t = np.linspace(0, 1, T)[:, None]
            cmd = np.sin(t * np.arange(1, 8))
            ee = 0.2 * np.cos(t * np.arange(2, 5)) + np.array([0.0, 0.1, 0.5])
            idx = np.minimum(np.arange(T)[:, None] + 2 * np.arange(100)[None], T - 1)
            g["obs/joint_positions"], g["obs/ee_pose"] = cmd, ee
            g["actions_joints_act"], g["actions_xyz_act"] = cmd[idx], ee[idx]
        names = [f"demo_{d}".encode() for d in range(demos)]
        f["mask/train"], f["mask/valid"] = names[:-1], names[-1:]
    return T * demos


def _child_read(path: str, n: int) -> None:
    """Random samples as training reads them (front_img_1_line, right_wrist_img, low-dim, chunks), cold cache."""
    import resource

    from egogym.data.reader import EgoDataset

    ds = EgoDataset(path, split="train", keys=["front_img_1_line", "right_wrist_img", "joint_positions", "ee_pose"],
                    calibration="egomimic-aria")
    idx = np.random.default_rng(0).integers(0, len(ds), n)
    drop_cache(Path(path))
    t0 = time.perf_counter()
    for i in idx:
        ds[int(i)]
    dt = time.perf_counter() - t0
    print(f"RESULT {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.3f} {n / dt:.1f}")


def large(args) -> int:
    """Streaming reads from a file larger than the page cache left to it (bench 4)."""
    import subprocess

    size = tuple(args.image_size)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        p = Path(tmp) / "large_egomimic_robot.hdf5"
        t0 = time.perf_counter()
        steps = write_large_egomimic(p, args.large_gb, size)
        gb = p.stat().st_size / 1e9
        print(f"wrote {p.name}: {gb:.2f} GB, {steps} steps at {size[0]}x{size[1]} in {time.perf_counter() - t0:.0f} s")
        rss, sps = _run_child("read", str(p), str(args.samples))
        print(f"EgoDataset random samples, cache dropped first: {sps:.1f} samples/s, peak RSS {rss:.2f} GB "
              f"({args.samples} samples)")
        run = Path(tmp) / "run"
        drop_cache(p)
        cmd = [sys.executable, "-m", "egogym.cli", "train", "--preset", args.large_preset, "--robot", str(p),
               "--out", str(run), "--steps", str(args.large_steps), "--no-progress", "--set", "train.video_frames=0",
               "--set", "train.val_every=100000", "--set", f"train.log_every={args.large_steps}"]
        t0 = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", *cmd], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"train failed:\n{out.stderr[-3000:]}")
        wall = time.perf_counter() - t0
        rss_kb = int([x for x in out.stderr.splitlines() if x.startswith("MAXRSS")][-1].split()[1])
        import json

        logs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        sps = [x["samples_per_s"] for x in logs if "samples_per_s" in x][-1]
        print(f"egogym train --preset {args.large_preset}, {args.large_steps} steps from it: {sps:.1f} samples/s, "
              f"peak RSS {rss_kb / 2**20:.2f} GB, {wall:.0f} s wall (incl. start-up and statistics)")
    return 0


def loader(args) -> int:
    """Training's batch reads: DataLoader workers (`StepLoader`) vs in-process (`step_samples`)."""
    from egogym.data.reader import EgoDataset
    from egogym.policies.batch import BatchPlan
    from egogym.policies.config import preset
    from egogym.policies.loader import StepLoader, step_samples

    mc = preset(args.loader_preset).model
    keys = [mc.front_key, "joint_positions", "ee_pose"] + ([mc.wrist_key] if mc.wrist_key else [])
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(args.loader_file) if args.loader_file else Path(tmp) / "loader_robot.hdf5"
        if not args.loader_file:
            size = tuple(args.image_size)
            _run_child("write", "stream", str(path), str(args.steps), *map(str, size))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = EgoDataset(path, split="all", keys=keys, calibration=None)
        h, w = ds.info.image_size
        smap = np.arange(len(ds))
        plan = BatchPlan(len(ds), args.batch, args.seed, "robot")
        S, B = args.loader_steps, args.batch
        print(f"{path.name}: {len(ds)} samples at {h}x{w}, {path.stat().st_size / 1e9:.2f} GB; keys {', '.join(keys)}; "
              f"{S} steps x batch {B} per pass, file pages dropped before each pass")
        rows = []
        drop_cache(path)
        c0, t0 = time.process_time(), time.perf_counter()
        for step in range(S):
            step_samples(ds, smap, plan, step)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append(("in-process (--workers 0)", S * B / dt, S * B / dt, cpu / S * 1e3))
        ds.close()
        for n in args.loader_workers:
            lo = StepLoader(ds, smap, plan, S, n, prefetch_factor=args.prefetch)
            drop_cache(path)
            t0 = time.perf_counter()
            lo.samples(0)
            c1, t1 = time.process_time(), time.perf_counter()
            for step in range(1, S):
                lo.samples(step)
            t2, c2 = time.perf_counter(), time.process_time()
            lo.close()
            rows.append((f"StepLoader, {n} worker{'s' if n > 1 else ''}", S * B / (t2 - t0),
                         (S - 1) * B / (t2 - t1) if S > 1 else float("nan"), (c2 - c1) / max(1, S - 1) * 1e3))
    ref = rows[0][1]
    print(f"{'path':28s} {'samples/s':>10s} {'after start-up':>15s} {'vs in-process':>14s} {'trainer CPU ms/step':>20s}")
    for name, sps, steady, cpu in rows:
        print(f"{name:28s} {sps:10.1f} {steady:15.1f} {sps / ref:13.2f}x {cpu:20.1f}")
    print(f"({len(os.sched_getaffinity(0))} of {os.cpu_count()} CPUs usable; 'after start-up' leaves out the workers' "
          f"start and the first step; 'trainer CPU' is the training process's own CPU time per step, what reading "
          f"takes away from driving the model)")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        if argv[1] == "write":
            _child_write(argv[2], argv[3], int(argv[4]), (int(argv[5]), int(argv[6])))
        elif argv[1] == "read":
            _child_read(argv[2], int(argv[3]))
        else:
            _child_cmd(argv[1], argv[2], argv[3])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streaming", action="store_true", help="peak RSS of writing one long demo (see above)")
    ap.add_argument("--inmemory-steps", type=int, default=300, help="--streaming: steps for the old in-memory writer (0: skip)")
    ap.add_argument("--tmp", default=None, help="folder for the temporary files (default: the system's)")
    ap.add_argument("--large", action="store_true", help="reads and training from a generated multi-GB EgoMimic file")
    ap.add_argument("--large-gb", type=float, default=6.0, help="--large: size of the generated file (GB)")
    ap.add_argument("--large-preset", default="smoke", help="--large: training preset")
    ap.add_argument("--large-steps", type=int, default=30, help="--large: training steps")
    ap.add_argument("--loader", action="store_true", help="training's batch reads: DataLoader workers vs in-process")
    ap.add_argument("--loader-file", default=None, help="--loader: read this robot file (default: write one demo)")
    ap.add_argument("--loader-workers", type=int, nargs="+", default=(1, 2, 4), help="--loader: worker counts")
    ap.add_argument("--loader-steps", type=int, default=20, help="--loader: training steps read per pass")
    ap.add_argument("--loader-preset", default="cpu", help="--loader: the preset whose model keys are read")
    ap.add_argument("--batch", type=int, default=16, help="--loader: samples per step")
    ap.add_argument("--prefetch", type=int, default=2, help="--loader: DataLoader prefetch_factor")
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100, help="steps per episode")
    ap.add_argument("--image-size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    ap.add_argument("--samples", type=int, default=300, help="random samples per read measurement")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.streaming:
        return streaming(args)
    if args.large:
        return large(args)
    if args.loader:
        return loader(args)

    import egogym  # noqa: F401  (sets MUJOCO_GL)
    from egogym.data import schema as S
    from egogym.pipelines.collect import record_episode
    from egogym.data.export import export_egomimic
    from egogym.data.writer import DemoWriter
    from egogym.env import EgoEnv
    from egogym.sim.experts import make_expert

    size = tuple(args.image_size)
    from egogym.core.views import DEFAULT_CAMERAS

    env = EgoEnv(task="object_in_bowl", image_size=size,
                 cameras=(*DEFAULT_CAMERAS["right"], S.FRONT_MASKED, S.FRONT_LINE))  # the keys collect records
    expert = make_expert(env)
    t0 = time.perf_counter()
    episodes = [record_episode(env, expert, args.seed + i, args.steps) for i in range(args.episodes)]
    rec_s = time.perf_counter() - t0
    cal, arms, hz = env.calibration, env.arms, env.robot.control_hz
    env.close()
    steps = sum(len(e[2]) for e in episodes)
    print(f"recorded {args.episodes} episodes, {steps} steps at {size[0]}x{size[1]} in {rec_s:.1f} s "
          f"({rec_s / steps * 1e3:.0f} ms/step incl. rendering, segmentation, overlay)")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = {}
        for codec in S.IMAGE_CODECS:
            p = tmp / f"{codec}.hdf5"
            t0 = time.perf_counter()
            with DemoWriter(p, "robot", cal, arms=arms, control_hz=hz, image_size=size, env_args={},
                            image_codec=codec) as w:
                for obs, act, states, res in episodes:
                    w.write_demo(obs, act, attrs=res, states=states)
            paths[f"egogym {codec}"] = (p, (time.perf_counter() - t0) / steps)
        ego = tmp / "egomimic.hdf5"
        t0 = time.perf_counter()
        export_egomimic(paths[f"egogym {S.DEFAULT_IMAGE_CODEC}"][0], ego)
        from egogym.data.egomimic import convert_egomimic

        back = tmp / "converted.hdf5"
        t0 = time.perf_counter()
        convert_egomimic(ego, back, calibration="egomimic", progress=False, verify=True, log=lambda s: None)
        paths["convert egomimic (+verify)"] = (back, (time.perf_counter() - t0) / steps)
        paths["EgoMimic layout"] = (ego, float("nan"))
        for name, (p, wt) in paths.items():
            rows.append((name, p.stat().st_size / steps, wt, samples_per_s(p, args.samples, False),
                         samples_per_s(p, args.samples, True)))
    ref = rows[-1]
    print(f"\n{'file':24s} {'bytes/step':>12s} {'vs EgoMimic':>12s} {'write ms/step':>14s} "
          f"{'warm samples/s':>15s} {'x':>6s} {'cold samples/s':>15s} {'x':>6s}")
    for name, b, wt, warm, cold in rows:
        print(f"{name:24s} {b:12,.0f} {ref[1] / b:11.1f}x {wt * 1e3:14.1f} {warm:15.0f} {warm / ref[3]:5.2f}x "
              f"{cold:15.0f} {cold / ref[4]:5.2f}x")
    print(f"\n(default codec: {S.DEFAULT_IMAGE_CODEC}; 'vs EgoMimic' = EgoMimic bytes / these bytes; "
          f"'x' = samples/s relative to the EgoMimic file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
