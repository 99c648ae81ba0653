"""`egogym train`: ACT / EgoMimic training, single process or DDP under torchrun.

    egogym train --preset cpu --robot R.hdf5 [--human H.hdf5] --out runs/NAME [--steps N] [--resume]
    torchrun --nproc-per-node 2 -m egogym.policies.train --preset cpu --robot R.hdf5 --out runs/NAME

With `--human` the EgoMimic model co-trains (each optimizer step one robot batch and one
human batch, per-domain normalization, `hand_lambda`); without it the same code is the
robot-only ACT baseline. Each step logs losses to the progress bar, TensorBoard
(`OUT/tb`) and `OUT/metrics.jsonl`; every `train.val_every` steps it validates on the
valid split (EgoMimic's `paired_mse` / `final_mse` per domain and head, data units)
and writes validation videos (`OUT/videos/step_*_{robot,human}.mp4` and a `.png` of the
middle frame); every `train.ckpt_every` steps and at the end it writes a checkpoint
(`policies.checkpoint`). `--resume` continues the run in OUT from its newest
checkpoint: same config, same batches and noise as an uninterrupted run.

Devices (`--device auto|cpu|cuda[:N]`, `egogym.policies.device`): the model, each step's
batch (moved as uint8 images and raw arrays, then normalised and augmented on the device) and
the normalisation statistics live on the device; on CUDA the forward and the loss run under
bf16 autocast with fp32 weights, on the CPU nothing changes.

DDP: under torchrun (WORLD_SIZE > 1) the NCCL (CUDA) or gloo (CPU) backend averages gradients over ranks;
`train.batch_size` is per rank, and rank r reads the r-th slice of each global batch,
so 2 ranks at batch B follow 1 rank at batch 2B (tests/policies/test_ddp.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

# Importing torch is this module's business; egogym.cli imports it only for `train`.
import torch
import torch.distributed as dist
from torch import nn

from egogym.core.bounds import MAX_STEPS, MAX_WORKERS, int_flag
from egogym.core.errors import UserError
from egogym.core.outputs import check_output
from egogym.data.reader import EgoDataset, open_h5_checked
from egogym.data.schema import read_file_info
from egogym.data.schema import DataFormatError
from egogym.data.stats import NormStats
from egogym.policies.batch import BatchPlan, collate, model_inputs, step_generator
from egogym.policies.loader import StepLoader, step_samples
from egogym.policies.align import DomainClassifier
from egogym.policies.checkpoint import (CheckpointError, load_checkpoint, load_optimizer, load_train_module, resolve,
                                        save_checkpoint)
from egogym.policies.config import Config, ConfigError, default_threads, preset
from egogym.policies.device import DEVICE_HELP, autocast, distributed_backend, resolve_device, to_device
from egogym.core.kinematics import pinch_in_camera
from egogym.policies.model import EgoACT
from egogym.policies.normalize import MissingStatsError, Normalizer, pool
from egogym.policies.objective import chunk_errors, cotrain_loss, make_optimizer
from egogym.policies.video import draw_chunks, write_video


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="paper | cpu | smoke (default cpu; a resumed run keeps its own)")
    p.add_argument("--robot", required=True, type=Path, help="robot HDF5 file (train and valid splits)")
    p.add_argument("--human", type=Path, help="human HDF5 file: co-train (EgoMimic); omit for robot-only ACT")
    p.add_argument("--out", required=True, type=Path, help="run folder (runs/NAME)")
    p.add_argument("--steps", type=int_flag("--steps", 1, MAX_STEPS), help="optimizer steps (default: the preset's train.steps)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field, e.g. --set train.lr=1e-4 --set model.image_size=96,96")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=int_flag("--threads", 0, MAX_WORKERS), default=0, help="torch threads per process (0: default_threads: cores / processes - 1, at least 1)")
    p.add_argument("--workers", type=int_flag("--workers", 0, MAX_WORKERS), default=0,
                   help="data-loader worker processes per domain that read the batches ahead (0, the default: "
                        "read in the training process); the batches, so the results, are the same for any N")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to TensorBoard)")
    p.add_argument("--calibration", default=None, metavar="PRESET|JSON",
                   help="calibration of files that carry none (EgoMimic's): a preset (egomimic: published "
                        "intrinsics + arm extrinsics; egomimic-aria: intrinsics only, the default) or a JSON file")
    p.add_argument("--splits", nargs=2, default=("train", "valid"), metavar=("TRAIN", "VALID"),
                   help="mask names to train and validate on (default train valid; EgoMimic's configs use "
                        "demo_train demo_valid)")


class _Loss(nn.Module):
    """The co-training loss as one module, so DDP sees one forward per backward (and averages the
    gradients of the DANN domain classifier, when there is one, with the model's)."""

    def __init__(self, model: EgoACT, cfg: Config, domain_head: DomainClassifier | None = None):
        super().__init__()
        self.model, self.cfg, self.domain_head = model, cfg, domain_head

    def forward(self, robot, human, noise):
        loss, logs = cotrain_loss(self.model, robot, human, self.cfg.train, noise, self.domain_head)
        return loss, logs


def _parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for s in items:
        if "=" not in s:
            raise UserError(f"--set {s!r}: write FIELD=VALUE, e.g. train.lr=1e-4")
        k, v = s.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _open(path: Path, split: str, domain: str, keys: list[str], calibration=None) -> EgoDataset:
    """EgoDataset of one split; `calibration` applies only if the file carries none."""
    try:
        with open_h5_checked(path) as f:
            info = read_file_info(f, str(path))
        if info.domain != domain:
            raise UserError(f"{path} holds {info.domain} data; pass it as --{info.domain}")
        return EgoDataset(path, split=split, keys=keys, calibration=calibration if info.calibration is None else None)
    except DataFormatError as e:
        raise UserError(str(e)) from None


def open_files(cfg: Config, robot: Path, human: Path | None, calibration=None,
               splits: tuple[str, str] = ("train", "valid")) -> tuple[dict, dict]:
    """(datasets {domain: (train, valid)}, statistics {domain: NormStats of the train split}) from files.

    calibration: preset name, JSON path or Calibration for the files that carry none
    (`egogym.data.presets`); it is an error when every file carries its own.
    splits: (train mask, valid mask) names."""
    mc = cfg.model
    paths = {"robot": robot, "human": human}
    if calibration is not None:
        with_own = []
        for d, p in paths.items():
            if p is not None:
                try:
                    with open_h5_checked(p) as f:
                        with_own.append(read_file_info(f, str(p)).calibration is not None)
                except DataFormatError as e:
                    raise UserError(str(e)) from None
        if all(with_own):
            raise UserError(f"--calibration {calibration}: every data file carries its own calibration; drop the flag")
    notices = []
    if calibration is None:
        from egogym.data.presets import DEFAULT_PRESET

        for d, p in paths.items():
            if p is None:
                continue
            try:
                with open_h5_checked(p) as f:
                    if read_file_info(f, str(p)).calibration is None:
                        notices.append(f"egogym train: {p} carries no calibration (EgoMimic layout); using the "
                                       f"'{DEFAULT_PRESET}' preset: choose one with --calibration (egomimic, "
                                       f"egomimic-aria or a JSON file)")
            except DataFormatError as e:
                raise UserError(str(e)) from None
        calibration = DEFAULT_PRESET
    tr, va = splits
    r_keys = [mc.front_key, "joint_positions", "ee_pose"] + ([mc.wrist_key] if mc.wrist_key else [])
    data = {"robot": (_open(robot, tr, "robot", r_keys, calibration), _open(robot, va, "robot", r_keys, calibration))}
    if human is not None:
        h_keys = [mc.front_key, "ee_pose"]
        data["human"] = (_open(human, tr, "human", h_keys, calibration), _open(human, va, "human", h_keys, calibration))
    try:
        stats = {d: NormStats.compute(p, tr) for d, p in paths.items() if p is not None}
    except DataFormatError as e:
        raise UserError(str(e)) from None
    for line in notices:  # once everything opened: an error stays the only line
        print(line, file=sys.stderr, flush=True)
    return data, stats


class Trainer:
    """One training run (see the module docstring). `fit()` runs it to `steps`.

    data: {domain: (train dataset, valid dataset)} with EgoDataset's sample layout
    ("robot" required, "human" for co-training); stats: {domain: NormStats} of the
    train splits; out: the run folder.
    """

    def __init__(self, cfg: Config, data: dict, stats: dict, out: Path, steps: int, resume: bool = False,
                 progress: bool = True, device: str | torch.device = "cpu", workers: int = 0):
        self.cfg, self.out, self.steps, self.progress = cfg, Path(out), steps, progress
        self.device = resolve_device(device)
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        mc = cfg.model
        self.data = data
        self.domains: tuple[str, ...] = ("robot", "human") if "human" in data else ("robot",)
        try:
            self.normalizer = Normalizer(pool(stats, cfg.train.normalization))
            self.normalizer.require(self.domains)
        except MissingStatsError as e:
            raise UserError(str(e)) from None
        try:  # the data files' arm sets (as their statistics record them), one per domain
            self.arms = self.normalizer.arms("robot")
            hands = self.normalizer.arms("human") if "human" in data else self.arms
        except ValueError as e:
            raise UserError(str(e)) from None
        if hands != self.arms:
            raise UserError(f"the human data tracks hand(s) {list(hands)}, the robot data moves arm(s) "
                            f"{list(self.arms)}: give files with the same arms")
        cfg.train.check_domains(self.domains)  # a bridge needs human data
        self.start = 0
        self.data_wait_s = 0.0  # seconds this run spent reading batches (or waiting for its loader)
        torch.manual_seed(cfg.train.seed)
        self.model = EgoACT(mc, self.arms, self.domains).to(self.device)
        # DANN's classifier: initialised after the model (whose weights stay those of a run without it),
        # trained by the same optimizer, saved with each checkpoint for --resume but not part of the policy.
        self.domain_head = (DomainClassifier(mc.hidden).to(self.device) if cfg.train.adversarial_weight > 0
                            else None)
        self.opt = make_optimizer(self.model, cfg.train, self.domain_head)
        if resume:
            self._resume()
        self.loss_module: nn.Module = _Loss(self.model, cfg, self.domain_head)
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.loss_module = nn.parallel.DistributedDataParallel(self.loss_module, device_ids=ids)
        # Which dataset sample each position of the sample stream reads: every sample once, plus
        # (early_repeat - 1) more copies of the frames t < early_steps (robot; human too with early_human).
        self.sample_map = {d: self._sample_map(d) for d in self.domains}
        self.plans = {d: BatchPlan(len(self.sample_map[d]), cfg.train.batch_size, cfg.train.seed, d, self.world,
                                   self.rank) for d in self.domains}
        if workers < 0:
            raise UserError(f"--workers {workers}: give 0 (read in the training process) or a positive count")
        self.workers, self._loaders = workers, {}  # {domain: StepLoader}, opened on first use
        self.tb = None
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(cfg.to_json())
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.out / "tb"), purge_step=self.start if resume else None)

    def _sample_map(self, domain: str) -> np.ndarray:
        ds, t = self.data[domain][0], self.cfg.train
        idx = np.arange(len(ds))
        if (domain != "robot" and not t.early_human) or t.early_steps == 0 or t.early_repeat == 1:
            return idx
        starts = np.concatenate([[0], np.cumsum(ds.lengths)[:-1]]).astype(np.int64)
        early = np.concatenate([s + np.arange(min(t.early_steps, n)) for s, n in zip(starts, ds.lengths)])
        return np.concatenate([idx] + [early] * (t.early_repeat - 1))

    def _resume(self) -> None:
        try:
            ck = load_checkpoint(self.out)
        except CheckpointError as e:
            raise UserError(f"--resume: {e}") from None
        if ck.normalizer.digest() != self.normalizer.digest():
            raise UserError(f"--resume: the data's training statistics differ from the run's ({ck.path}): "
                            f"the files changed; start a new run")
        if tuple(ck.meta["domains"]) != self.domains:
            raise UserError(f"--resume: the run trained on {ck.meta['domains']}, this call gives {list(self.domains)}")
        if ck.model.arms != self.arms:
            raise UserError(f"--resume: the run trained arms {list(ck.model.arms)}, this call's data has "
                            f"{list(self.arms)}")
        self.model.load_state_dict(ck.model.state_dict())
        if self.domain_head is not None:
            load_train_module(self.domain_head, ck.path, "domain_head")
        load_optimizer(self.opt, ck.path)
        self.start = ck.step

    # ---- one step ------------------------------------------------------------------
    def _samples(self, domain: str, step: int) -> dict:
        """This rank's collated raw samples of `step` for one domain: read here (`--workers 0`) or
        by the domain's DataLoader workers (`egogym.policies.loader`), the same arrays either way."""
        if self.workers == 0:
            return step_samples(self.data[domain][0], self.sample_map[domain], self.plans[domain], step)
        if domain not in self._loaders:
            self._loaders[domain] = StepLoader(self.data[domain][0], self.sample_map[domain], self.plans[domain],
                                               self.steps, self.workers, pin_memory=self.device.type == "cuda")
        return self._loaders[domain].samples(step)

    def _batch(self, domain: str, step: int):
        """This rank's inputs for `step`, and its slice of the global CVAE noise."""
        plan = self.plans[domain]
        t_wait = time.perf_counter()
        samples = self._samples(domain, step)
        self.data_wait_s += time.perf_counter() - t_wait  # reading, or waiting for the loader's workers
        samples = to_device(samples, self.device)
        # Every draw on the CPU from the step's generator (the same on any device), then moved.
        dev = self.device
        g = step_generator(self.cfg.train.seed, step, domain)
        G, B = plan.batch * self.world, plan.batch
        noise = torch.randn(G, self.cfg.model.latent, generator=g)[self.rank * B:(self.rank + 1) * B].to(dev)
        factors = torch.rand(G, 8, generator=g)[self.rank * B:(self.rank + 1) * B].to(dev)
        pad, offsets = self.cfg.train.shift_pad, None
        if pad > 0:  # drawn after the jitter factors, so runs without a shift keep their random stream
            offsets = torch.randint(0, 2 * pad + 1, (G, 4), generator=g)[self.rank * B:(self.rank + 1) * B]
        inp = model_inputs(samples, domain, self.cfg.model, self.normalizer, self.cfg.train.jitter, factors,
                           pad, offsets)
        p = self.cfg.train.proprio_dropout
        # Drawn last: runs without it keep their random stream. The robot's joints only, or every
        # domain's state when the robot reads the human's (the same input treated alike).
        if p > 0 and (domain == "robot" or self.cfg.model.robot_state == "pinch"):
            keep = (torch.rand(G, generator=g) >= p)[self.rank * B:(self.rank + 1) * B].to(dev)
            inp.proprio = inp.proprio * keep[:, None].to(inp.proprio.dtype)
        pw = self.cfg.train.wrist_dropout
        if pw > 0 and domain == "robot":  # drawn after the above: runs without it keep their stream
            inp.wrist_keep = (torch.rand(G, generator=g) >= pw)[self.rank * B:(self.rank + 1) * B].to(dev)
        return inp, noise

    def train_step(self, step: int) -> dict[str, float]:
        self.model.train()
        # Dropout draws from torch's global generator: seed it from (seed, step, rank).
        torch.manual_seed(int(step_generator(self.cfg.train.seed, step, "robot", 1 + self.rank).initial_seed()))
        robot, nr = self._batch("robot", step)
        human, nh = self._batch("human", step) if "human" in self.domains else (None, None)
        with autocast(self.device):
            loss, logs = self.loss_module(robot, human, {"robot": nr, "human": nh})
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        lr = self.cfg.train.lr_at(step, self.steps)
        for group in self.opt.param_groups:
            group["lr"] = lr
        if self.cfg.train.lr_schedule != "constant" or self.cfg.train.warmup_steps:
            logs["lr"] = lr
        if self.cfg.train.grad_clip > 0:
            logs["grad_norm"] = float(nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip))
        self.opt.step()
        if self.world > 1:  # log the global mean of each scalar
            t = torch.tensor([logs[k] for k in sorted(logs)], dtype=torch.float64)
            dist.all_reduce(t)
            logs = dict(zip(sorted(logs), (t / self.world).tolist()))
        return logs

    # ---- validation ----------------------------------------------------------------
    def _valid_indices(self, domain: str) -> np.ndarray:
        n = len(self.data[domain][1])
        k = self.cfg.train.val_batches * self.cfg.train.batch_size
        return np.arange(n) if k == 0 or k >= n else np.linspace(0, n - 1, k).round().astype(np.int64)

    @torch.no_grad()
    def validate(self, step: int) -> dict[str, float]:
        """paired_mse / final_mse per domain and head on the valid split (rank 0's model)."""
        self.model.eval()
        res: dict[str, float] = {}
        B = self.cfg.train.batch_size
        for d in self.domains:
            ds = self.data[d][1]
            idx = self._valid_indices(d)
            acc: dict[str, list] = {}
            for s in range(0, len(idx), B):
                inp = model_inputs(to_device(collate([ds[int(i)] for i in idx[s:s + B]]), self.device), d,
                                   self.cfg.model, self.normalizer)
                with autocast(self.device):
                    errors = chunk_errors(self.model, inp, self.normalizer)
                for k, v in errors.items():
                    acc.setdefault(k, []).append(v.float().cpu())
            res.update({f"valid/{k}": float(torch.cat(v).mean()) for k, v in acc.items()})
        if self.cfg.train.video_frames > 0:
            for d in self.domains:
                self.write_video(d, step)
        return res

    @torch.no_grad()
    def write_video(self, domain: str, step: int) -> Path:
        """Green ground truth, purple joint head via FK (robot), red pose head over consecutive
        valid frames from the start of the first valid demo."""
        ds = self.data[domain][1]
        n = min(self.cfg.train.video_frames, len(ds))
        mc = self.cfg.model
        frames = []
        spec_arms = None
        if domain == "robot":
            from egogym.core.spec import EGOMIMIC

            spec_arms = tuple(EGOMIMIC.arm(a) for a in self.arms)
            missing = [a for a in self.arms if a not in ds.calibration.T_cam_base]
            if missing:
                spec_arms = None
                if not getattr(self, "_warned_no_extrinsics", False):
                    self._warned_no_extrinsics = True
                    print(f"egogym train: warning: {ds.path}: calibration '{ds.calibration.source}' has no "
                          f"T_cam_base for arm {missing[0]!r}; the validation video skips purple (joint head "
                          f"through FK): pass --calibration egomimic or a calibration JSON", file=sys.stderr, flush=True)
        for s in range(0, n, self.cfg.train.batch_size):
            samples = [ds[i] for i in range(s, min(n, s + self.cfg.train.batch_size))]
            inp = model_inputs(to_device(collate(samples), self.device), domain, mc, self.normalizer)
            with autocast(self.device):
                out = {k: v.float() for k, v in self.model(domain, inp.images, inp.proprio).items()}
            xyz = self.normalizer.unnormalize(domain, "actions_xyz_act", out["xyz"]).cpu().numpy()
            joints = (self.normalizer.unnormalize(domain, "actions_joints_act", out["joints"]).cpu().numpy()
                      if domain == "robot" else None)
            for i, smp in enumerate(samples):
                fk = (pinch_in_camera(spec_arms, ds.calibration, joints[i])
                      if joints is not None and spec_arms is not None else None)
                frames.append(draw_chunks(smp[mc.front_key], ds.calibration, smp["actions_xyz_act"], xyz[i], fk,
                                          valid=smp["pad_mask"]))
        path = write_video(self.out / "videos" / f"step_{step:08d}_{domain}.mp4", frames)
        import imageio.v2 as imageio

        imageio.imwrite(path.with_suffix(".png"), frames[len(frames) // 2])
        return path

    # ---- the loop --------------------------------------------------------------------
    def _log(self, step: int, logs: dict[str, float]) -> None:
        if self.rank != 0:
            return
        for k, v in logs.items():
            self.tb.add_scalar(k if "/" in k or k.startswith("valid") else f"train/{k}", v, step)
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step, **logs}) + "\n")

    def fit(self) -> dict[str, float]:
        from tqdm import tqdm

        t = self.cfg.train
        bar = tqdm(total=self.steps, initial=self.start, disable=self.rank != 0 or not self.progress,
                   desc=f"train {self.out.name}", dynamic_ncols=True)
        last_val: dict[str, float] = {}
        t0 = time.perf_counter()
        self.data_wait_s = 0.0
        for step in range(self.start, self.steps):
            logs = self.train_step(step)
            done = step + 1
            if done % t.log_every == 0 or done == self.steps:
                elapsed = time.perf_counter() - t0
                logs["samples_per_s"] = (done - self.start) * t.batch_size * self.world * len(self.domains) / elapsed
                logs["data_wait_frac"] = self.data_wait_s / elapsed  # of the wall time since the start, validation too
                self._log(done, logs)
            bar.set_postfix({k.split("/")[-1] if k == "loss" else k.replace("robot/", "r/").replace("human/", "h/"):
                             f"{v:.3f}" for k, v in logs.items() if k in ("loss", "robot/l1_joints", "human/l1_xyz")})
            bar.update(1)
            if done % t.val_every == 0 or done == self.steps:
                if self.rank == 0:
                    last_val = self.validate(done)
                    self._log(done, last_val)
                    bar.write(f"step {done}: " + "  ".join(f"{k[6:]}={v:.4g}" for k, v in sorted(last_val.items())))
                self._barrier()
            if done % t.ckpt_every == 0 or done == self.steps:
                if self.rank == 0:
                    extra = {"domain_head": self.domain_head} if self.domain_head is not None else None
                    save_checkpoint(self.out, self.cfg, self.model, self.normalizer, done, self.opt, extra)
                self._barrier()
        bar.close()
        if self.tb is not None:
            self.tb.close()
        return last_val

    def _barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def _setup_distributed(device: torch.device) -> bool:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(distributed_backend(device))
        return True
    return False


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    started = _setup_distributed(device)
    world = dist.get_world_size() if dist.is_initialized() else 1
    if args.threads < 0:
        raise UserError(f"--threads {args.threads}: give 0 (the default for this machine) or a positive count")
    torch.set_num_threads(args.threads or default_threads(world))
    try:
        sets = _parse_sets(args.set)
        out = check_output(args.out, [p for p in (args.robot, args.human) if p], kind="dir")
        if args.resume:
            try:
                ck_dir = resolve(out)
                cfg = Config.from_dict(json.loads((ck_dir / "config.json").read_text()))
            except CheckpointError as e:
                raise UserError(f"--resume: {e}") from None
            if sets and cfg.with_overrides(sets) != cfg:
                raise UserError("--resume keeps the run's config; --set would change it: start a new --out")
            if args.preset is not None and args.preset != cfg.preset:
                raise UserError(f"--resume: the run in {out} uses preset {cfg.preset!r}, not {args.preset!r}")
        else:
            if (out / "config.json").exists() or (out / "LATEST").exists():
                raise UserError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
            cfg = preset(args.preset or "cpu").with_overrides(sets)
        steps = args.steps if args.steps is not None else cfg.train.steps
        if steps < 1:
            raise UserError(f"--steps {steps}: must be at least 1")
        data, stats = open_files(cfg, args.robot, args.human, calibration=args.calibration,
                                 splits=tuple(args.splits))
        trainer = Trainer(cfg, data, stats, out, steps, resume=args.resume, progress=not args.no_progress,
                          device=device, workers=args.workers)
        if trainer.start > steps:
            raise UserError(f"--resume: the run is already at step {trainer.start} > --steps {steps}; "
                            f"pass --steps {trainer.start} or more")
        if trainer.start == steps:  # a finished run resumed (e.g. by a restarted ablation): nothing to do
            print(f"{out}: already trained to step {steps}; nothing to do", flush=True)
            return 0
        val = trainer.fit()
        if trainer.rank == 0:
            print(f"trained {steps} steps into {out} ({'co-training robot + human' if args.human else 'robot only'}); "
                  + "  ".join(f"{k[6:]}={v:.4g}" for k, v in sorted(val.items())))
        return 0
    except ConfigError as e:
        raise UserError(str(e)) from None
    finally:
        if started:
            dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m egogym.policies.train` (torchrun)."""
    p = argparse.ArgumentParser(prog="egogym.policies.train", description="train ACT / EgoMimic policies")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"egogym.policies.train: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
