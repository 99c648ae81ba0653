"""DemoWriter: write egogym HDF5 files one whole demo at a time, crash-safe.

    with DemoWriter("robot.hdf5", "robot", env.calibration, arms=("right",), control_hz=50,
                    image_size=(480, 640), env_args={"task": "object_in_bowl"}) as w:
        name = w.write_demo(obs, {"joints": joint_targets}, attrs={"seed": 3}, states=states)

Each `write_demo` is one atomic update of the file (`egogym.data.journal`): it is
either entirely in the file or not at all, so a recording killed with SIGKILL leaves a
file that opens and holds every finished demo. Opening an existing file appends to it
(resume) after checking that its domain, arms, rate, image size and calibration match.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import h5py
import numpy as np

from egogym.data import schema as S
from egogym.data.journal import JournaledFile, recover
from egogym.data.schema import DataFormatError
from egogym.core.spec import Calibration, active_arms


def calibration_at(calibration: Calibration, image_size: Sequence[int]) -> Calibration:
    """The same calibration with every camera's intrinsics rescaled to image_size (height, width) px."""
    size = (int(image_size[0]), int(image_size[1]))
    return Calibration(intrinsics={c: calibration.K(c, size) for c in calibration.intrinsics},
                       image_sizes={c: size for c in calibration.intrinsics}, T_cam_base=dict(calibration.T_cam_base),
                       T_gripper_cam=dict(calibration.T_gripper_cam), source=calibration.source)


