"""`egogym serve RUN --port P [--host H] [--token T]`: serve a checkpoint in openpi's websocket protocol.

A GPU machine serves, the robot's machine evaluates (`egogym eval --policy ws://HOST:P`), or
any client of openpi's protocol (`openpi_client.websocket_client_policy`) queries it. The
wire format and the client are in `egogym.policies.remote`.

`PolicyServer(infer, metadata, host, port)` serves any `infer(obs: dict) -> dict`: on each
connection it sends `metadata` first, then answers every packed observation with
`infer(obs)` plus `server_timing` ({"infer_ms": this query's inference, "prev_total_ms":
the previous query's receive-to-send time}, ms). A query `infer` refuses (bad keys, shapes)
is answered with its message as a text frame and the connection is closed with code 1011,
as openpi's server does; the server goes on serving other connections. `GET /healthz`
answers 200.

Safe by default (the bounds are in `egogym.policies.remote`'s docstring):

- it listens on 127.0.0.1 (this machine only). Serving to the network is a deliberate
  `--host` (0.0.0.0, or the interface's address), and then needs a shared token (`--token`,
  or the environment variable EGOGYM_SERVE_TOKEN, which other users cannot read in `ps`):
  a connection without it is refused with HTTP 401. `--insecure` serves to the network
  without a token, for a network where every machine is trusted. The token is compared in
  constant time (`hmac.compare_digest`) but travels in clear over ws://: it keeps other
  people's scripts and typos off the policy, not an eavesdropper (tunnel over SSH for that).
- one message is at most `max_frame_bytes` (default `observation_frame_bytes` of the
  policy's image size; `--max-frame-mb`): a longer one closes that connection (1009) before
  its payload is read; the connection's receive queue holds at most `MAX_QUEUE` messages.
- a client that leaves a ping unanswered, or an answer unread, for `--client-timeout` s
  (default 30) is disconnected; one that connects and never completes the websocket
  handshake, after `HANDSHAKE_TIMEOUT_S`; at most `--max-connections` (default 32) are
  served at once (more are answered HTTP 503), so what the connections hold at any moment
  is bounded by about max_connections x (MAX_QUEUE + 1) x max_frame_bytes. A connection's
  last frame outlives it in websockets' reference cycles until a full garbage collection,
  which the server runs as each connection ends (docs/BENCHMARKS.md, "Policy server under
  load and faults").
- a message that is not msgpack-numpy, or names a dtype numpy does not know or the
  protocol refuses (object, void, complex), is a refused query (text frame, close 1011).

`CheckpointPolicy(run)` is the `infer` of an egogym checkpoint (no simulator, no env): the
observation is the env's dict (the model's cameras (H, W, 3) uint8 at the trained size and
`joint_positions` (7k,)); the answer is

    actions  (100, 7k) float64  the joint head's chunk: per arm 6 joint targets (rad) and the
                                gripper in [0, 1], chunk points `chunk_stride_steps` control steps apart
    xyz      (100, 3k) float64  the pose head's pinch points in the Aria camera frame of the
                                query's step (m), for eval videos

and its metadata names everything the client needs to execute the chunk as the in-process
policy would: `execution` (the run's, {"kind": "first_k", "k": 25} for EgoMimic),
`chunk_stride_steps`, `chunk`, `control_hz`, `action_dim`, `arms` (their number), `arm_names`
(layout order), `cameras` (the keys to render: the plain Aria image for videos, then the
model's) and `image_size` [H, W]; `PolicyServer` adds its `max_frame_bytes`.
Queries are answered one at a time (one model, one lock), so clients are served in turn.
"""
from __future__ import annotations

import argparse
import gc
import hmac
import ipaddress
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

import numpy as np

from egogym.core.bounds import MAX_WORKERS, float_flag, int_flag
from egogym.core.errors import UserError
from egogym.policies.config import DEVICE_HELP
from egogym.core.spec import ARIA_IMAGE_SIZE, EGOMIMIC
from egogym.core.views import FRONT, JOINT_POSITIONS
from egogym.policies.remote import (MB, TOKEN_ENV, observation_frame_bytes, pack, require_libraries,
                                    set_send_timeout, unpack)

MAX_FRAME_MB = 4096
"""Largest `--max-frame-mb` (4 GB): larger is a typo, and each connection may buffer MAX_QUEUE such messages."""
DEFAULT_HOST = "127.0.0.1"
"""Where `egogym serve` listens unless told otherwise: this machine only."""
CLIENT_TIMEOUT_S = 30.0
"""Default seconds a client may leave a keepalive ping unanswered or an answer unread."""
HANDSHAKE_TIMEOUT_S = 10.0
"""Seconds a new connection has to complete the websocket handshake (websockets' open_timeout)."""
MAX_CONNECTIONS = 32
"""Default number of connections served at once (an evaluation opens one per worker)."""
MAX_QUEUE = 2
"""Frames one connection may have received and not yet handed to the handler before the
server stops reading its socket (websockets' max_queue; its default, 16, would let one client
park 16 frames of up to max_frame_bytes each). The protocol has one query in flight, so 2
costs a well-behaved client nothing."""


