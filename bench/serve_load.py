"""`egogym serve` under load and faults: latency, throughput and the server's memory.

    OMP_NUM_THREADS=1 python bench/serve_load.py [--clients 8] [--queries 200] [--fault-rounds 20]

Trains a smoke-preset checkpoint for one step on synthetic 32x32 data (the speed of a query
does not depend on the weights), serves it with `egogym serve RUN --port 0` in a subprocess
(loopback, the defaults but `--client-timeout 2`, so that stalled clients are dropped within
the run), then, from client processes (spawned, so that the clients share no interpreter lock
with each other or with the server):

1. one client makes `--queries` queries, one after the other;
2. `--clients` clients make `--queries` queries each, all at once (started by a barrier);
3. the fault cases, `--fault-rounds` times each: a message that is not msgpack, an unknown
   dtype, a frame header claiming 1 GB, a frame cut off by its sender's exit (FIN and RST),
   16 connections at once each sending a message just under the server's bound, a
   connection that never sends its handshake, one that never reads nor answers pings, and one
   that sends queries and never reads their answers;
4. one client checks that its answer is still bit for bit the first one's.

Prints, for 1 and 2, the round trip of a query (send to answer received, ms) at p50 and p99
and the queries per second (all queries over the wall time from the first send to the last
answer); and the server's resident memory (VmRSS, /proc) after the warm-up, its peak (VmHWM)
after the load and after the faults: the growth is the peak after the faults less the RSS
after the warm-up. Linux only (/proc).
"""
from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import os
import queue
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

GUARD_S = 120.0
"""Hang guard for every wait (s); never a speed requirement."""


def observation(seed: int = 7) -> dict:
    """One query for the smoke checkpoint: its three 32x32 cameras and the right arm's joints."""
    rng = np.random.default_rng(seed)
    obs = {k: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
           for k in ("front_img_1", "front_img_1_line", "right_wrist_img")}
    obs["joint_positions"] = rng.uniform(-1, 1, 7)
    return obs


def client(url: str, queries: int, barrier, results) -> None:
    """A well-behaved client (its own process): connect, wait for the others, query, report."""
    from websockets.sync.client import connect

    from egogym.policies.remote import pack, unpack

    data = pack(observation())
    with connect(url, compression=None, open_timeout=GUARD_S) as ws:
        unpack(ws.recv(timeout=GUARD_S))
        barrier.wait(GUARD_S)
        lat, first = [], None
        t_start = time.perf_counter()
        for _ in range(queries):
            t0 = time.perf_counter()
            ws.send(data)
            reply = unpack(ws.recv(timeout=GUARD_S))
            lat.append((time.perf_counter() - t0) * 1000.0)
            first = reply["actions"] if first is None else first
            if not np.array_equal(reply["actions"], first):
                raise AssertionError("two answers to one query differ")
        results.put((t_start, time.perf_counter(), lat, first.tobytes()))


def load(url: str, n_clients: int, queries: int) -> dict:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(n_clients), ctx.Queue()
    procs = [ctx.Process(target=client, args=(url, queries, barrier, results)) for _ in range(n_clients)]
    for p in procs:
        p.start()
    out = [results.get(timeout=10 * GUARD_S) for _ in procs]
    for p in procs:
        p.join(GUARD_S)
        if p.exitcode != 0:
            raise SystemExit(f"a client failed (exit {p.exitcode})")
    lat = np.concatenate([np.asarray(o[2]) for o in out])
    wall = max(o[1] for o in out) - min(o[0] for o in out)
    answers = {o[3] for o in out}
    return {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
            "qps": lat.size / wall, "n": int(lat.size), "identical": len(answers) == 1, "answer": answers.pop()}


# ---- the fault cases --------------------------------------------------------------------------

def raw(port: int, handshake: bool = True, rcvbuf: int | None = None) -> socket.socket:
    """A TCP connection with (optionally) a websocket handshake done by hand."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: a small window
    s.settimeout(GUARD_S)
    s.connect(("127.0.0.1", port))
    if handshake:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("the server closed during a handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"handshake refused: {head[:80]!r}")
    return s


def frame(payload: bytes, claimed: int | None = None) -> bytes:
    """A masked binary client frame (RFC 6455); `claimed`: the length its header states instead."""
    n = len(payload) if claimed is None else claimed
    if n < 126:
        header = bytes([0x82, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x82, 0x80 | 126]) + struct.pack("!H", n)
    else:
        header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    body = np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), len(payload))
    return header + mask + body.tobytes()


def drain(s: socket.socket) -> None:
    """Read the server's frames up to its close frame (or the connection's end), then close.
    Stopping at the close frame, as a client that answers it would, spares the wait of
    the server's close timeout for a reply that a raw socket never sends."""
    buf = b""

    def need(n: int) -> bool:
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(1 << 16)
            if not chunk:
                return False
            buf += chunk
        return True

    try:
        while need(2):
            opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n >= 126:
                width = 2 if n == 126 else 8
                if not need(2 + width):
                    break
                n, at = int.from_bytes(buf[2:2 + width], "big"), 2 + width
            if opcode == 0x8 or not need(at + n):
                break
            buf = buf[at + n:]
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()


