"""Tiny egogym HDF5 files (robot and human) written with the data layer's DemoWriter.

Small enough for tests (3 demos x 24 steps, 32x32 images), real enough to go through
EgoDataset, NormStats.compute and `egogym train` exactly as collected files do.
Images encode the demo's target (brightness / colour) so the chunks are learnable.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from egogym.data.commands import split_file
from egogym.data.writer import DemoWriter
from egogym.policies.synthetic import synthetic_calibration

import pytest
import torch

torch.set_num_threads(2)

SIZE = (32, 32)


def _images(T: int, level: float, shade: int) -> np.ndarray:
    img = np.zeros((T, *SIZE, 3), np.uint8)
    img[:, :, : SIZE[1] // 2] = int(255 * level)
    img[:, :, SIZE[1] // 2:, 1] = np.linspace(0, 255, T, dtype=np.uint8)[:, None, None]
    img[:, :, SIZE[1] // 2:, 2] = shade
    return img


def write_tiny_files(folder: Path, demos: int = 4, T: int = 24) -> tuple[Path, Path]:
    """robot.hdf5 and human.hdf5 in folder, each with disjoint train/valid masks."""
    folder = Path(folder)
    cal = synthetic_calibration(SIZE)
    robot, human = folder / "robot.hdf5", folder / "human.hdf5"
    rng = np.random.default_rng(0)
    with DemoWriter(robot, "robot", cal, arms="right", control_hz=50, image_size=SIZE, env_args={"tiny": 1}) as w:
        for d in range(demos):
            level = (d + 1) / (demos + 1)
            s = np.linspace(0, 1, T)[:, None]
            q0, q1 = rng.uniform(-0.5, 0.5, 7), rng.uniform(-0.5, 0.5, 7) + level
            q = (1 - s) * q0 + s * q1
            q[:, 6] = np.clip(q[:, 6], 0, 1)
            ee = np.concatenate([0.1 * q[:, :2], 0.5 + 0.1 * q[:, 2:3]], axis=1)
            obs = {"front_img_1": _images(T, level, 0), "front_img_1_masked": _images(T, level, 60),
                   "front_img_1_line": _images(T, level, 120), "right_wrist_img": _images(T, 1 - level, 30),
                   "joint_positions": q, "ee_pose": ee}
            w.write_demo(obs, {"joints": q})
    with DemoWriter(human, "human", cal, arms="right", control_hz=30, image_size=SIZE, env_args={"tiny": 1}) as w:
        for d in range(demos):
            level = (d + 1) / (demos + 1)
            start = rng.uniform(-0.05, 0.05, 3) + [0, 0, 0.5]
            ee = start + np.linspace(0, 0.05, T)[:, None] * [1, level, 0]
            s = np.linspace(0, 1, 100)[None, :, None]
            chunks = ee[:, None] + s * (0.1 * level)
            obs = {"front_img_1": _images(T, level, 0), "front_img_1_masked": _images(T, level, 60),
                   "front_img_1_line": _images(T, level, 120), "front_img_1_mask": np.zeros((T, *SIZE), bool),
                   "ee_pose": ee}
            w.write_demo(obs, {"xyz_act": chunks})
    split_file(robot, 0.25, seed=0)
    split_file(human, 0.25, seed=0)
    return robot, human


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory):
    """(robot.hdf5, human.hdf5): tiny real egogym files with train/valid masks."""
    return write_tiny_files(tmp_path_factory.mktemp("tiny_data"))
