"""Checkpoints: safetensors weights + JSON config + the data layer's normalization statistics.

No pickle anywhere. A run folder looks like

    runs/NAME/
      config.json                     the run's Config (written at the start)
      LATEST                          name of the newest checkpoint folder
      checkpoints/step_00000500/
        checkpoint.json               format, version, step, arms (their number), arm_names, domains, digests
        config.json                   the Config the weights were trained with
        model.safetensors             weights (EgoACT state dict)
        stats_robot.json              NormStats of the robot train split (egogym.data.stats)
        stats_human.json              NormStats of the human train split (co-training only)
        optimizer.safetensors         AdamW moments (for --resume)
        optimizer.json                AdamW hyperparameters and the state layout
        train_domain_head.safetensors training-only modules (DANN's classifier, train.adversarial_weight > 0), for --resume
      metrics.jsonl, tb/, videos/

`load_checkpoint` refuses, with one line naming the file and the fix, a folder whose
config or statistics are missing, a config that does not rebuild the saved weights,
and statistics whose digest differs from the one recorded at save time.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from egogym.core.errors import UserError
from egogym.core.arms import Arms
from egogym.core.outputs import write_text_atomic
from egogym.data.stats import NormStats
from egogym.policies.config import Config, ConfigError
from egogym.policies.model import EgoACT, model_arms
from egogym.policies.normalize import Normalizer

FORMAT, VERSION = "egogym-policy-checkpoint", 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the fix."""


class OptimizerStateError(CheckpointError, UserError):
    """A damaged optimizer state met by `egogym train --resume` (`load_optimizer`): also a
    UserError, so the command prints it as one line wherever its caller does not catch it."""


@dataclass
class Checkpoint:
    config: Config
    model: EgoACT
    normalizer: Normalizer
    step: int
    path: Path
    meta: dict


# Model fields added after checkpoints were first written, with the value that reproduces the
# older model: left out of the digest at that value, so older checkpoints keep loading.
_LATER_MODEL_FIELDS = {"front_crop": [], "coord_channels": False, "keypoints": 0}


def config_digest(cfg: Config) -> str:
    """sha256 of the config's model part (what the weights depend on)."""
    model = {k: v for k, v in cfg.to_dict()["model"].items()
             if not (k in _LATER_MODEL_FIELDS and (list(v) if isinstance(v, tuple) else v) == _LATER_MODEL_FIELDS[k])}
    return hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()


def step_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:08d}"


def save_checkpoint(run_dir: str | Path, cfg: Config, model: EgoACT, normalizer: Normalizer, step: int,
                    optimizer: torch.optim.Optimizer | None = None,
                    train_modules: dict[str, torch.nn.Module] | None = None) -> Path:
    """Write a checkpoint folder for `step` and point LATEST at it; returns the folder.
    train_modules: {name: module} trained beside the policy but not part of it (written as
    `train_<name>.safetensors`, read back by `load_train_module` on --resume)."""
    run_dir = Path(run_dir)
    d = step_dir(run_dir, step)
    tmp = d.with_name(d.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    # CPU copies: a checkpoint written on any device loads on any other (load_file reads to the CPU).
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"),
              metadata={"format": FORMAT})
    (tmp / "config.json").write_text(cfg.to_json())
    for dom, stats in normalizer.stats.items():
        stats.save(tmp / f"stats_{dom}.json")
    meta = {"format": FORMAT, "version": VERSION, "step": step, "arms": len(model.arms),
            "arm_names": list(model.arms.names), "domains": list(model.domains),
            "config_digest": config_digest(cfg), "stats_digest": normalizer.digest(),
            "stats_sources": {k: v.source for k, v in normalizer.stats.items()}}
    (tmp / "checkpoint.json").write_text(json.dumps(meta, indent=2))
    if optimizer is not None:
        _save_optimizer(optimizer, tmp)
    for name, module in (train_modules or {}).items():
        save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()},
                  str(tmp / f"train_{name}.safetensors"))
    if d.exists():
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
    tmp.rename(d)
    write_text_atomic(run_dir / "LATEST", d.name + "\n")
    return d


def resolve(path: str | Path) -> Path:
    """A checkpoint folder from a run folder (its LATEST) or a checkpoint folder itself."""
    path = Path(path)
    if (path / "checkpoint.json").exists():
        return path
    latest = path / "LATEST"
    if latest.exists():
        name = latest.read_text().strip()
        target = path / "checkpoints" / name
        if not name or Path(name).name != name or not target.is_dir():
            raise CheckpointError(f"{latest} names {name!r}, which is not a folder in {path / 'checkpoints'}; "
                                  f"write the name of one of its step_* folders into LATEST")
        return target
    if not path.exists():
        raise CheckpointError(f"{path}: no such run or checkpoint folder")
    raise CheckpointError(f"{path}: not a checkpoint (no checkpoint.json) and not a run folder (no LATEST): "
                          f"train one with `egogym train`")


