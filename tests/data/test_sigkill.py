"""A recording killed with SIGKILL leaves a file that opens and holds every finished demo."""
import textwrap

import numpy as np
import pytest

from egogym.data import schema as S
from egogym.data.journal import journal_path
from egogym.data.reader import EgoDataset

from data_helpers import kill_and_read, robot_demo, sha, spawn_writer, write_robot_file, writer

WRITER = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {here!r})
    from data_helpers import writer, robot_demo
    from egogym.data import schema as S
    with writer(sys.argv[1]) as w:
        for i in range(10000):
            obs, act = robot_demo(int(40 + 37 * (i % 5)), np.random.default_rng(i))
            obs[S.JOINT_POSITIONS][:] = i  # identifies the demo
            print(w.write_demo(obs, act), flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.013, 0.031])
def test_sigkill_mid_recording_keeps_finished_demos(tmp_path, delay):
    p = tmp_path / "r.hdf5"
    proc = spawn_writer(WRITER, tmp_path, p)
    finished = []
    while len(finished) < 3:  # let it commit a few demos, then kill it at some point of the next ones
        line = proc.stdout.readline()
        assert line, "writer died"
        finished.append(line.strip())
    finished, ds = kill_and_read(proc, delay, finished)
    assert not journal_path(p).exists()
    # every demo it reported is there, complete; at most one more (killed after commit, before print)
    assert ds.demos[: len(finished)] == finished and len(ds.demos) - len(finished) in (0, 1)
    for i, d in enumerate(ds.demos):
        assert (ds.lowdim(d)[S.JOINT_POSITIONS] == i).all()
        ds[int(np.flatnonzero(np.array(ds._demo_of) == i)[-1])]  # the last frame decodes
    # and the file can be appended to again
    with writer(p) as w:
        assert w.write_demo(*robot_demo(3, np.random.default_rng(0))) == f"demo_{len(ds.demos)}"


def test_exception_mid_write_rolls_back(tmp_path, monkeypatch):
    p = tmp_path / "r.hdf5"
    write_robot_file(p, lengths=(4,))
    before = sha(p)
    obs, act = robot_demo(5, np.random.default_rng(0))
    import h5py

    real = h5py.Group.create_dataset
    calls = []

    def failing(self, name, *a, **kw):
        calls.append(name)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(self, name, *a, **kw)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with writer(p) as w, pytest.raises(RuntimeError, match="disk full"):
        w.write_demo(obs, act)
    monkeypatch.undo()
    assert sha(p) == before and not journal_path(p).exists()
    assert EgoDataset(p, split="all").demos == ["demo_0"]
