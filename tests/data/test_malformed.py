"""A corpus of malformed files: each gives its one-line error and stays untouched."""
import warnings

import h5py
import numpy as np
import pytest

from egogym.cli import main
from egogym.data import schema as S
from egogym.data.commands import validate_file
from egogym.data.export import export_egomimic
from egogym.data.reader import EgoDataset
from egogym.data.schema import DataFormatError

from data_helpers import sha, write_robot_file


def _set(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


def _replace(f, key, value):
    del f[key]
    f.create_dataset(key, data=value)


def _truncate(path):
    b = path.read_bytes()
    path.write_bytes(b[: len(b) // 2])


CASES = {
    # name: (mutation of a valid 2-demo robot file, substring of validate's line, reader raises too)
    "no_data_group": (lambda p: _set(p, lambda f: f.move("data", "dada")), "no 'data' group", True),
    "wrong_version": (lambda p: _set(p, lambda f: f["data"].attrs.__setitem__(S.ATTR_VERSION, 99)),
                      "format version 99", True),
    "version_not_int": (lambda p: _set(p, lambda f: f["data"].attrs.__setitem__(S.ATTR_VERSION, "one")),
                        "is not an integer", True),
    "bad_domain": (lambda p: _set(p, lambda f: f["data"].attrs.__setitem__(S.ATTR_DOMAIN, "cat")), "'cat'", True),
    "bad_arms": (lambda p: _set(p, lambda f: f["data"].attrs.__setitem__(S.ATTR_ARMS, '["middle"]')), "middle", True),
    "no_calibration_attr": (lambda p: _set(p, lambda f: f["data"].attrs.__delitem__(S.ATTR_CALIBRATION)),
                            "lacks 'calibration'", True),
    "calibration_bad_json": (lambda p: _set(p, lambda f: f["data"].attrs.__setitem__(S.ATTR_CALIBRATION, "{oops")),
                             "malformed JSON", True),
    "missing_obs_group": (lambda p: _set(p, lambda f: f.move("data/demo_1/obs", "data/demo_1/obz")),
                          "data/demo_1 has no 'obs' group", True),
    "missing_line_key": (lambda p: _set(p, lambda f: f.__delitem__("data/demo_0/obs/front_img_1_line")),
                         "obs/front_img_1_line is missing", True),
    "joint_positions_shape": (lambda p: _set(p, lambda f: _replace(f, "data/demo_0/obs/joint_positions", np.zeros((5, 6)))),
                              "joint_positions has shape (5, 6)", True),
    "image_dtype": (lambda p: _set(p, lambda f: _replace(f, "data/demo_1/obs/right_wrist_img",
                                                         np.zeros((9, 24, 32, 3), np.float32))),
                    "right_wrist_img has dtype float32", True),
    "nan_ee_pose": (lambda p: _set(p, lambda f: f["data/demo_0/obs/ee_pose"].__setitem__((2, 1), np.nan)),
                    "ee_pose holds NaN", False),
    "inf_actions": (lambda p: _set(p, lambda f: f["data/demo_1/actions"].__setitem__((0, 0), np.inf)),
                    "actions holds NaN or inf", False),
    "missing_actions": (lambda p: _set(p, lambda f: f.__delitem__("data/demo_1/actions")),
                        "demo_1/actions is missing", True),
    "actions_shape": (lambda p: _set(p, lambda f: _replace(f, "data/demo_0/actions", np.zeros((5, 14)))),
                      "actions has shape (5, 14)", True),
    "num_samples": (lambda p: _set(p, lambda f: f["data/demo_0"].attrs.__setitem__(S.ATTR_NUM_SAMPLES, 7)),
                    "num_samples", True),
    "overlapping_splits": (lambda p: _set(p, lambda f: (f.create_dataset("mask/train", data=[b"demo_0", b"demo_1"]),
                                                       f.create_dataset("mask/valid", data=[b"demo_1"]))),
                           "share 1 demo(s) (first demo_1)", True),
    "mask_names_unknown_demo": (lambda p: _set(p, lambda f: (f.create_dataset("mask/train", data=[b"demo_7"]),
                                                            f.create_dataset("mask/valid", data=[b"demo_1"]))),
                                "names 'demo_7'", True),
    "truncated": (_truncate, "not a readable HDF5 file", True),
    "not_hdf5": (lambda p: p.write_text("hello"), "not a readable HDF5 file", True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_file(tmp_path, name):
    mutate, expected, reader_raises = CASES[name]
    p = tmp_path / "bad.hdf5"
    write_robot_file(p, lengths=(5, 9))
    mutate(p)
    before = sha(p)
    problems, _ = validate_file(p)
    assert problems, name
    assert any(expected in line for line in problems), problems
    assert all("\n" not in line for line in problems)
    if reader_raises:
        split = "train" if "mask" in name or "split" in name else "all"
        with pytest.raises(DataFormatError) as e:
            EgoDataset(p, split=split)
        assert "\n" not in str(e.value) and str(p) in str(e.value)
    assert sha(p) == before, "the file was modified"


def test_validate_cli_exit_code_and_one_line_per_problem(tmp_path, capsys):
    p = tmp_path / "bad.hdf5"
    write_robot_file(p, lengths=(5, 9))
    CASES["nan_ee_pose"][0](p)
    CASES["overlapping_splits"][0](p)
    assert main(["validate", str(p)]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].endswith("2 problem(s)")


def test_egomimic_layout_defects(tmp_path):
    """EgoMimic's public robot files: overlapping masks (an error), demo_train/demo_valid
    (usable), a broken chunk schedule (caught by validate)."""
    src, p = tmp_path / "r.hdf5", tmp_path / "egomimic.hdf5"
    write_robot_file(src, lengths=(5, 9, 12))
    export_egomimic(src, p)
    _set(p, lambda f: (f.create_dataset("mask/train", data=[b"demo_0", b"demo_1", b"demo_2"]),
                       f.create_dataset("mask/valid", data=[b"demo_2"]),
                       f.create_dataset("mask/demo_train", data=[b"demo_0", b"demo_1"]),
                       f.create_dataset("mask/demo_valid", data=[b"demo_2"])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataFormatError, match="share 1 demo"):
            EgoDataset(p, "train")
        assert EgoDataset(p, "demo_train", calibration="egomimic-aria").demos == ["demo_0", "demo_1"]
    assert any("share" in x for x in validate_file(p)[0])
    _set(p, lambda f: f["data/demo_2/actions_joints_act"].__setitem__((3, 4), 9.0))
    assert any("every-2nd-step schedule" in x for x in validate_file(p)[0])
    with h5py.File(p) as f:
        assert f["data"].attrs["env_args"] == "{}" and f["mask/demo_train"].dtype.kind in "SO"
