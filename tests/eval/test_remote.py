"""Remote policies over openpi's websocket protocol, on localhost: `egogym serve` + `--policy ws://`.

A served checkpoint gives the same actions and the same episode records as the checkpoint
in-process; a server that is down at the start is one line (exit 2); a server killed
mid-episode gives an aborted record with the reason and the later episodes still run; a
query the server does not answer within the timeout aborts its episode, and the latency of
every query is in the records. Faults are injected at a chosen query (tests/eval/remote_fakes.py),
and every timeout is generous, so nothing here depends on the machine's speed.
"""
from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("websockets", reason="remote policies need the remote extra (pip install -e '.[remote]')")
pytest.importorskip("msgpack", reason="remote policies need the remote extra (pip install -e '.[remote]')")

from egogym.cli import main  # noqa: E402
from egogym.eval.config import EvalConfig  # noqa: E402
from egogym.eval.loop import evaluate  # noqa: E402
from egogym.eval.records import comparable, read_records  # noqa: E402
from egogym.policies.remote import pack, unpack  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from remote_fakes import HoldServer  # noqa: E402

SMALL = dict(image_size=(32, 32), max_steps=60)  # 60 steps at 50 Hz: queries at steps 0 and 50 (first 25 points, held 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A server subprocess whose stdout lines are read in a thread (waits never block the test forever)."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def line(self, timeout: float = 300) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"the server printed nothing in {timeout} s; stderr: {self.proc.stderr.read()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(60)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A smoke-preset checkpoint trained on synthetic data at 32x32 (as tests/policies/test_policy.py)."""
    pytest.importorskip("torch", reason="training needs the train extra")
    from egogym.policies.synthetic import train_synthetic_run

    return train_synthetic_run(tmp_path_factory.mktemp("remote") / "run")


@pytest.fixture(scope="module")
def served(run):
    """`egogym serve RUN --port 0` in a subprocess; yields its ws:// address."""
    p = Process([sys.executable, "-m", "egogym.cli", "serve", str(run), "--port", "0", "--host", "127.0.0.1"])
    line = p.line()
    port = int(line.split("ws://127.0.0.1:")[1].split(";")[0])
    yield f"ws://127.0.0.1:{port}"
    p.stop()


def test_msgpack_numpy_is_openpis_layout():
    """The bytes openpi's msgpack_numpy writes for an array: a map with b"__ndarray__", data, dtype, shape."""
    import msgpack

    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    raw = msgpack.unpackb(pack({"img": a, "x": np.float32(1.5)}))
    assert raw["img"] == {b"__ndarray__": True, b"data": a.tobytes(), b"dtype": "|u1", b"shape": [2, 3]}
    assert raw["x"] == {b"__npgeneric__": True, b"data": 1.5, b"dtype": "<f4"}
    back = unpack(pack({"img": a, "nested": {"q": np.linspace(0, 1, 7)}}))
    np.testing.assert_array_equal(back["img"], a)
    assert back["img"].dtype == np.uint8 and back["img"].flags.writeable
    np.testing.assert_array_equal(back["nested"]["q"], np.linspace(0, 1, 7))
    with pytest.raises(TypeError, match="object"):
        pack({"bad": np.array([object()])})