class _DropClosedKeepalive(logging.Filter):
    """Drops websockets' "keepalive ping failed" error when its cause is a connection already
    closed: a client that stopped reading blocks the handler's send and the keepalive's ping
    behind it; the send timeout closes the connection, and the ping thread then logs a
    traceback for a close that is the intended outcome (websockets 17). Other errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        from websockets.exceptions import ConnectionClosed

        exc = record.exc_info[1] if record.exc_info else None
        return not (record.getMessage() == "keepalive ping failed" and isinstance(exc, ConnectionClosed))


LOGGER = logging.getLogger("egogym.serve.websockets")
"""The logger websockets writes the server's events to (WARNING and above reach stderr)."""
LOGGER.addFilter(_DropClosedKeepalive())


class ObservationError(ValueError):
    """An observation the served policy cannot use; its message goes back to the client."""


class PolicyServer:
    """openpi's websocket protocol over `infer`; `port=0` picks a free port (see `.port`).

    metadata: sent first on each connection (with `max_frame_bytes` added); host: the address
    to listen on (default 127.0.0.1); max_frame_bytes: the largest message accepted, bytes
    (None: `observation_frame_bytes` of the metadata's `image_size`, else of the Aria's
    480x640); token: the shared token clients must send (None: none asked); client_timeout:
    seconds a client may leave a ping unanswered or an answer unread (also the keepalive
    ping's interval); handshake_timeout: seconds to complete the websocket handshake;
    max_connections: connections served at once (HTTP 503 beyond); log: one line per event."""

    def __init__(self, infer: Callable[[dict], dict], metadata: dict, host: str = DEFAULT_HOST, port: int = 8000,
                 log: Callable[[str], None] | None = None, *, max_frame_bytes: int | None = None,
                 token: str | None = None, client_timeout: float = CLIENT_TIMEOUT_S,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS):
        require_libraries("egogym serve")
        from websockets.sync.server import serve

        if max_frame_bytes is None:
            max_frame_bytes = observation_frame_bytes(metadata.get("image_size") or ARIA_IMAGE_SIZE)
        self.infer, self.log = infer, log or (lambda msg: None)
        self.max_frame_bytes = int(max_frame_bytes)
        self.client_timeout, self.max_connections = client_timeout, max_connections
        self.metadata = {**metadata, "max_frame_bytes": self.max_frame_bytes}  # the client checks before sending
        self._token = token.encode() if token else None
        self._lock = threading.Lock()
        self._active = 0
        try:
            self._server = serve(self._handle, host, port, compression=None, max_size=self.max_frame_bytes,
                                 max_queue=MAX_QUEUE, open_timeout=handshake_timeout, ping_interval=client_timeout,
                                 ping_timeout=client_timeout, close_timeout=client_timeout,
                                 process_request=self._process_request, logger=LOGGER)
        except OSError as e:
            raise UserError(f"egogym serve: cannot listen on {host}:{port} ({e.strerror or e}); choose another "
                            f"--port, or stop what uses it") from None
        self.host, self.port = host, int(self._server.socket.getsockname()[1])

    @property
    def connections(self) -> int:
        """The websocket connections being served now."""
        with self._lock:
            return self._active

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        """Stop listening and close the connections (from another thread than serve_forever's)."""
        self._server.shutdown()

    def _process_request(self, connection, request):
        """Before the websocket opens: /healthz (no token needed: it tells nothing), the token, the connection cap."""
        import http

        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        peer = _peer(connection)
        if self._token is not None and not _token_matches(request.headers.get("Authorization"), self._token):
            self.log(f"refused {peer}: wrong or missing token")
            return connection.respond(http.HTTPStatus.UNAUTHORIZED,
                                      f"this server needs its token: set {TOKEN_ENV} on the client\n")
        if self.connections >= self.max_connections:
            self.log(f"refused {peer}: {self.max_connections} connections already (--max-connections)")
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                      f"{self.max_connections} connections already; try again later\n")
        return None

    def _handle(self, conn) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            self._active += 1
        peer = _peer(conn)
        prev_total_ms = None
        try:
            try:
                # a client that stops reading is dropped, not waited on
                set_send_timeout(conn.socket, self.client_timeout)
            except OSError:  # the client left during the handshake (killed): nothing to serve
                self.log(f"connection from {peer} gone before its first message")
                return
            self.log(f"connection from {peer}")
            conn.send(pack(self.metadata))
            while True:
                data = conn.recv()
                t0 = time.monotonic()
                try:
                    if isinstance(data, str):
                        raise ObservationError("send msgpack-numpy bytes, not text")
                    try:
                        obs = unpack(data)
                    except Exception as e:  # noqa: BLE001 - whatever the bytes make msgpack or numpy raise
                        raise ObservationError(f"the message is not msgpack-numpy ({type(e).__name__}: "
                                               f"{_one_line(e)})") from None
                    if not isinstance(obs, dict):
                        raise ObservationError(f"the observation is a {type(obs).__name__}, not a dict")
                    t1 = time.monotonic()
                    reply = dict(self.infer(obs))
                    infer_ms = (time.monotonic() - t1) * 1000.0
                except Exception as e:  # noqa: BLE001 - every failure goes back to the client, as openpi's server does
                    message = str(e) if isinstance(e, ObservationError) else traceback.format_exc()
                    self.log(f"refused a query from {peer}: {message.strip().splitlines()[-1]}")
                    conn.send(message)
                    conn.close(code=1011, reason="the policy failed on the observation; its error is the previous frame")
                    return
                reply["server_timing"] = {"infer_ms": infer_ms}
                if prev_total_ms is not None:
                    reply["server_timing"]["prev_total_ms"] = prev_total_ms
                conn.send(pack(reply))
                prev_total_ms = (time.monotonic() - t0) * 1000.0
        except ConnectionClosed as e:
            self.log(f"connection from {peer} closed ({e})")
        finally:
            with self._lock:
                self._active -= 1
            # websockets keeps each connection in a reference cycle (its protocol and parser generator)
            # that holds the last frame read, up to max_frame_bytes, until a full collection; with torch's
            # objects in the process those are rare (measured: +250 MiB over 2,400 near-bound messages).
            # Collecting as each connection ends frees the closed ones' frames within a connection's lifetime.
            gc.collect()


