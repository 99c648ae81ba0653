"""DemoWriter: write egogym HDF5 files one demo at a time, crash-safe, streaming.

    with DemoWriter("robot.hdf5", "robot", env.calibration, arms=("right",), control_hz=50,
                    image_size=(480, 640), env_args={"task": "object_in_bowl"}) as w:
        name = w.write_demo(obs, {"joints": joint_targets}, attrs={"seed": 3}, states=states)
        with w.begin_demo({"seed": 4}) as st:      # step by step: memory bounded
            for o, a, q in steps:
                st.append(o, {"joints": a}, q)
            st.commit()

Each `write_demo` (and each `begin_demo` .. `commit`) is one atomic update of the file (`egogym.data.journal`): it is
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
from egogym.core.arms import Arms
from egogym.core.spec import Calibration


DEFAULT_CHUNK_STEPS = 16
"""Steps of frames a DemoStream holds before writing them (16 steps of four 480x640 views: 59 MB)."""


def calibration_at(calibration: Calibration, image_size: Sequence[int]) -> Calibration:
    """The same calibration with every camera's intrinsics rescaled to image_size (height, width) px."""
    size = (int(image_size[0]), int(image_size[1]))
    return Calibration(intrinsics={c: calibration.K(c, size) for c in calibration.intrinsics},
                       image_sizes={c: size for c in calibration.intrinsics}, T_cam_base=dict(calibration.T_cam_base),
                       T_gripper_cam=dict(calibration.T_gripper_cam), source=calibration.source)