def faults(port: int, rounds: int, max_frame: int, pid: int) -> list[int]:
    """Run the fault cases `rounds` times; the server's VmHWM (KiB) after each round."""
    import msgpack

    from egogym.policies.remote import pack

    unknown = msgpack.packb({"x": {b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "<x9", b"shape": [1]}})
    just_under = b"\xc1" * (max_frame - 64)  # a frame the server must read whole, then refuse
    query = frame(pack(observation()))
    peaks = []
    for _ in range(rounds):
        for payload in (b"\xc1 not msgpack", unknown):
            s = raw(port)
            s.sendall(frame(payload))
            drain(s)
        s = raw(port)
        s.sendall(frame(b"", claimed=1 << 30) + b"\0" * 65536)  # a header claiming 1 GB
        drain(s)
        for rst in (False, True):  # killed mid-frame
            s = raw(port)
            s.sendall(frame(b"\1" * 5000)[:1000])
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        many = [raw(port) for _ in range(16)]
        threads = [threading.Thread(target=lambda s=s: (s.sendall(frame(just_under)), drain(s))) for s in many]
        for t in threads:
            t.start()
        for t in threads:
            t.join(GUARD_S)
        peaks.append(rss_kib(pid)[1])
    # Stalled clients, held until the server drops them (--client-timeout 2).
    stalled = [raw(port, handshake=False), raw(port), raw(port, rcvbuf=4096)]
    try:
        for _ in range(400):  # queries whose answers are never read
            stalled[2].sendall(query)
    except OSError:
        pass  # the server stopped reading, or dropped us: both are the point
    for s in stalled:
        drain(s)
    return peaks


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of process `pid`, KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--fault-rounds", type=int, default=20)
    a = p.parse_args()
    from egogym.policies.remote import observation_frame_bytes
    from egogym.policies.synthetic import train_synthetic_run

    with tempfile.TemporaryDirectory() as tmp:
        run = train_synthetic_run(Path(tmp) / "run")
        server = subprocess.Popen([sys.executable, "-m", "egogym.cli", "serve", str(run), "--port", "0",
                                   "--client-timeout", "2"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda: [lines.put(x) for x in server.stdout], daemon=True).start()
            line = lines.get(timeout=GUARD_S)
            port = int(line.split("ws://127.0.0.1:")[1].split(";")[0])
            url = f"ws://127.0.0.1:{port}"
            load(url, 1, 20)  # warm-up: first queries, allocator pools
            rss0, _ = rss_kib(server.pid)
            one = load(url, 1, a.queries)
            many = load(url, a.clients, a.queries)
            _, hwm_load = rss_kib(server.pid)
            t0 = time.perf_counter()
            peaks = faults(port, a.fault_rounds, observation_frame_bytes((32, 32)), server.pid)
            fault_s = time.perf_counter() - t0
            after = load(url, 1, 5)
            rss_end, hwm_end = rss_kib(server.pid)
        finally:
            server.terminate()
            server.wait(GUARD_S)

    print(f"server: egogym serve (smoke preset, 32x32, CPU), loopback; cpu count {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    for name, r in ((f"1 client x {a.queries}", one), (f"{a.clients} clients x {a.queries}", many)):
        print(f"{name:>18}: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, {r['qps']:.0f} queries/s "
              f"({r['n']} queries, answers identical: {r['identical']})")
    same = after["answer"] == one["answer"] == many["answer"]
    print(f"faults: {a.fault_rounds} rounds in {fault_s:.1f} s; afterwards the answer is bit for bit the first: {same}")
    print(f"server memory: RSS after warm-up {rss0 / 1024:.1f} MiB; peak after load {hwm_load / 1024:.1f} MiB; "
          f"peak after faults {hwm_end / 1024:.1f} MiB (growth {(hwm_end - rss0) / 1024:.1f} MiB); "
          f"RSS at the end {rss_end / 1024:.1f} MiB")
    print("server peak after each fault round, MiB: " + " ".join(f"{x / 1024:.0f}" for x in peaks))
    if not (same and one["identical"] and many["identical"]):
        raise SystemExit("answers differ")


if __name__ == "__main__":
    main()