def _peer(connection) -> str:
    """HOST:PORT of the client, for the log; a client killed right after connecting has none."""
    try:
        address = connection.remote_address
    except OSError:
        return "(a client already gone)"
    return f"{address[0]}:{address[1]}" if address else "?"


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[-1][:200] if text else type(e).__name__


def _token_matches(header: str | None, token: bytes) -> bool:
    """Whether an Authorization header carries `token`: "Api-Key T" (openpi's client) or "Bearer T"."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() not in ("api-key", "bearer"):
        return False
    return hmac.compare_digest(given.strip().encode(), token)  # constant time: no timing oracle on the token


def is_loopback(host: str) -> bool:
    """Whether `host` listens on this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: some interface of this machine, reachable from the network


class CheckpointPolicy:
    """`infer` over an egogym checkpoint (see the module docstring); thread-safe."""

    def __init__(self, run: str | Path, device: str = "cpu"):
        from egogym.policies.checkpoint import CheckpointError
        from egogym.policies.config import execution_to_dict
        from egogym.policies.policy import load_policy

        try:
            self.policy = load_policy(run, None, device=device)
        except (CheckpointError, FileNotFoundError, KeyError, ValueError) as e:
            raise UserError(f"egogym serve {run}: {e}") from None
        self._lock = threading.Lock()
        cfg, mc = self.policy.config, self.policy.config.model
        stats = self.policy.normalizer.stats.get("robot")
        self.image_size = tuple(stats.image_size) if stats is not None and stats.image_size is not None else None
        self.inputs = (*mc.cameras, JOINT_POSITIONS)
        arms = self.policy.model.arms
        import egogym

        self.metadata = {
            "policy": "egogym checkpoint (ACT / EgoMimic joint head)",
            "egogym": {"version": getattr(egogym, "__version__", "?"), "run": str(Path(run).resolve()),
                       "checkpoint": str(self.policy.path), "step": int(self.policy.step_trained)},
            "execution": execution_to_dict(self.policy.execution),
            "chunk_stride_steps": int(cfg.chunk_stride_steps),
            "chunk": int(mc.chunk),
            "control_hz": float(EGOMIMIC.control_hz),
            "arms": len(arms),
            "arm_names": list(arms.names),
            "action_dim": arms.joint_width,
            "cameras": list(dict.fromkeys((FRONT, *mc.cameras))),
            "image_size": list(self.image_size) if self.image_size is not None else None,
        }

    def __call__(self, obs: dict) -> dict:
        missing = [k for k in self.inputs if k not in obs]
        if missing:
            raise ObservationError(f"the observation lacks {missing}; this policy reads {list(self.inputs)} "
                                   f"(evaluate with --cameras {' '.join(self.metadata['cameras'])})")
        for k in self.policy.config.model.cameras:
            img = np.asarray(obs[k])
            if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                raise ObservationError(f"{k} is {img.dtype} {img.shape}; send (H, W, 3) uint8 images")
            if self.image_size is not None and tuple(img.shape[:2]) != self.image_size:
                raise ObservationError(f"{k} is {img.shape[0]}x{img.shape[1]}, the policy was trained on "
                                       f"{self.image_size[0]}x{self.image_size[1]}: evaluate with --image-size "
                                       f"{self.image_size[0]} {self.image_size[1]}")
        q = np.asarray(obs[JOINT_POSITIONS])
        if q.shape != (self.metadata["action_dim"],):
            raise ObservationError(f"{JOINT_POSITIONS} is {q.shape}, this policy drives arms "
                                   f"{self.metadata['arm_names']}: ({self.metadata['action_dim']},)")
        with self._lock:
            joints, xyz = self.policy.predict_chunk(obs)
        return {"actions": joints, "xyz": xyz}