def _read_json(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not JSON ({e}); use another step's checkpoint or retrain") from None
    if not isinstance(d, dict):
        raise CheckpointError(f"{path}: not a JSON object; use another step's checkpoint or retrain")
    return d


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Rebuild model, config and normalizer from a run folder or a checkpoint folder (see module docstring)."""
    d = resolve(path)
    for name in ("checkpoint.json", "config.json", "model.safetensors"):
        if not (d / name).exists():
            raise CheckpointError(f"{d}: {name} is missing; this checkpoint is incomplete, use another step")
    meta = _read_json(d / "checkpoint.json")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{d}/checkpoint.json: not an egogym policy checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{d}: checkpoint version {meta.get('version')}, this code reads {VERSION}: retrain")
    try:
        cfg = Config.from_dict(_read_json(d / "config.json"))
    except (ConfigError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{d}/config.json: {e}") from None
    if config_digest(cfg) != meta.get("config_digest"):
        raise CheckpointError(f"{d}/config.json does not match the config these weights were saved with "
                              f"(digest differs): restore the original config.json")
    stats = {}
    for dom in meta["domains"]:
        f = d / f"stats_{dom}.json"
        if not f.exists():
            raise CheckpointError(f"{d}: {f.name} is missing: the {dom} normalization statistics must travel "
                                  f"with the weights; copy them back from the run")
        try:
            stats[dom] = NormStats.load(f)
        except ValueError as e:
            raise CheckpointError(str(e)) from None
    normalizer = Normalizer(stats)
    try:
        normalizer.require(meta["domains"])
    except KeyError as e:
        raise CheckpointError(f"{d}: {e}") from None
    if normalizer.digest() != meta.get("stats_digest"):
        raise CheckpointError(f"{d}: the normalization statistics differ from those saved with the weights "
                              f"(digest mismatch): restore the stats_*.json files of this checkpoint")
    model = EgoACT(cfg.model, checkpoint_arms(meta, d), tuple(meta["domains"]))
    try:
        weights = load_file(str(d / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{d / 'model.safetensors'}: not readable safetensors weights "
                              f"({str(e).splitlines()[0][:120]}); use another step's checkpoint or retrain") from None
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:  # a tensor of another shape
        raise CheckpointError(f"{d / 'model.safetensors'}: weights of another shape than config.json's model "
                              f"({str(e).splitlines()[-1].strip()[:120]}); use another step's checkpoint or retrain") from None
    if missing or unexpected:
        raise CheckpointError(f"{d}: weights do not fit the config (missing {missing[:3]}, unexpected "
                              f"{unexpected[:3]}): the config.json belongs to another model")
    try:
        data_arms = normalizer.arms("robot")
    except ValueError as e:
        raise CheckpointError(f"{d}: stats_robot.json: {e}") from None
    dims = normalizer.dims()
    if data_arms != model.arms or dims["joints"] != model.dim_joints or dims["xyz"] != model.dim_xyz:
        raise CheckpointError(f"{d}: statistics are for arms {list(data_arms)}, the model for {list(model.arms)}")
    return Checkpoint(cfg, model, normalizer, int(meta["step"]), d, meta)


def checkpoint_arms(meta: dict, d: Path) -> Arms:
    """The model's arms from checkpoint.json: `arm_names`, or in checkpoints written before
    they were recorded the number `arms` (1: the right arm, 2: both; `Arms.from_count`)."""
    try:
        arms = model_arms(meta["arm_names"] if "arm_names" in meta else int(meta["arms"]))
        if len(arms) != int(meta["arms"]):
            raise ValueError(f"arm_names {meta['arm_names']} are not {meta['arms']} arm(s)")
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{d}/checkpoint.json: arms: {e}; use another step's checkpoint or retrain") from None
    return arms


def load_train_module(module: torch.nn.Module, d: str | Path, name: str) -> None:
    """Restore a training-only module saved by save_checkpoint(train_modules={name: ...}) in `d`."""
    f = Path(d) / f"train_{name}.safetensors"
    fix = "use another step's checkpoint (write its step_N into LATEST) or start a new run"
    if not f.exists():
        raise OptimizerStateError(f"{d}: no {f.name} (the run's {name}); this checkpoint cannot be resumed "
                                  f"with this config; {fix}")
    try:
        module.load_state_dict(load_file(str(f)))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise OptimizerStateError(f"{f}: does not fit this run's {name} ({str(e).splitlines()[0][:120]}); {fix}") from None


def _save_optimizer(opt: torch.optim.Optimizer, d: Path) -> None:
    sd = opt.state_dict()
    tensors, layout = {}, {}
    for idx, st in sd["state"].items():
        layout[str(idx)] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{idx}/{k}"] = v.detach().cpu().contiguous()
                layout[str(idx)][k] = "tensor"
            else:
                layout[str(idx)][k] = v
    save_file(tensors, str(d / "optimizer.safetensors"))
    (d / "optimizer.json").write_text(json.dumps({"param_groups": sd["param_groups"], "state": layout}))


def load_optimizer(opt: torch.optim.Optimizer, d: str | Path) -> None:
    """Restore AdamW moments saved by save_checkpoint into `opt` (built over the same parameters)."""
    d = Path(d)
    if not (d / "optimizer.safetensors").exists() or not (d / "optimizer.json").exists():
        raise OptimizerStateError(f"{d}: no optimizer state; this checkpoint cannot be resumed")
    fix = "use another step's checkpoint (write its step_N into LATEST) or start a new run"
    try:  # wrapped like the weights (load_checkpoint): a damaged file is one line, not a SafetensorError
        tensors = load_file(str(d / "optimizer.safetensors"))
    except (SafetensorError, OSError, ValueError) as e:
        raise OptimizerStateError(f"{d / 'optimizer.safetensors'}: not readable safetensors optimizer state "
                                  f"({str(e).splitlines()[0][:120]}); {fix}") from None
    try:
        meta = json.loads((d / "optimizer.json").read_text())
        state = {}
        for idx, layout in meta["state"].items():
            state[int(idx)] = {k: (tensors[f"{idx}/{k}"] if v == "tensor" else v) for k, v in layout.items()}
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise OptimizerStateError(f"{d}: optimizer.json / optimizer.safetensors do not fit this model "
                                  f"({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}); {fix}") from None
