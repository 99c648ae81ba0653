"""`egogym collect` on the MuJoCo twin, then validate, read, export and inspect the file."""
import h5py
import numpy as np
import pytest

from egogym.cli import main
from egogym.data import schema as S
from egogym.pipelines.collect import collect_robot
from egogym.data.commands import validate_file
from egogym.core.views import RED
from egogym.data.reader import EgoDataset

from data_helpers import human_demo, writer


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    p = tmp_path_factory.mktemp("collect") / "robot.hdf5"
    names = collect_robot("object_in_bowl", 2, 7, p, image_size=(32, 48), max_steps=12, progress=False)
    return p, names


def test_collect_records_the_robot_keys(recorded):
    p, names = recorded
    assert names == ["demo_0", "demo_1"]
    assert validate_file(p)[0] == []
    ds = EgoDataset(p, split="all")
    assert len(ds) == 24 and ds.calibration.image_sizes[S.FRONT] == (32, 48)
    with h5py.File(p) as f:
        g = f["data/demo_1"]
        assert g.attrs["seed"] == 8 and g.attrs["episode"] == 1 and g.attrs["steps"] == 12
        raw, masked, line = (g["obs"][k][()] for k in (S.FRONT, S.FRONT_MASKED, S.FRONT_LINE))
        states = g[S.STATES][()]
        assert states.shape[0] == 12 and g.attrs[S.ATTR_STATE_NQ] < states.shape[1]
        actions = g[S.ACTIONS_STEP][()]
    black = np.all(masked == 0, axis=-1)
    assert black.any() and np.array_equal(masked[~black], raw[~black])  # only the arm is blacked out
    assert np.all(line == RED, axis=-1).any()  # the red line is drawn
    # commands are joint targets within the limits; the arm follows them
    q = ds.lowdim("demo_1")[S.JOINT_POSITIONS]
    assert np.abs(actions[:-1, :6] - q[1:, :6]).mean() < 0.2


def test_collect_resume_and_errors(recorded, tmp_path):
    p, _ = recorded
    q = tmp_path / "r.hdf5"
    q.write_bytes(p.read_bytes())
    assert collect_robot("object_in_bowl", 3, 7, q, image_size=(32, 48), max_steps=5, resume=True,
                         progress=False) == ["demo_2"]
    with h5py.File(q) as f:
        assert f["data/demo_2"].attrs["seed"] == 9
    assert main(["collect", "--episodes", "3", "--out", str(q), "--image-size", "32", "48"]) == 2
    assert main(["collect", "--episodes", "4", "--seed", "1", "--out", str(q), "--resume",
                 "--image-size", "32", "48"]) == 2  # another seed base


def test_inspect_commands(recorded, tmp_path, capsys):
    p, _ = recorded
    assert main(["inspect", "tree", str(p), "--max-items", "3"]) == 0
    out = capsys.readouterr().out
    assert "egogym format v1" in out and "stopped at --max-items 3" in out
    png = tmp_path / "x.png"
    assert main(["inspect", "image", str(p), "--demo", "demo_0", "--key", "obs/front_img_1_line",
                 "--index", "3", "--out", str(png)]) == 0
    from PIL import Image
    with h5py.File(p) as f:
        assert np.array_equal(np.asarray(Image.open(png)), f["data/demo_0/obs/front_img_1_line"][3])
    assert main(["inspect", "image", str(p), "--demo", "demo_0", "--key", "obs/front_img_1",
                 "--out", str(png)]) == 2  # an existing output is never overwritten
    assert "exists" in capsys.readouterr().err
    assert main(["inspect", "image", str(p), "--demo", "demo_0", "--key", "obs/joint_positions",
                 "--out", str(tmp_path / "y.png")]) == 2
    assert "not an image" in capsys.readouterr().err
    human = tmp_path / "human.hdf5"
    rng = np.random.default_rng(0)
    with writer(human, "human") as w:
        for T in (40, 50):
            w.write_demo(*human_demo(T, rng))
    assert main(["inspect", "actions", "--human", str(human), "--robot", str(p), "--dim", "1",
                 "--out-dir", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "action_distribution_after.png").stat().st_size > 1000
    assert main(["inspect", "actions", "--human", str(p), "--robot", str(human), "--dim", "1",
                 "--out-dir", str(tmp_path / "plots")]) == 2
    assert "were --human and --robot swapped?" in capsys.readouterr().err
    assert main(["inspect", "actions", "--human", str(human), "--robot", str(p), "--dim", "5",
                 "--out-dir", str(tmp_path / "plots")]) == 2