# ---- egogym serve ------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a training run folder (runs/NAME; its newest checkpoint) or a checkpoint folder")
    p.add_argument("--port", type=int_flag("--port", 0, 65535), default=8000, help="port to listen on (0: a free one, printed)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0: every interface, "
                        f"which needs a token or --insecure)")
    p.add_argument("--token", help=f"shared token clients must send (default: ${TOKEN_ENV}; prefer the variable, "
                                   f"which ps does not show); clients set {TOKEN_ENV} to it")
    p.add_argument("--insecure", action="store_true",
                   help="serve a non-loopback --host without a token (a network where every machine is trusted)")
    p.add_argument("--max-frame-mb", type=float_flag("--max-frame-mb", 0, MAX_FRAME_MB, lo_open=True),
                   help="largest observation message accepted, MB (default: every camera an EgoEnv renders at the "
                        "policy's image size, plus 1 MiB; 1.06 MB at 32x32, 5.66 MB at 480x640)")
    p.add_argument("--client-timeout", type=float_flag("--client-timeout", 0, 86400, lo_open=True),
                   default=CLIENT_TIMEOUT_S,
                   help=f"seconds a client may leave a ping unanswered or an answer unread before it is "
                        f"disconnected (default {CLIENT_TIMEOUT_S:g})")
    p.add_argument("--max-connections", type=int_flag("--max-connections", 1, 4096), default=MAX_CONNECTIONS,
                   help=f"connections served at once; more are refused with HTTP 503 (default {MAX_CONNECTIONS})")
    p.add_argument("--threads", type=int_flag("--threads", 1, MAX_WORKERS), help="torch threads (default: the cores less one)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)


def check_exposure(host: str, token: str | None, insecure: bool) -> None:
    """A one-line UserError when `host` serves to the network with no token and no `--insecure`:
    anyone who can reach the port would drive the policy, and reading it costs them nothing."""
    if token is not None and not token.strip():
        raise UserError(f"--token / {TOKEN_ENV} is empty; give a token, or leave both unset on a loopback --host")
    if not is_loopback(host) and token is None and not insecure:
        raise UserError(f"--host {host} serves to the network: give a shared token (--token T, or {TOKEN_ENV}=T "
                        f"on both machines) or --insecure to serve without one")


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: give a port in 0..65535")
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    check_exposure(args.host, token, args.insecure)
    if not Path(args.run).is_dir():
        raise UserError(f"egogym serve {args.run}: not a folder; give a run folder of `egogym train`")
    require_libraries("egogym serve")
    import torch

    from egogym.policies.config import default_threads

    from egogym.policies.device import resolve_device

    torch.set_num_threads(args.threads or default_threads(1))
    policy = CheckpointPolicy(args.run, resolve_device(args.device))
    # What is loaded now lives as long as the server: frozen, a full collection (one per connection,
    # PolicyServer._handle) scans only what connections made (~0.01 ms instead of ~100 ms with torch).
    gc.collect()
    gc.freeze()
    log = lambda msg: print(f"egogym serve: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    max_frame = None if args.max_frame_mb is None else int(args.max_frame_mb * MB)
    server = PolicyServer(policy, policy.metadata, args.host, args.port, log=log, max_frame_bytes=max_frame,
                          token=token, client_timeout=args.client_timeout, max_connections=args.max_connections)
    m = policy.metadata
    if token:
        guard = "token required"
    else:
        guard = "this machine only" if is_loopback(args.host) else "no token: --insecure"
    print(f"egogym serve: {m['egogym']['checkpoint']} (step {m['egogym']['step']}) on "
          f"ws://{args.host}:{server.port}; {guard}, messages up to {server.max_frame_bytes / MB:.2f} MB; "
          f"evaluate with egogym eval --policy ws://HOST:{server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()
    return 0
