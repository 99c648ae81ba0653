"""`egogym serve` under load and faults, on the loopback interface.

Well-behaved clients query a served smoke checkpoint while hostile ones send what no library
would: bytes that are not msgpack, an unknown or refused dtype, a frame header claiming 1 GB,
a connection that never completes its handshake or never reads, a frame cut off by its
sender's death. The well-behaved clients must get, bit for bit, the answer the policy gives
in-process. Counts are fixed and small; nothing waits for a duration: every wait is for an
event, with a generous timeout (GUARD_S) only so that a bug fails the test instead of hanging it.

The hostile clients speak websocket by hand over a TCP socket (`RawClient`), as RFC 6455
frames it: a client's frames are masked, a length over 125 goes in 2 or 8 more bytes.
"""
from __future__ import annotations

import base64
import os
import resource
import socket
import struct
import threading
import time

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("websockets", reason="remote policies need the remote extra (pip install -e '.[remote]')")
pytest.importorskip("msgpack", reason="remote policies need the remote extra (pip install -e '.[remote]')")

import msgpack  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from egogym.core.errors import UserError  # noqa: E402
from egogym.policies.remote import TOKEN_ENV, observation_frame_bytes, pack, token_header, unpack  # noqa: E402
from egogym.policies.serve import PolicyServer  # noqa: E402

GUARD_S = 60.0
"""A hang guard, never a speed requirement: the most any single wait may take before the test fails."""
GOOD_CLIENTS, QUERIES = 4, 10
"""Well-behaved clients, and the queries each makes before, during and after the hostile rounds."""
HOSTILE_ROUNDS = 3


# ---- a websocket client by hand ---------------------------------------------------------

class RawClient:
    """A websocket client over a bare TCP socket, to send frames no library sends."""

    def __init__(self, port: int, handshake: bool = True, headers: dict[str, str] | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=GUARD_S)
        self.buffer = b""
        if handshake:
            key = base64.b64encode(os.urandom(16)).decode()
            extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            self.sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                              f"{extra}\r\n".encode())
            head = self._read_until(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101"), head

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed before {marker!r}: {self.buffer[:200]!r}")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed mid-frame")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    @staticmethod
    def frame(payload: bytes, opcode: int = 0x2, claimed: int | None = None) -> bytes:
        """A masked client frame of `payload`; `claimed`: the length its header states instead."""
        n = len(payload) if claimed is None else claimed
        if n < 126:
            header = bytes([0x80 | opcode, 0x80 | n])
        elif n < 1 << 16:
            header = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", n)
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        body = np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), len(payload))
        return header + mask + body.tobytes()

    def send(self, payload: bytes, **kw) -> None:
        self.sock.sendall(self.frame(payload, **kw))

    def read_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the server's next frame (unmasked, as a server's are)."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return b0 & 0x0F, self._read(n)

    def until_close(self) -> tuple[int | None, str, list[str]]:
        """Read to the server's close frame: (its code, its reason, the text frames before it);
        code None when the server closed the TCP connection without one."""
        texts = []
        while True:
            try:
                opcode, payload = self.read_frame()
            except (EOFError, ConnectionResetError):
                return None, "", texts
            if opcode == 0x1:
                texts.append(payload.decode())
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:].decode(errors="replace"), texts

    def at_eof(self) -> bool:
        """Block until the server closes the connection (True), reading and dropping what it sends."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()


def wait_for(condition, what: str) -> None:
    """Poll `condition` until it holds; fail after GUARD_S (a hang guard, not a deadline)."""
    deadline = time.monotonic() + GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {GUARD_S:g} s: {what}")
        time.sleep(0.01)


def start(server: PolicyServer) -> PolicyServer:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---- the served checkpoint ------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(CheckpointPolicy, one observation, its in-process answer) for a smoke checkpoint at 32x32."""
    pytest.importorskip("torch", reason="training needs the train extra")
    from egogym.policies.serve import CheckpointPolicy
    from egogym.policies.synthetic import train_synthetic_run

    policy = CheckpointPolicy(train_synthetic_run(tmp_path_factory.mktemp("faults") / "run"))
    rng = np.random.default_rng(7)
    obs = {k: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for k in policy.inputs[:-1]}
    obs["joint_positions"] = rng.uniform(-1, 1, policy.metadata["action_dim"])
    return policy, obs, policy(obs)


