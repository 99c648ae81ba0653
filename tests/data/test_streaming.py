"""Streaming writes (DemoWriter.begin_demo): the same file content as write_demo, bounded
buffers, one-line errors at commit, and a process killed mid-demo keeps every finished demo."""
import textwrap

import h5py
import numpy as np
import pytest

from egogym.data import schema as S
from egogym.data.journal import journal_path
from egogym.data.reader import EgoDataset
from egogym.data.schema import DataFormatError

from data_helpers import human_demo, kill_and_read, robot_demo, sha, spawn_writer, writer


def _arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


@pytest.mark.parametrize("chunk_steps", [1, 3, 64])
@pytest.mark.parametrize("prestacked", [False, True])
def test_stream_equals_write_demo(tmp_path, chunk_steps, prestacked):
    rng = np.random.default_rng(0)
    obs, act = robot_demo(23, rng)
    states = rng.normal(size=(23, 5))
    a, b = tmp_path / "a.hdf5", tmp_path / "b.hdf5"
    with writer(a, write_prestacked=prestacked) as w:
        w.write_demo(obs, act, attrs={"seed": 1}, states=states)
    with writer(b, write_prestacked=prestacked) as w:
        with w.begin_demo({"seed": 1}, chunk_steps=chunk_steps) as st:
            for t in range(23):
                st.append({k: v[t] for k, v in obs.items()}, {"joints": act["joints"][t]}, states[t])
            assert st.commit() == "demo_0"
    A, B = _arrays(a), _arrays(b)
    assert A.keys() == B.keys()
    for k in A:
        assert np.array_equal(A[k], B[k]) and A[k].dtype == B[k].dtype, k
    ds = EgoDataset(b, split="all")
    assert ds.lengths == [23] and np.array_equal(ds[22][S.FRONT], obs[S.FRONT][22])


def test_human_stream_and_late_keys(tmp_path):
    """Raw frames during a take, masks in a second pass (as teleop does), attrs at commit."""
    obs, act = human_demo(9, np.random.default_rng(1))
    p = tmp_path / "h.hdf5"
    with writer(p, "human") as w, w.begin_demo() as st:
        for t in range(9):
            st.append({S.FRONT: obs[S.FRONT][t], S.EE_POSE: obs[S.EE_POSE][t]}, {"xyz_act": act["xyz_act"][t]})
        for k in (S.FRONT_MASKED, S.FRONT_LINE, S.FRONT_MASK):
            st.extend_key(k, obs[k])
        st.commit({"notes": "kept"})
    ds = EgoDataset(p, split="all")
    assert np.array_equal(ds[4][S.FRONT_MASK], obs[S.FRONT_MASK][4])
    assert np.array_equal(ds[8][S.XYZ_ACT], act["xyz_act"][8])
    with h5py.File(p) as f:
        assert f["data/demo_0"].attrs["notes"] == "kept"


def test_commit_errors_roll_back(tmp_path):
    p = tmp_path / "r.hdf5"
    obs, act = robot_demo(6, np.random.default_rng(2))
    with writer(p) as w:
        w.write_demo(obs, act)
    before = sha(p)
    with writer(p) as w:
        st = w.begin_demo()
        st.extend({k: v for k, v in obs.items() if k != S.FRONT_LINE}, act)
        with pytest.raises(DataFormatError, match="lacks 'front_img_1_line'"):
            st.commit()
        st = w.begin_demo()
        st.extend(obs, act)
        st.extend_key(S.FRONT_LINE, obs[S.FRONT_LINE][:2])
        with pytest.raises(DataFormatError, match="has 8 steps"):
            st.commit()
        with pytest.raises(DataFormatError, match="expected"):
            with w.begin_demo() as st:
                st.append({S.FRONT: obs[S.FRONT][0][:, :5]})
    assert sha(p) == before and not journal_path(p).exists()
    with writer(p) as w:
        with pytest.raises(DataFormatError, match="exists"):
            w.begin_demo(name="demo_0")
        assert w.write_demo(obs, act, name="demo_10") == "demo_10"
        assert w.write_demo(obs, act) == "demo_11"


STREAMER = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {here!r})
    from data_helpers import writer, robot_demo
    from egogym.data import schema as S
    with writer(sys.argv[1]) as w:
        for i in range(10000):
            obs, act = robot_demo(50, np.random.default_rng(i))
            obs[S.JOINT_POSITIONS][:] = i
            with w.begin_demo(chunk_steps=4) as st:
                for t in range(50):
                    st.append({{k: v[t] for k, v in obs.items()}}, {{"joints": act["joints"][t]}})
                    if i >= 2 and t == 20:
                        print("mid", flush=True)
                print(st.commit(), flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.02])
def test_sigkill_mid_stream_keeps_finished_demos(tmp_path, delay):
    p = tmp_path / "r.hdf5"
    proc = spawn_writer(STREAMER, tmp_path, p)
    finished = []
    while True:
        line = proc.stdout.readline().strip()
        assert line, "streamer died"
        if line == "mid":
            break
        finished.append(line)
    finished, ds = kill_and_read(proc, delay, finished)
    assert not journal_path(p).exists()
    assert ds.demos[: len(finished)] == finished and len(ds.demos) - len(finished) in (0, 1)
    assert all(n == 50 for n in ds.lengths)
    for i, d in enumerate(ds.demos):
        assert (ds.lowdim(d)[S.JOINT_POSITIONS] == i).all()
    with writer(p) as w:
        assert w.write_demo(*robot_demo(3, np.random.default_rng(0))) == f"demo_{len(ds.demos)}"