def _arms_tuple(arms: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(arms, str):
        try:
            return active_arms(arms)
        except ValueError as e:
            raise DataFormatError(f"DemoWriter: {e}") from None
    arms = tuple(arms)
    if not arms or any(a not in S.WRIST_OF_ARM for a in arms) or list(arms) != sorted(set(arms)):
        raise DataFormatError(f"DemoWriter: arms={list(arms)}; give 'left' and/or 'right', left first")
    return arms


def _jsonable(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


class DemoWriter:
    """Appends demos to an egogym HDF5 file.

    path: the file (created if missing; appended to if it exists).
    domain: "robot" or "human" (`schema.DOMAINS`).
    calibration: the `Calibration` of the cameras that took the images (intrinsics at
      `image_size`, extrinsics), stored as JSON in `data.attrs["calibration"]`.
    arms: "right" | "left" | "both" or arm names, left first (robot arms; for human
      files the hands tracked). control_hz: steps per second of the stored arrays.
    image_size: (height, width) px of every image key.
    env_args: JSON-able description of how the data was made (task, seed base, ...).
    write_prestacked: also write EgoMimic's pre-stacked `actions_*_act` (T, 100, D) and
      `actions_joints` / `actions_xyz` (T, 10, D) keys, for tools that expect them
      (100x the action bytes).
    image_codec: one of `schema.IMAGE_CODECS`.
    embodiment: free-form name of the body that acted (default: the domain).
    """

    def __init__(self, path: str | os.PathLike, domain: str, calibration: Calibration | dict, *,
                 arms: str | Sequence[str], control_hz: float, image_size: Sequence[int], env_args: dict,
                 write_prestacked: bool = False, image_codec: str = S.DEFAULT_IMAGE_CODEC,
                 embodiment: str | None = None):
        if domain not in S.DOMAINS:
            raise DataFormatError(f"DemoWriter: domain={domain!r}; use one of {S.DOMAINS}")
        S.codec_kwargs(image_codec)  # raises on an unknown codec
        self.path = Path(path)
        calib = calibration.to_dict() if isinstance(calibration, Calibration) else dict(calibration)
        Calibration.from_dict(calib)  # raises on a malformed calibration
        if len(image_size) != 2 or min(int(x) for x in image_size) < 1:
            raise DataFormatError(f"DemoWriter: image_size={tuple(image_size)}; give (height, width)")
        cal_size = tuple(calib.get("image_sizes", {}).get(S.FRONT, ()))
        if cal_size != tuple(int(x) for x in image_size):
            raise DataFormatError(f"DemoWriter: the calibration's {S.FRONT} intrinsics are for {cal_size}, the images "
                                  f"are {tuple(image_size)}: pass calibration_at(calibration, image_size)")
        if not control_hz or control_hz <= 0:
            raise DataFormatError(f"DemoWriter: control_hz={control_hz}; give the rate in Hz (> 0)")
        try:
            env_args = json.loads(json.dumps(env_args, default=_jsonable))
        except TypeError as e:
            raise DataFormatError(f"DemoWriter: env_args is not JSON-able ({e})") from None
        self.info = S.FileInfo(S.FORMAT_VERSION, domain, embodiment or domain, _arms_tuple(arms), float(control_hz),
                               (int(image_size[0]), int(image_size[1])), calib, env_args, image_codec,
                               bool(write_prestacked))
        self.schema = S.SCHEMAS[domain]
        recover(self.path)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._create()
        else:
            self._check_existing()

    # ---- file setup ----
    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        jf = JournaledFile(self.path)
        try:
            with h5py.File(jf, "w") as f:
                g = f.create_group(S.DATA)
                for k, v in self.info.attrs().items():
                    g.attrs[k] = v
                g.attrs[S.ATTR_TOTAL] = 0
        except BaseException:
            jf.abort()
            raise
        jf.commit()

    def _check_existing(self) -> None:
        try:
            with h5py.File(self.path, "r") as f:
                have = S.read_file_info(f, str(self.path))
        except OSError as e:
            raise DataFormatError(f"{self.path}: not a readable HDF5 file ({e}); move it away or choose another --out") from None
        if have.version is None:
            raise DataFormatError(f"{self.path}: an EgoMimic-layout file; DemoWriter appends only to egogym files")
        mine = self.info
        for what, a, b in (("domain", have.domain, mine.domain), ("arms", have.arms, mine.arms),
                           ("control_hz", have.control_hz, mine.control_hz),
                           ("image_size", have.image_size, mine.image_size),
                           ("image_codec", have.image_codec, mine.image_codec),
                           ("prestacked", have.prestacked, mine.prestacked)):
            if a != b:
                raise DataFormatError(f"{self.path}: the file has {what}={a}, this writer {what}={b}; "
                                      f"append with matching settings or write a new file")
        if not _same_calibration(have.calibration, mine.calibration):
            raise DataFormatError(f"{self.path}: the file's calibration differs from this writer's; "
                                  f"write data from another calibration to a new file")
        # Keep the env_args the file was created with (they describe the first session).
        self.info = have

    # ---- context manager ----
    def __enter__(self) -> "DemoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing is held open between demos; present for symmetry."""

    # ---- queries ----
    def existing_demos(self) -> list[str]:
        """Names of the demos already in the file, in numeric order."""
        with h5py.File(self.path, "r") as f:
            return sorted((k for k in f[S.DATA].keys() if S.is_demo_name(k)), key=S.demo_sort_key)

    def demo_attrs(self) -> dict[str, dict]:
        """{demo name: its attributes} of the demos in the file (e.g. to find seeds on resume)."""
        with h5py.File(self.path, "r") as f:
            return {k: {a: _plain(v) for a, v in f[S.DATA][k].attrs.items()}
                    for k in f[S.DATA].keys() if S.is_demo_name(k)}

    # ---- writing ----
    def _check(self, obs: Mapping[str, np.ndarray], actions: Mapping[str, np.ndarray],
               states: np.ndarray | None) -> tuple[int, dict[str, np.ndarray], dict[str, np.ndarray]]:
        info, schema = self.info, self.schema
        where = f"{self.path}: write_demo"
        unknown = sorted(set(obs) - set(schema.allowed_obs()))
        if unknown:
            raise DataFormatError(f"{where}: obs key {unknown[0]!r} is not part of the {info.domain} schema "
                                  f"(allowed: {', '.join(schema.allowed_obs())})")
        for k in schema.required_obs_for(info.arms):
            if k not in obs:
                raise DataFormatError(f"{where}: obs lacks {k!r}, required in {info.domain} files with arms {list(info.arms)}")
        lengths = {k: len(np.asarray(v)) for k, v in obs.items()}
        T = lengths[S.FRONT]
        if T < 1:
            raise DataFormatError(f"{where}: a demo needs at least one step ({S.FRONT} has 0)")
        out_obs = {}
        for k, v in obs.items():
            spec = S.OBS_KEYS[k]
            v = np.asarray(v)
            want = (T,) + spec.step_shape(info.image_size, info.n_arms)
            if v.shape != want:
                raise DataFormatError(f"{where}: obs[{k!r}] has shape {v.shape}, expected {want}")
            if spec.kind == "lowdim":
                if not np.issubdtype(v.dtype, np.floating):
                    raise DataFormatError(f"{where}: obs[{k!r}] has dtype {v.dtype}, expected floating point")
                v = v.astype(np.float64)
                if not np.all(np.isfinite(v)):
                    raise DataFormatError(f"{where}: obs[{k!r}] holds NaN or inf")
            elif v.dtype != spec.dtype:
                raise DataFormatError(f"{where}: obs[{k!r}] has dtype {v.dtype}, expected {spec.dtype}")
            out_obs[k] = v
        if set(actions) != set(schema.stored_actions):
            raise DataFormatError(f"{where}: actions has keys {sorted(actions)}; a {info.domain} demo takes "
                                  f"exactly {sorted(schema.stored_actions)}")
        out_act = {}
        for k, v in actions.items():
            v = np.asarray(v)
            if k == "joints":
                want = (T, 7 * info.n_arms)
            else:
                want = (T, S.CHUNK, 3 * info.n_arms)
            if v.shape != want:
                raise DataFormatError(f"{where}: actions[{k!r}] has shape {v.shape}, expected {want}")
            if not np.issubdtype(v.dtype, np.floating):
                raise DataFormatError(f"{where}: actions[{k!r}] has dtype {v.dtype}, expected floating point")
            v = v.astype(np.float64)
            if not np.all(np.isfinite(v)):
                raise DataFormatError(f"{where}: actions[{k!r}] holds NaN or inf")
            out_act[schema.stored_actions[k]] = v
        if states is not None:
            states = np.asarray(states)
            if states.ndim != 2 or len(states) != T or not np.issubdtype(states.dtype, np.floating):
                raise DataFormatError(f"{where}: states has shape {states.shape} dtype {states.dtype}, "
                                      f"expected ({T}, nq + nv) floating point")
        return T, out_obs, out_act

    def write_demo(self, obs: Mapping[str, np.ndarray], actions: Mapping[str, np.ndarray],
                   attrs: dict | None = None, states: np.ndarray | None = None) -> str:
        """Write one whole demo and commit it; return its name (`demo_N`, N one past the
        highest in the file).

        obs: {key: (T, ...) array} with the domain's keys (`schema.SCHEMAS`): images
          (T, H, W, 3) uint8, `front_img_1_mask` (T, H, W) bool, `joint_positions`
          (T, 7k) and `ee_pose` (T, 3k) float (m, current Aria camera frame).
        actions: robot {"joints": (T, 7k) commanded joint targets per step (rad; gripper
          in [0, 1])}; human {"xyz_act": (T, 100, 3k) palm chunks, each in the camera
          frame of its own t (m)}.
        attrs: JSON-able demo attributes (seed, points, ...); dicts and lists are stored
          as JSON strings. states: (T, nq + nv) sim state; give attrs["state_nq"].
        """
        T, obs, actions = self._check(obs, actions, states)
        info = self.info
        image_kw = S.codec_kwargs(info.image_codec)
        jf = JournaledFile(self.path)
        try:
            with h5py.File(jf, "r+") as f:
                data = f[S.DATA]
                names = [k for k in data.keys() if S.is_demo_name(k)]
                n = max((S.demo_sort_key(k)[0] for k in names), default=-1) + 1
                name = f"demo_{n}"
                g = data.create_group(name)
                g.attrs[S.ATTR_NUM_SAMPLES] = T
                for k, v in (attrs or {}).items():
                    g.attrs[k] = json.dumps(v, default=_jsonable) if isinstance(v, (dict, list, tuple)) else v
                og = g.create_group(S.OBS)
                for k, v in obs.items():
                    if S.OBS_KEYS[k].kind == "lowdim":
                        og.create_dataset(k, data=v)
                    else:
                        og.create_dataset(k, data=v, chunks=(1,) + v.shape[1:], **image_kw)
                for k, v in actions.items():
                    g.create_dataset(k, data=v)
                if states is not None:
                    g.create_dataset(S.STATES, data=np.asarray(states, dtype=np.float64))
                if info.prestacked:
                    _write_prestacked(g, info, obs, actions)
                data.attrs[S.ATTR_TOTAL] = int(data.attrs.get(S.ATTR_TOTAL, 0)) + T
        except BaseException:
            jf.abort()
            raise
        jf.commit()
        return name


def _write_prestacked(g: h5py.Group, info: S.FileInfo, obs: dict, actions: dict) -> None:
    """EgoMimic's pre-stacked keys: chunks (T, 100, D) and their every-10th subsample (T, 10, D)."""
    if info.domain == "robot":
        chunks = {S.JOINTS_ACT: S.prestack(actions[S.ACTIONS_STEP]), S.XYZ_ACT: S.prestack(obs[S.EE_POSE])}
    else:
        chunks = {}  # the human chunk key is the stored one already
        chunks_xyz = actions[S.XYZ_ACT]
        g.create_dataset(S.XYZ_SUB, data=chunks_xyz[:, ::S.SUBSAMPLED])
    for k, v in chunks.items():
        g.create_dataset(k, data=v)
        g.create_dataset(S.JOINTS_SUB if k == S.JOINTS_ACT else S.XYZ_SUB, data=v[:, ::S.SUBSAMPLED])


def _plain(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _same_calibration(a: dict | None, b: dict | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        ca, cb = Calibration.from_dict(a), Calibration.from_dict(b)
    except KeyError:
        return False
    if ca.image_sizes != cb.image_sizes:
        return False
    for d1, d2 in ((ca.intrinsics, cb.intrinsics), (ca.T_cam_base, cb.T_cam_base), (ca.T_gripper_cam, cb.T_gripper_cam)):
        if set(d1) != set(d2) or any(not np.allclose(d1[k], d2[k], atol=1e-9) for k in d1):
            return False
    return True