def test_hostile_clients_leave_the_answers_of_the_others_unchanged(checkpoint):
    policy, obs, expected = checkpoint
    log: list[str] = []
    # Timeouts past the test's length, so that the idle connections below stay held throughout
    # (their closing on time is the next test's subject).
    server = start(PolicyServer(policy, policy.metadata, "127.0.0.1", 0, log=log.append,
                                client_timeout=10 * GUARD_S, handshake_timeout=10 * GUARD_S))
    port, url, query = server.port, f"ws://127.0.0.1:{server.port}", pack(obs)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # Idle and half-open connections, held for the whole test: one that never sends its
    # handshake, one that completes it and then never reads nor sends.
    no_handshake = RawClient(port, handshake=False)
    silent = RawClient(port)
    answers: dict[int, list[dict]] = {}
    hostile: dict[str, list] = {}
    errors: list[BaseException] = []
    # Each good client queries before the hostile rounds, during them (all start together) and
    # after them, on one connection: the faults happen while every good connection is open.
    go, hostile_done = threading.Barrier(GOOD_CLIENTS + 1), threading.Event()

    def good(i: int) -> None:
        try:
            with connect(url, compression=None, open_timeout=GUARD_S) as ws:
                assert unpack(ws.recv(timeout=GUARD_S))["chunk"] == 100
                out = []

                def queries() -> None:
                    for _ in range(QUERIES):
                        ws.send(query)
                        out.append(unpack(ws.recv(timeout=GUARD_S)))

                queries()
                go.wait(GUARD_S)
                queries()
                assert hostile_done.wait(10 * GUARD_S)
                queries()
                answers[i] = out
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(e)

    def refused(payload: bytes) -> tuple:
        c = RawClient(port)
        try:
            opcode, _ = c.read_frame()
            assert opcode == 0x2  # the metadata
            c.send(payload)
            return c.until_close()
        finally:
            c.close()

    def hostile_rounds() -> None:
        try:
            go.wait(GUARD_S)
            unknown = msgpack.packb({"img": {b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "<x9", b"shape": [1]}})
            objects = msgpack.packb({"img": {b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "|O", b"shape": [1]}})
            for _ in range(HOSTILE_ROUNDS):
                hostile.setdefault("malformed", []).append(refused(b"\xc1\x92\x93 not msgpack"))
                hostile.setdefault("unknown dtype", []).append(refused(unknown))
                hostile.setdefault("object dtype", []).append(refused(objects))
                c = RawClient(port)  # a header claiming 1 GB, followed by 64 kB of it
                c.sock.sendall(RawClient.frame(b"", claimed=1 << 30) + b"\0" * 65536)
                hostile.setdefault("1 GB", []).append(c.until_close())
                c.close()
                for linger in (False, True):  # killed mid-frame: the OS closes with FIN, or with RST
                    c = RawClient(port)
                    c.sock.sendall(RawClient.frame(b"\1" * 5000)[:1000])
                    if linger:
                        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(e)
        finally:
            hostile_done.set()

    threads = [threading.Thread(target=good, args=(i,)) for i in range(GOOD_CLIENTS)]
    threads.append(threading.Thread(target=hostile_rounds))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(10 * GUARD_S)
        assert not any(t.is_alive() for t in threads), "a client thread hung"
        if errors:
            raise errors[0]

        assert sorted(answers) == list(range(GOOD_CLIENTS))
        for out in answers.values():
            assert len(out) == 3 * QUERIES
            for a in out:  # bit for bit the in-process answer
                np.testing.assert_array_equal(a["actions"], expected["actions"])
                np.testing.assert_array_equal(a["xyz"], expected["xyz"])
                assert a["actions"].dtype == np.float64

        for code, _, texts in hostile["malformed"]:
            assert code == 1011 and len(texts) == 1 and "not msgpack-numpy" in texts[0]
        for code, _, texts in hostile["unknown dtype"]:
            assert code == 1011 and "not msgpack-numpy" in texts[0] and "<x9" in texts[0]
        for code, _, texts in hostile["object dtype"]:
            assert code == 1011 and "numbers only" in texts[0]
        for code, reason, texts in hostile["1 GB"]:
            assert code == 1009 and str(1 << 30) in reason and not texts, reason
        # The 1 GB frame was refused from its header: no gigabyte was ever allocated.
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 256 * 1024

        # After all that, a new client still gets the same answer, beside the idle connections.
        with connect(url, compression=None, open_timeout=GUARD_S) as ws:
            ws.recv(timeout=GUARD_S)
            ws.send(query)
            np.testing.assert_array_equal(unpack(ws.recv(timeout=GUARD_S))["actions"], expected["actions"])
        wait_for(lambda: server.connections == 1, "only the silent client is held")  # its timeouts are 600 s
    finally:
        no_handshake.close()
        silent.close()
        wait_for(lambda: server.connections == 0, "every connection's handler ended")
        server.shutdown()
    assert any("refused a query" in line for line in log) and any("1009" in line for line in log)


# ---- stalled clients, with short timeouts ------------------------------------------------

def _big_answer(obs):
    return {"actions": np.zeros((100, 2500))}  # 2 MB: a few of them fill the socket buffers


