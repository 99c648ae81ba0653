"""Training on EgoMimic's own files (no calibration in them): the validation video runs
without a preset (green and red drawn, purple skipped with one warning line) and draws
purple with the `egomimic` preset (EgoMimic's published extrinsics)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from egomimic_files import write_egomimic_robot  # noqa: E402

from egogym.cli import main  # noqa: E402
from egogym.core.kinematics import pinch_in_camera  # noqa: E402
from egogym.core.spec import EGOMIMIC  # noqa: E402
from egogym.data.presets import EGOMIMIC_CAM_POSE_IN_BASE_JUL29, resolve_calibration  # noqa: E402
from egogym.data.schema import DataFormatError  # noqa: E402


@pytest.fixture()
def egomimic_robot(tmp_path):
    p = tmp_path / "bowlplace_robot.hdf5"
    write_egomimic_robot(p, size=(32, 32))
    return p


def test_overlapping_masks_one_line_then_split_then_train(egomimic_robot, tmp_path, capsys):
    run = ["train", "--preset", "smoke", "--robot", str(egomimic_robot), "--steps", "2", "--no-progress"]
    assert main(run + ["--out", str(tmp_path / "r0")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "share" in err[0] and "egogym split" in err[0]
    assert main(["split", str(egomimic_robot), "--valid-fraction", "0.25"]) == 0
    capsys.readouterr()
    # no calibration: trains, writes videos, warns once about purple
    assert main(run + ["--out", str(tmp_path / "r1"), "--splits", "demo_train", "demo_valid"]) == 0
    err = capsys.readouterr().err
    assert err.count("skips purple") == 1 and "Traceback" not in err
    assert list((tmp_path / "r1" / "videos").glob("*_robot.mp4"))
    # the egomimic preset: purple drawn, no warning
    assert main(run + ["--out", str(tmp_path / "r2"), "--calibration", "egomimic"]) == 0
    assert "skips purple" not in capsys.readouterr().err
    assert list((tmp_path / "r2" / "videos").glob("*_robot.mp4"))


def test_unknown_preset_is_one_line(egomimic_robot, tmp_path, capsys):
    from egogym.data.commands import split_file

    split_file(egomimic_robot, 0.25)
    assert main(["train", "--preset", "smoke", "--robot", str(egomimic_robot), "--out", str(tmp_path / "r"),
                 "--steps", "1", "--calibration", "egomimc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'egomimic'" in err[0]


def test_preset_matches_egomimics_projection():
    """EgoMimic maps base points with inv(E); egogym's T_cam_base must be that inverse, and its
    intrinsics project like EgoMimic's ARIA_INTRINSICS (focal 266.5086 px, centre (320, 240))."""
    cal = resolve_calibration("egomimic")
    p_base = np.array([0.3, -0.1, 0.2])
    for arm, E in EGOMIMIC_CAM_POSE_IN_BASE_JUL29.items():
        E = np.array(E)
        want = (np.linalg.inv(E) @ np.append(p_base, 1.0))[:3]
        got = (cal.T_cam_base[arm] @ np.append(p_base, 1.0))[:3]
        assert np.allclose(got, want, atol=1e-12)
    K = cal.K("front_img_1")
    assert np.isclose(K[0, 0], 266.50860444) and tuple(K[:2, 2]) == (320.0, 240.0)
    # the preset drives FK into pixels for both arms
    arms = tuple(EGOMIMIC.arm(a) for a in ("left", "right"))
    assert np.isfinite(pinch_in_camera(arms, cal, np.zeros(14))).all()
    with pytest.raises(DataFormatError, match="no such file"):
        resolve_calibration("missing.json")


def test_cotrain_on_egomimic_robot_and_human_files(tmp_path, capsys):
    """The walkthrough's debug run: EgoMimic's robot + human files together (after split repair),
    checkpoints and validation videos for both domains; and the same on the converted files."""
    from egomimic_files import write_egomimic_human

    robot, human = tmp_path / "bowlplace_robot.hdf5", tmp_path / "bowlplace_human.hdf5"
    write_egomimic_robot(robot, size=(32, 32))
    write_egomimic_human(human, size=(32, 32), mask_key=False)
    assert main(["split", str(robot), "--valid-fraction", "0.25"]) == 0
    base = ["train", "--preset", "smoke", "--steps", "2", "--no-progress", "--splits", "demo_train", "demo_valid"]
    assert main(["split", str(human), "--valid-fraction", "0.34"]) == 0
    assert main(base + ["--robot", str(robot), "--human", str(human), "--out", str(tmp_path / "co"),
                        "--calibration", "egomimic"]) == 0
    out = capsys.readouterr()
    assert "co-training robot + human" in out.out and "Traceback" not in out.err
    assert {p.name for p in (tmp_path / "co" / "videos").glob("*.mp4")} >= {"step_00000002_robot.mp4",
                                                                          "step_00000002_human.mp4"}
    assert (tmp_path / "co" / "LATEST").exists()
    # converted files carry their calibration: no flag needed, and none allowed for both
    rc, hc = tmp_path / "robot.hdf5", tmp_path / "human.hdf5"
    assert main(["convert", "egomimic", str(robot), "--out", str(rc), "--no-progress"]) == 0
    assert main(["convert", "egomimic", str(human), "--out", str(hc), "--no-progress",
                 "--calibration", "egomimic-aria"]) == 0
    capsys.readouterr()
    assert main(base + ["--robot", str(rc), "--human", str(hc), "--out", str(tmp_path / "co2")]) == 0
    assert "skips purple" not in capsys.readouterr().err
    assert main(base + ["--robot", str(rc), "--human", str(hc), "--out", str(tmp_path / "co3"),
                        "--calibration", "egomimic"]) == 2
    assert "every data file carries its own calibration" in capsys.readouterr().err