def test_served_checkpoint_gives_the_in_process_actions(run, served):
    """Step by step, the remote policy's actions are the in-process policy's (same chunks, same schedule)."""
    import torch

    from egogym.core.spec import EGOMIMIC
    from egogym.policies import connect_remote, load_policy
    from egogym.policies.config import default_threads
    from egogym.policies.synthetic import synthetic_calibration

    torch.set_num_threads(default_threads(1))  # the server's threads (egogym serve's default)

    class Env:  # what both policies read of an EgoEnv
        arms, robot, image_size = ("right",), EGOMIMIC, (32, 32)
        calibration = synthetic_calibration((32, 32))
        action_space = gym.spaces.Box(-4, 4, (7,), np.float64)
        observation_space = gym.spaces.Dict({k: gym.spaces.Box(0, 255, (32, 32, 3), np.uint8) for k in
                                             ("front_img_1", "front_img_1_line", "right_wrist_img")}
                                            | {"joint_positions": gym.spaces.Box(-4, 4, (7,), np.float64)})

    env = Env()
    local, remote = load_policy(run, env), connect_remote(served, env)
    assert "first 25 points" in remote.schedule and "metadata" in remote.schedule
    rng = np.random.default_rng(0)
    try:
        for episode in range(2):
            local.reset()
            remote.reset()
            for t in range(110):
                obs = {k: (rng.integers(0, 255, s.shape).astype(np.uint8) if s.dtype == np.uint8
                           else rng.uniform(-0.5, 0.5, s.shape)) for k, s in env.observation_space.spaces.items()}
                assert remote.reads_images() == local.reads_images()
                np.testing.assert_allclose(remote.act(obs), local.act(obs), rtol=0, atol=1e-9)
            assert remote.last_query_step == local.last_query_step == 100
            np.testing.assert_allclose(remote.last_chunk_xyz, local.last_chunk_xyz, atol=1e-9)
            assert remote.query_latency_ms()["n"] == 3
    finally:
        remote.close()


def test_served_checkpoint_gives_the_in_process_records(run, served, tmp_path, capsys):
    seeds = dict(episodes=2, start_seed=700)
    local = evaluate(EvalConfig(policy=str(run), **seeds, **SMALL), tmp_path / "local", progress=False)
    rc = main(["eval", "--policy", served, "--episodes", "2", "--seed", "700", "--image-size", "32", "32",
               "--max-steps", "60", "--out", str(tmp_path / "remote"), "--quiet", "--videos", "1"])
    assert rc == 0, capsys.readouterr().err
    assert len(list((tmp_path / "remote" / "videos").glob("episode_0000_*.mp4"))) == 1  # drawn with the served xyz
    remote, _ = read_records(tmp_path / "remote" / "episodes.jsonl")
    assert comparable(remote) == comparable(local)
    assert [r["status"] for r in remote] == ["done", "done"]
    assert all(r["query_latency_ms"]["n"] == 2 and r["query_latency_ms"]["max"] > 0 for r in remote)
    assert all("query_latency_ms" not in r for r in local)
    import json

    summary = json.loads((tmp_path / "remote" / "summary.json").read_text())
    assert summary["policy"]["kind"].startswith("remote") and summary["policy"]["metadata"]["chunk"] == 100
    assert summary["env"]["cameras"] == ["front_img_1", "front_img_1_line", "right_wrist_img"]


def test_served_checkpoint_refuses_an_observation_it_cannot_read_in_one_line(served):
    """egogym serve answers a bad observation with its error (a text frame, as openpi's server does);
    the client raises it as one line naming the fix. The server goes on serving."""
    from egogym.core.errors import UserError
    from egogym.core.spec import EGOMIMIC
    from egogym.policies import connect_remote

    class Env:
        action_space, robot, image_size = gym.spaces.Box(-4, 4, (7,), np.float64), EGOMIMIC, (32, 32)

    for obs, words in [({"joint_positions": np.zeros(7)}, r"lacks \['front_img_1_line', 'right_wrist_img'\]"),
                       ({k: np.zeros((48, 64, 3), np.uint8) for k in ("front_img_1_line", "right_wrist_img")}
                        | {"joint_positions": np.zeros(7)}, "evaluate with --image-size 32 32")]:
        policy = connect_remote(served, Env())
        with pytest.raises(UserError, match=words) as e:
            policy.act(obs)
        assert "\n" not in str(e.value) and str(e.value).startswith(f"--policy {served}: the server failed")
        policy.close()

    class Bigger(Env):
        image_size = (48, 64)

    with pytest.raises(UserError, match="trained on 32x32 images.*--image-size 32 32"):
        connect_remote(served, Bigger())