def test_stalled_clients_are_disconnected_and_their_handlers_end():
    """With --client-timeout 1 and a 1 s handshake timeout: a connection that never sends its
    handshake, one that never answers pings, and one that keeps sending but never reads its
    (2 MB) answers are each closed by the server; a well-behaved client is served meanwhile."""
    log: list[str] = []
    server = start(PolicyServer(_big_answer, {"image_size": [32, 32]}, "127.0.0.1", 0, log=log.append,
                                client_timeout=1.0, handshake_timeout=1.0))
    port = server.port
    try:
        no_handshake = RawClient(port, handshake=False)
        silent = RawClient(port)
        reader_gone = RawClient(port)
        reader_gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        query = RawClient.frame(pack({"q": np.zeros(7)}))
        sent = []

        def flood() -> None:  # until the server stops reading (our send times out) or drops us
            try:
                for _ in range(200):
                    reader_gone.sock.sendall(query)
                    sent.append(1)
            except OSError:
                pass

        flooder = threading.Thread(target=flood)
        flooder.start()

        with connect(f"ws://127.0.0.1:{port}", compression=None, open_timeout=GUARD_S, max_size=None) as ws:
            ws.recv(timeout=GUARD_S)
            ws.send(pack({"q": np.zeros(7)}))
            assert unpack(ws.recv(timeout=GUARD_S))["actions"].shape == (100, 2500)

        assert no_handshake.at_eof()
        code, reason, _ = silent.until_close()
        assert code in (None, 1011), reason  # keepalive ping timeout (or the socket closed after it)
        flooder.join(GUARD_S)
        wait_for(lambda: server.connections == 0, "the non-reading client was dropped")
        assert sent and any("closed" in line for line in log)
    finally:
        for c in (no_handshake, silent, reader_gone):
            c.close()
        server.shutdown()


def test_connections_beyond_the_cap_are_refused_with_503():
    server = start(PolicyServer(lambda obs: {"actions": np.zeros((1, 7))}, {}, "127.0.0.1", 0, max_connections=2))
    url = f"ws://127.0.0.1:{server.port}"
    try:
        with connect(url, open_timeout=GUARD_S) as a, connect(url, open_timeout=GUARD_S) as b:
            a.recv(timeout=GUARD_S), b.recv(timeout=GUARD_S)  # the metadata: both are counted by now
            with pytest.raises(InvalidStatus) as e:
                connect(url, open_timeout=GUARD_S)
            assert e.value.response.status_code == 503
        wait_for(lambda: server.connections == 0, "both connections ended")
        with connect(url, open_timeout=GUARD_S) as c:
            c.recv(timeout=GUARD_S)
    finally:
        server.shutdown()


def test_closed_connections_frames_are_freed_without_waiting_for_the_collector():
    """websockets keeps each connection in a reference cycle holding its last frame; the server
    collects as each connection ends. With the automatic collector off (as good as off in a
    process full of torch's objects), 12 connections that each sent a 256 kB message leave at
    most the last one or two connections' objects alive, not 12."""
    import gc

    from websockets.server import ServerProtocol

    def alive() -> int:
        return sum(type(o) is ServerProtocol for o in gc.get_objects())  # type(): weak proxies are in there too

    server = start(PolicyServer(lambda obs: {"actions": np.zeros((1, 7))}, {}, "127.0.0.1", 0,
                                max_frame_bytes=1 << 20))
    gc.collect()
    before = alive()
    gc.disable()
    try:
        for _ in range(12):
            c = RawClient(server.port)
            c.send(b"\xc1" * (256 << 10))  # not msgpack: read whole, then refused (1011)
            code, _, _ = c.until_close()
            c.close()
            assert code == 1011
        wait_for(lambda: server.connections == 0, "every connection ended")
        wait_for(lambda: alive() - before <= 2, "closed connections collected")
    finally:
        gc.enable()
        server.shutdown()


# ---- frame bounds at both ends ------------------------------------------------------------

class _Env:
    """What connect_remote reads of an EgoEnv (as in test_remote.py)."""

    action_space = gym.spaces.Box(-4, 4, (7,), np.float64)
    image_size = (32, 32)

    class robot:
        control_hz = 50.0