def _arms_tuple(arms: str | Sequence[str] | Arms) -> tuple[str, ...]:
    if isinstance(arms, (str, Arms)):
        try:
            return Arms.parse(arms).names
        except ValueError as e:
            raise DataFormatError(f"DemoWriter: {e}") from None
    arms = tuple(arms)
    if not S.layout_names(arms):  # names given one by one say the layout: no silent reordering
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
    arms: "right" | "left" | "both", an `Arms` or arm names, left first (robot arms; for human
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
            return {k: {a: plain_value(v) for a, v in f[S.DATA][k].attrs.items()}
                    for k in f[S.DATA].keys() if S.is_demo_name(k)}

    # ---- writing ----
    def _where(self, what: str = "write_demo") -> str:
        return f"{self.path}: {what}"

    def _check_obs(self, k: str, v, T: int, where: str) -> np.ndarray:
        """One obs key of a block of T steps, checked and converted (lowdim -> float64)."""
        info, schema = self.info, self.schema
        if k not in schema.allowed_obs():
            raise DataFormatError(f"{where}: obs key {k!r} is not part of the {info.domain} schema "
                                  f"(allowed: {', '.join(schema.allowed_obs())})")
        spec = S.OBS_KEYS[k]
        v = np.asarray(v)
        want = (T,) + spec.step_shape(info.image_size, info.arm_set)
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
        return v

    def _check_action(self, k: str, v, T: int, where: str) -> np.ndarray:
        info, schema = self.info, self.schema
        if k not in schema.stored_actions:
            raise DataFormatError(f"{where}: actions has key {k!r}; a {info.domain} demo takes "
                                  f"exactly {sorted(schema.stored_actions)}")
        v = np.asarray(v)
        arms = info.arm_set
        want = (T, arms.joint_width) if k == "joints" else (T, S.CHUNK, arms.xyz_width)
        if v.shape != want:
            raise DataFormatError(f"{where}: actions[{k!r}] has shape {v.shape}, expected {want}")
        if not np.issubdtype(v.dtype, np.floating):
            raise DataFormatError(f"{where}: actions[{k!r}] has dtype {v.dtype}, expected floating point")
        v = v.astype(np.float64)
        if not np.all(np.isfinite(v)):
            raise DataFormatError(f"{where}: actions[{k!r}] holds NaN or inf")
        return v

    def _check(self, obs: Mapping[str, np.ndarray], actions: Mapping[str, np.ndarray],
               states: np.ndarray | None) -> tuple[int, dict[str, np.ndarray], dict[str, np.ndarray]]:
        info, schema = self.info, self.schema
        where = self._where()
        unknown = sorted(set(obs) - set(schema.allowed_obs()))
        if unknown:
            raise DataFormatError(f"{where}: obs key {unknown[0]!r} is not part of the {info.domain} schema "
                                  f"(allowed: {', '.join(schema.allowed_obs())})")
        for k in schema.required_obs_for(info.arms):
            if k not in obs:
                raise DataFormatError(f"{where}: obs lacks {k!r}, required in {info.domain} files with arms {list(info.arms)}")
        T = len(np.asarray(obs[S.FRONT]))
        if T < 1:
            raise DataFormatError(f"{where}: a demo needs at least one step ({S.FRONT} has 0)")
        out_obs = {k: self._check_obs(k, v, T, where) for k, v in obs.items()}
        if set(actions) != set(schema.stored_actions):
            raise DataFormatError(f"{where}: actions has keys {sorted(actions)}; a {info.domain} demo takes "
                                  f"exactly {sorted(schema.stored_actions)}")
        out_act = {k: self._check_action(k, v, T, where) for k, v in actions.items()}
        if states is not None:
            states = np.asarray(states)
            if states.ndim != 2 or len(states) != T or not np.issubdtype(states.dtype, np.floating):
                raise DataFormatError(f"{where}: states has shape {states.shape} dtype {states.dtype}, "
                                      f"expected ({T}, nq + nv) floating point")
        return T, out_obs, out_act

    def begin_demo(self, attrs: dict | None = None, *, name: str | None = None,
                   chunk_steps: int = DEFAULT_CHUNK_STEPS) -> "DemoStream":
        """Open a new demo to be written step by step (`DemoStream`): frames go to disk in
        blocks of `chunk_steps` steps as they come, so memory stays bounded whatever the
        demo's length. `commit()` makes the demo part of the file (atomically), `abort()`
        (or an exception inside `with`) drops it; a killed process leaves the file as it
        was before `begin_demo` (the journal rolls the partial demo back).

        name: the demo's name (default `demo_N`, N one past the highest in the file); an
        existing name is an error. attrs: as in `write_demo` (more at commit)."""
        return DemoStream(self, attrs, name=name, chunk_steps=chunk_steps)

    def write_demo(self, obs: Mapping[str, np.ndarray], actions: Mapping[str, np.ndarray],
                   attrs: dict | None = None, states: np.ndarray | None = None, *, name: str | None = None) -> str:
        """Write one whole demo and commit it; return its name (`demo_N`, N one past the
        highest in the file, unless `name` is given).

        obs: {key: (T, ...) array} with the domain's keys (`schema.SCHEMAS`): images
          (T, H, W, 3) uint8, `front_img_1_mask` (T, H, W) bool, `joint_positions`
          (T, 7k) and `ee_pose` (T, 3k) float (m, current Aria camera frame).
        actions: robot {"joints": (T, 7k) commanded joint targets per step (rad; gripper
          in [0, 1])}; human {"xyz_act": (T, 100, 3k) palm chunks, each in the camera
          frame of its own t (m)}.
        attrs: JSON-able demo attributes (seed, points, ...); dicts and lists are stored
          as JSON strings. states: (T, nq + nv) sim state; give attrs["state_nq"].
        For demos too long to hold in memory, write step by step with `begin_demo`.
        """
        T, obs, actions = self._check(obs, actions, states)
        with self.begin_demo(attrs, name=name) as st:
            st._extend_checked(T, obs, actions, None if states is None else np.asarray(states, np.float64))
            return st.commit()


class DemoStream:
    """One demo being written step by step (`DemoWriter.begin_demo`).

    Images (and masks) are written to resizable datasets (one chunk per frame, the
    file's codec) every `chunk_steps` steps; low-dim obs, actions and states (a few
    hundred bytes per step) are held in memory and written at `commit()`, together with
    `num_samples`, the file's `total` and, with `write_prestacked`, EgoMimic's
    pre-stacked keys. The file stays locked (`journal`) from `begin_demo` to
    commit/abort: other processes cannot read it meanwhile.

    Keys may be appended at different times (e.g. raw frames during a teleoperated take,
    `front_img_1_masked` / `_line` in a second pass with `extend_key`); at commit every
    key written and every key the schema requires must have the same number of steps.
    """

    def __init__(self, writer: DemoWriter, attrs: dict | None, *, name: str | None, chunk_steps: int):
        if chunk_steps < 1:
            raise DataFormatError(f"{writer.path}: chunk_steps={chunk_steps}; give at least 1")
        self.w, self.chunk_steps = writer, int(chunk_steps)
        self.info = writer.info
        self._jf = JournaledFile(writer.path)
        self._done = False
        try:
            self._f = h5py.File(self._jf, "r+")
            data = self._f[S.DATA]
            if name is None:
                names = [k for k in data.keys() if S.is_demo_name(k)]
                name = f"demo_{max((S.demo_sort_key(k)[0] for k in names), default=-1) + 1}"
            elif not S.is_demo_name(name):
                raise DataFormatError(f"{writer.path}: demo name {name!r}; give demo_N")
            elif name in data:
                raise DataFormatError(f"{writer.path}: {S.DATA}/{name} exists; choose another name")
            self.name = name
            self._g = data.create_group(name)
            self._obs_g = self._g.create_group(S.OBS)
            self._attrs: dict = dict(attrs or {})
        except BaseException:
            self._close_abort()
            raise
        self._image_kw = S.codec_kwargs(self.info.image_codec)
        self._img: dict[str, h5py.Dataset] = {}
        self._buf: dict[str, list[np.ndarray]] = {}
        self._n: dict[str, int] = {}  # steps written or buffered per key
        self._low: dict[str, list[np.ndarray]] = {}
        self._act: dict[str, list[np.ndarray]] = {}
        self._states: list[np.ndarray] = []

    # ---- appending ----
    def _where(self) -> str:
        return f"{self.w.path}: {S.DATA}/{self.name}"

    def append(self, obs: Mapping[str, np.ndarray], actions: Mapping[str, np.ndarray] | None = None,
               state: np.ndarray | None = None) -> None:
        """One step: obs {key: one step's array (H, W, 3) / (H, W) / (D,)}, actions
        {"joints": (7k,)} (robot) or {"xyz_act": (100, 3k)} (human), state (nq + nv,)."""
        self.extend({k: np.asarray(v)[None] for k, v in obs.items()},
                    {k: np.asarray(v)[None] for k, v in (actions or {}).items()},
                    None if state is None else np.asarray(state)[None])

    def extend(self, obs: Mapping[str, np.ndarray], actions: Mapping[str, np.ndarray] | None = None,
               states: np.ndarray | None = None) -> None:
        """A block of steps: every array with the same leading length T (see `append`)."""
        lengths = {len(np.asarray(v)) for v in list(obs.values()) + list((actions or {}).values())}
        if states is not None:
            lengths.add(len(np.asarray(states)))
        if len(lengths) != 1:
            raise DataFormatError(f"{self._where()}: a block's arrays have different lengths {sorted(lengths)}")
        T = lengths.pop()
        where = self._where()
        o = {k: self.w._check_obs(k, v, T, where) for k, v in obs.items()}
        a = {k: self.w._check_action(k, v, T, where) for k, v in (actions or {}).items()}
        if states is not None:
            states = np.asarray(states)
            if states.ndim != 2 or not np.issubdtype(states.dtype, np.floating):
                raise DataFormatError(f"{where}: states has shape {states.shape} dtype {states.dtype}, "
                                      f"expected (T, nq + nv) floating point")
            states = states.astype(np.float64)
        self._extend_checked(T, o, a, states)

    def extend_key(self, key: str, block: np.ndarray) -> None:
        """Append a block of one obs key (e.g. masks computed after a take)."""
        self.extend({key: block})

    def _extend_checked(self, T: int, obs: dict, actions: dict, states: np.ndarray | None) -> None:
        if self._done:
            raise DataFormatError(f"{self._where()}: the demo is already committed or aborted")
        try:
            for k, v in obs.items():
                if S.OBS_KEYS[k].kind == "lowdim":
                    self._low.setdefault(k, []).append(v)
                else:
                    self._buffer_image(k, v)
                self._n[k] = self._n.get(k, 0) + T
            for k, v in actions.items():
                self._act.setdefault(k, []).append(v)
            if states is not None:
                self._states.append(states)
        except BaseException:
            self.abort()
            raise

    def _buffer_image(self, k: str, v: np.ndarray) -> None:
        buf = self._buf.setdefault(k, [])
        buf.append(v)
        if sum(len(b) for b in buf) >= self.chunk_steps:
            self._flush(k)

    def _flush(self, k: str) -> None:
        buf = self._buf.get(k)
        if not buf:
            return
        block = buf[0] if len(buf) == 1 else np.concatenate(buf)
        self._buf[k] = []
        ds = self._img.get(k)
        if ds is None:
            ds = self._img[k] = self._obs_g.create_dataset(
                k, shape=(0,) + block.shape[1:], maxshape=(None,) + block.shape[1:], dtype=block.dtype,
                chunks=(1,) + block.shape[1:], **self._image_kw)
        n = ds.shape[0]
        ds.resize(n + len(block), axis=0)
        ds[n:] = block

    def read(self, key: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Steps start..stop-1 of an obs key appended so far (a second pass over a take:
        e.g. masks computed from the frames after recording)."""
        if key not in self._n:
            raise DataFormatError(f"{self._where()}: obs[{key!r}] has not been appended")
        if S.OBS_KEYS[key].kind == "lowdim":
            return np.concatenate(self._low[key])[start:stop]
        self._flush(key)
        return self._img[key][start:stop]

    # ---- ending ----
    @property
    def steps(self) -> int:
        """Steps appended so far (of the key with the most)."""
        return max(self._n.values(), default=0)

    def commit(self, attrs: dict | None = None) -> str:
        """Check that every key has the same number of steps T >= 1 and that the schema's
        required keys are there, write the low-dim arrays, `num_samples` and the file's
        `total`, and commit the demo to the file; return its name. attrs: more demo
        attributes (e.g. the operator's notes, known only at the end)."""
        if self._done:
            raise DataFormatError(f"{self._where()}: the demo is already committed or aborted")
        info, schema = self.info, self.w.schema
        try:
            where = self._where()
            for k in schema.required_obs_for(info.arms):
                if k not in self._n:
                    raise DataFormatError(f"{where}: obs lacks {k!r}, required in {info.domain} files with arms "
                                          f"{list(info.arms)}")
            T = self._n.get(S.FRONT, 0)
            if T < 1:
                raise DataFormatError(f"{where}: a demo needs at least one step ({S.FRONT} has 0)")
            for k, n in self._n.items():
                if n != T:
                    raise DataFormatError(f"{where}: obs[{k!r}] has {n} steps, {S.FRONT} {T}")
            for k in schema.stored_actions:
                n = sum(len(b) for b in self._act.get(k, []))
                if n != T:
                    raise DataFormatError(f"{where}: actions[{k!r}] has {n} steps, {S.FRONT} {T}")
            n_states = sum(len(b) for b in self._states)
            if self._states and n_states != T:
                raise DataFormatError(f"{where}: states has {n_states} steps, {S.FRONT} {T}")
            for k in list(self._buf):
                self._flush(k)
            g = self._g
            g.attrs[S.ATTR_NUM_SAMPLES] = T
            for k, v in {**self._attrs, **(attrs or {})}.items():
                g.attrs[k] = json.dumps(v, default=_jsonable) if isinstance(v, (dict, list, tuple)) else v
            low = {k: np.concatenate(v) for k, v in self._low.items()}
            for k, v in low.items():
                self._obs_g.create_dataset(k, data=v)
            acts = {schema.stored_actions[k]: np.concatenate(v) for k, v in self._act.items()}
            for k, v in acts.items():
                g.create_dataset(k, data=v)
            if self._states:
                g.create_dataset(S.STATES, data=np.concatenate(self._states))
            if info.prestacked:
                _write_prestacked(g, info, low, acts)
            data = self._f[S.DATA]
            data.attrs[S.ATTR_TOTAL] = int(data.attrs.get(S.ATTR_TOTAL, 0)) + T
            self._f.close()
        except BaseException:
            self._close_abort()
            raise
        self._done = True
        self._jf.commit()
        return self.name

    def raw_group(self) -> h5py.Group:
        """The demo's HDF5 group, for arrays the schema does not know (converters keep
        foreign arrays verbatim under a subgroup); written with the demo's commit."""
        return self._g

    def abort(self) -> None:
        """Drop the demo: the file goes back to its state before `begin_demo`."""
        if not self._done:
            self._close_abort()

    def _close_abort(self) -> None:
        self._done = True
        try:
            f = getattr(self, "_f", None)
            if f is not None and f.id.valid:
                f.close()
        finally:
            self._jf.abort()

    def __enter__(self) -> "DemoStream":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if not self._done:
            self.abort()


def _write_prestacked(g: h5py.Group, info: S.FileInfo, obs: dict, actions: dict) -> None:
    """EgoMimic's pre-stacked keys: chunks (T, 100, D) and their every-10th subsample (T, 10, D).

    obs: the demo's low-dim obs {key: (T, D)}; actions: {stored key: array}."""
    if info.domain == "robot":
        chunks = {S.JOINTS_ACT: S.prestack(actions[S.ACTIONS_STEP]), S.XYZ_ACT: S.prestack(obs[S.EE_POSE])}
    else:
        chunks = {}  # the human chunk key is the stored one already
        chunks_xyz = actions[S.XYZ_ACT]
        g.create_dataset(S.XYZ_SUB, data=chunks_xyz[:, ::S.SUBSAMPLED])
    for k, v in chunks.items():
        g.create_dataset(k, data=v)
        g.create_dataset(S.JOINTS_SUB if k == S.JOINTS_ACT else S.XYZ_SUB, data=v[:, ::S.SUBSAMPLED])


def plain_value(v):
    """An HDF5 attribute value as plain Python (bytes -> str, numpy scalars and arrays -> numbers
    and lists), for JSON."""
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