def test_server_down_at_start_is_one_line(tmp_path, capsys):
    port = free_port()  # nothing listens there
    rc = main(["eval", "--policy", f"ws://127.0.0.1:{port}?connect=30", "--episodes", "1", "--out",
               str(tmp_path / "e"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "no policy server answers at ws://127.0.0.1:" in err and "egogym serve" in err


def test_bad_urls_are_one_line(tmp_path):
    from egogym.core.errors import UserError

    for url, words in [("ws://127.0.0.1:80?kk=3", "unknown parameter 'kk'"), ("ws://:80", "give ws://HOST:PORT"),
                       ("ws://127.0.0.1:80?timeout=x", "not a number"), ("ws://127.0.0.1:x", "port")]:
        with pytest.raises(UserError, match=words):
            EvalConfig(policy=url)


def test_server_killed_mid_episode_aborts_that_episode_and_the_next_ones_run(tmp_path):
    """3 episodes of 2 queries; the server process dies (os._exit) at query 4, episode 1's second
    (step 50), and is restarted on the same port; episode 2 runs on the new server."""
    first = Process([sys.executable, str(HERE / "remote_fakes.py"), "--port", "0", "--die-at", "4"])
    port = int(first.line().split()[1])
    restarted: list[Process] = []

    def restart():
        first.proc.wait(600)
        restarted.append(Process([sys.executable, str(HERE / "remote_fakes.py"), "--port", str(port)]))

    watcher = threading.Thread(target=restart, daemon=True)
    watcher.start()
    try:
        cfg = EvalConfig(policy=f"ws://127.0.0.1:{port}?reconnect=300", episodes=3, start_seed=10, **SMALL)
        records = evaluate(cfg, tmp_path / "e", progress=False)
    finally:
        watcher.join(60)
        first.stop()
        for p in restarted:
            p.stop()
    assert first.proc.returncode == 1 and len(restarted) == 1
    assert [r["status"] for r in records] == ["done", "aborted", "done"]
    lost = records[1]
    assert lost["reason"].startswith("policy unavailable at step 50: policy server ws://127.0.0.1:")
    assert "connection lost" in lost["reason"] and lost["steps"] == 50
    assert lost["query_latency_ms"]["n"] == 1  # the answered query; the lost one has no round trip
    assert [r["steps"] for r in records] == [60, 50, 60]
    assert records[2]["query_latency_ms"]["n"] == 2


def test_server_that_does_not_come_back_stops_the_evaluation_in_one_line(tmp_path, capsys):
    """The server dies at query 2 (episode 0, step 50) and stays down: episode 0 is recorded as
    aborted, then the next episode's reconnection gives up after ?reconnect=2 s with one line;
    --resume continues after the recorded episode once a server answers again."""
    dead = Process([sys.executable, str(HERE / "remote_fakes.py"), "--port", "0", "--die-at", "2"])
    port = int(dead.line().split()[1])
    url = f"ws://127.0.0.1:{port}?reconnect=2"
    args = ["eval", "--policy", url, "--episodes", "2", "--seed", "30", "--image-size", "32", "32",
            "--max-steps", "60", "--out", str(tmp_path / "e"), "--quiet"]
    try:
        rc = main(args)
    finally:
        dead.stop()
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "did not come back within 2 s" in err and "--resume" in err
    records, _ = read_records(tmp_path / "e" / "episodes.jsonl")
    assert [(r["seed"], r["status"], r["steps"]) for r in records] == [(30, "aborted", 50)]
    again = HoldServer(port=port).start()
    try:
        assert main(args + ["--resume"]) == 0
    finally:
        again.stop()
    records, _ = read_records(tmp_path / "e" / "episodes.jsonl")
    assert [(r["seed"], r["status"]) for r in records] == [(30, "aborted"), (31, "done")]


def test_query_without_answer_within_the_timeout_aborts_its_episode(tmp_path):
    """The 3rd query (episode 1, step 0) is held by the server until the test ends; the client
    gives up after ?timeout=5 s, records the episode as aborted, and episode 2 runs on a new connection."""
    server = HoldServer(block_at=3).start()
    try:
        cfg = EvalConfig(policy=f"ws://127.0.0.1:{server.port}?timeout=5", episodes=3, start_seed=20, **SMALL)
        records = evaluate(cfg, tmp_path / "e", progress=False)
        from egogym.policies import describe_remote

        assert "first 25 points" in describe_remote(cfg.policy)["schedule"]
        assert "EgoMimic's default" in describe_remote(cfg.policy)["schedule"]
    finally:
        server.stop()
    assert [r["status"] for r in records] == ["done", "aborted", "done"]
    assert records[1]["reason"].startswith("policy unavailable at step 0: ")
    assert "no answer within 5 s" in records[1]["reason"]
    assert "query_latency_ms" not in records[1]  # no query was answered in that episode
    for r in (records[0], records[2]):
        lat = r["query_latency_ms"]
        assert lat["n"] == 2 and 0 < lat["p50"] <= lat["p95"] <= lat["max"] < 5000
        assert lat["server_infer_mean"] >= 0


class _Env:
    """What connect_remote reads of an EgoEnv."""

    action_space = gym.spaces.Box(-4, 4, (7,), np.float64)
    image_size = (32, 32)

    class robot:
        control_hz = 50.0


def _serve(infer, metadata):
    from egogym.policies.serve import PolicyServer

    server = PolicyServer(infer, metadata, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_schedule_from_metadata_default_and_url():
    """Temporal ensembling named by the metadata plays as egogym's TemporalEnsembler; without an
    execution in the metadata EgoMimic's first-25 at stride 2; ?k=10&stride=1 overrides both."""
    from egogym.policies import connect_remote
    from egogym.policies.execution import TemporalEnsembler

    rng = np.random.default_rng(0)
    chunks = [rng.normal(size=(100, 7)) for _ in range(40)]
    queries: list[int] = []

    def infer(obs):
        queries.append(int(obs["t"]))
        return {"actions": chunks[len(queries) - 1]}

    def play(url, steps):
        queries.clear()
        policy = connect_remote(url, _Env())
        try:
            return policy.schedule, [policy.act({"joint_positions": np.zeros(7), "t": np.int64(t)})
                                     for t in range(steps)], list(queries)
        finally:
            policy.close()

    te = _serve(infer, {"execution": {"kind": "temporal_ensemble", "m": 0.1}, "chunk": 100, "chunk_stride_steps": 2})
    plain = _serve(infer, {})
    try:
        schedule, acts, asked = play(f"ws://127.0.0.1:{te.port}", 10)
        assert schedule.startswith("temporal ensembling (m=0.1)") and asked == [0, 2, 4, 6, 8]
        ens, expected = TemporalEnsembler(0.1, 100), []
        for t in range(10):
            if t % 2 == 0:
                ens.add(chunks[t // 2])
                current = ens.next()
            expected.append(current)
        np.testing.assert_allclose(acts, expected, atol=1e-12)

        schedule, acts, asked = play(f"ws://127.0.0.1:{plain.port}", 101)
        assert "first 25 points" in schedule and "EgoMimic's default" in schedule and asked == [0, 50, 100]
        np.testing.assert_array_equal(acts[0], chunks[0][0])
        np.testing.assert_array_equal(acts[1], chunks[0][0])  # each point held 2 steps
        np.testing.assert_array_equal(acts[49], chunks[0][24])

        schedule, acts, asked = play(f"ws://127.0.0.1:{plain.port}?k=10&stride=1", 25)
        assert "first 10 points" in schedule and "URL" in schedule and asked == [0, 10, 20]
        np.testing.assert_array_equal(acts[9], chunks[0][9])
    finally:
        te.shutdown()
        plain.shutdown()


def test_health_check_answers_without_a_websocket():
    import urllib.request

    server = _serve(lambda obs: {"actions": np.zeros((1, 7))}, {})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=30) as r:
            assert r.status == 200 and r.read() == b"OK\n"
    finally:
        server.shutdown()


def test_parallel_workers_share_one_server(tmp_path):
    """Two spawned workers connect to one server; their records equal one worker's."""
    server = HoldServer().start()
    try:
        url = f"ws://127.0.0.1:{server.port}"
        one = evaluate(EvalConfig(policy=url, episodes=4, start_seed=40, **SMALL), tmp_path / "one", progress=False)
        two = evaluate(EvalConfig(policy=url, episodes=4, start_seed=40, workers=2, **SMALL), tmp_path / "two",
                       progress=False)
    finally:
        server.stop()
    assert comparable(two) == comparable(one) and [r["status"] for r in two] == ["done"] * 4
    assert all(r["query_latency_ms"]["n"] == 2 for r in two)