def test_frame_bounds_default_from_the_image_size_and_refuse_in_one_line():
    from egogym.policies import connect_remote

    assert observation_frame_bytes((32, 32)) == 5 * 32 * 32 * 3 + (1 << 20)
    hold = lambda obs: {"actions": np.tile(np.asarray(obs["joint_positions"], np.float64), (100, 1))}  # noqa: E731
    server = start(PolicyServer(hold, {"image_size": [32, 32]}, "127.0.0.1", 0))
    small = start(PolicyServer(hold, {}, "127.0.0.1", 0, max_frame_bytes=2000))
    try:
        assert server.max_frame_bytes == observation_frame_bytes((32, 32))
        policy = connect_remote(f"ws://127.0.0.1:{server.port}", _Env())
        assert policy.metadata["max_frame_bytes"] == server.max_frame_bytes
        policy.close()

        # egogym's client reads the bound in the metadata and refuses to send past it
        policy = connect_remote(f"ws://127.0.0.1:{small.port}", _Env())
        with pytest.raises(UserError, match=r"accepts messages up to 0\.00 MB.*--max-frame-mb"):
            policy.act({"joint_positions": np.zeros(7), "front_img_1": np.zeros((32, 32, 3), np.uint8)})
        policy.close()
        # another client sends it anyway: the server closes with 1009 and says why
        with connect(f"ws://127.0.0.1:{small.port}", compression=None, open_timeout=GUARD_S) as ws:
            ws.recv(timeout=GUARD_S)
            ws.send(b"\0" * 5000)
            with pytest.raises(ConnectionClosed) as e:
                ws.recv(timeout=GUARD_S)
        assert e.value.rcvd.code == 1009 and "5000" in e.value.rcvd.reason
        wait_for(lambda: small.connections == 0, "the oversize sender's handler ended")

        # the client's own bound: a 2 MB answer over ?max_frame_mb=1 is one line naming the parameter
        big = start(PolicyServer(_big_answer, {"action_dim": 7}, "127.0.0.1", 0))
        try:
            policy = connect_remote(f"ws://127.0.0.1:{big.port}?max_frame_mb=1", _Env())
            with pytest.raises(UserError, match=r"over this client's bound of 1 MB.*max_frame_mb"):
                policy.act({"joint_positions": np.zeros(7)})
            policy.close()
        finally:
            big.shutdown()
    finally:
        server.shutdown()
        small.shutdown()


# ---- exposure: the default host and the token --------------------------------------------

def test_default_host_is_loopback_and_the_network_needs_a_token_or_insecure(tmp_path, capsys):
    import argparse

    from egogym.cli import main
    from egogym.policies.serve import add_arguments, check_exposure

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert p.parse_args([str(tmp_path)]).host == "127.0.0.1"
    server = start(PolicyServer(lambda obs: {}, {}, port=0))  # every default but the port
    try:
        assert server.host == "127.0.0.1" and server._server.socket.getsockname()[0] == "127.0.0.1"
    finally:
        server.shutdown()

    rc = main(["serve", str(tmp_path), "--host", "0.0.0.0"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "--token" in err and "--insecure" in err
    check_exposure("0.0.0.0", "s3cret", False)
    check_exposure("0.0.0.0", None, True)
    check_exposure("::1", None, False)
    check_exposure("localhost", None, False)
    with pytest.raises(UserError, match="serves to the network"):
        check_exposure("gpu-box", None, False)
    with pytest.raises(UserError, match="empty"):
        check_exposure("0.0.0.0", " ", False)


def test_a_wrong_or_missing_token_is_refused_with_401(monkeypatch):
    from egogym.policies import connect_remote

    log: list[str] = []
    server = start(PolicyServer(lambda obs: {"actions": np.zeros((100, 7))}, {}, "127.0.0.1", 0, token="s3cret",
                                log=log.append))
    url = f"ws://127.0.0.1:{server.port}"
    try:
        for headers in (None, token_header("wrong"), {"Authorization": "s3cret"}, token_header("s3cret-and-more")):
            with pytest.raises(InvalidStatus) as e:
                connect(url, open_timeout=GUARD_S, additional_headers=headers)
            assert e.value.response.status_code == 401
        for headers in (token_header("s3cret"), {"Authorization": "Bearer s3cret"}):
            with connect(url, open_timeout=GUARD_S, additional_headers=headers) as ws:
                assert "max_frame_bytes" in unpack(ws.recv(timeout=GUARD_S))

        monkeypatch.delenv(TOKEN_ENV, raising=False)
        with pytest.raises(UserError, match=f"HTTP 401, no token sent: {TOKEN_ENV} is not set"):
            connect_remote(url, _Env())
        monkeypatch.setenv(TOKEN_ENV, "wrong")
        with pytest.raises(UserError, match=f"HTTP 401, wrong token.*set {TOKEN_ENV}"):
            connect_remote(url, _Env())
        monkeypatch.setenv(TOKEN_ENV, "s3cret")
        policy = connect_remote(url, _Env())
        assert policy.act({"joint_positions": np.zeros(7)}).shape == (7,)
        policy.close()
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=GUARD_S) as r:
            assert r.status == 200  # the health check needs no token: it tells nothing
    finally:
        server.shutdown()
    assert any("wrong or missing token" in line for line in log)

