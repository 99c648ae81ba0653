"""Remote policies in openpi's websocket protocol: the wire format and the client.

The protocol (openpi's `openpi_client.websocket_client_policy` and
`openpi.serving.websocket_policy_server`, as their sources have it):

1. the client opens a websocket (no compression); the server's first message is its
   metadata, a msgpack-numpy packed dict;
2. the client sends one packed observation dict per query; the server answers one packed
   dict with `actions` (a chunk: (P, D) floats, P points of D action values; a (D,) array
   is one point) and `server_timing` ({"infer_ms", "prev_total_ms"}, milliseconds);
3. a server that fails sends its error as a text frame, then closes (code 1011);
4. `GET /healthz` answers 200 (a health check that opens no websocket).

msgpack-numpy: a numpy array travels as the map {b"__ndarray__": True, b"data": raw
bytes (C order), b"dtype": the dtype's `.str` (e.g. "|u1", "<f8"), b"shape": list}; a
numpy scalar as {b"__npgeneric__": True, b"data": its Python value, b"dtype": ...}.
Object, void and complex dtypes are refused (never pickle).

Why not the `openpi-client` package itself: its 0.1.x releases pin `numpy<2` (measured with
`pip install --dry-run openpi-client numpy==2.4.6`: ResolutionImpossible), and egogym's
stack needs numpy 2 (pandas 3, brought by projectaria-tools, requires numpy>=2.0.2). So
egogym speaks the same protocol through the two libraries openpi-client itself uses,
`websockets` (its synchronous client and server) and `msgpack`; a server started with
openpi's `scripts/serve_policy.py` answers this client, and `egogym serve` answers openpi's
`WebsocketClientPolicy`.

The client, `RemotePolicy`, is an `egogym.core.protocols.Policy`: it sends the env's
observation dict as it is (images (H, W, 3) uint8 under their camera keys,
`joint_positions` (7k,) rad + gripper, `ee_pose`, ...) and executes the chunk it gets back
on a schedule it states at connection (`schedule`):

- from the server's metadata when it has `execution` ({"kind": "first_k", "k": K} or
  {"kind": "temporal_ensemble", "m": M, "chunk": P}) and `chunk_stride_steps` (control
  steps between chunk points), as `egogym serve` sends;
- else EgoMimic's: the first 25 points of each chunk, each held 2 control steps (25 Hz at
  the env's 50 Hz), one query a second;
- either overridden by the `--policy` URL's parameters `k` and `stride`.

Failures (the seconds are the URL's parameters, `RemoteAddress`): a server that does not
answer the connection within `connect` s (default 10) is a `UserError` (one line: the address
and how to start a server). A connection lost during an episode, or a query not answered
within `timeout` s (default 30), raises `egogym.core.protocols.PolicyUnavailable`: the
evaluation records that episode as aborted with the reason and goes on; the next `reset()`
connects again, waiting up to `reconnect` s (default 60) for the server to come back (then a
`UserError`: restart it and continue with `--resume`). Each query's round-trip time is kept:
`query_latency_ms()` gives the episode's statistics for its record.

Bounds (openpi's client and server set none; egogym sets them on both ends, so that neither
a broken peer nor a hostile one makes the other allocate without limit or wait forever):

- frame size: each end refuses a message over its bound before reading the payload (the
  websocket frame header states the length; websockets closes with 1009 "message too big").
  The server's bound is `observation_frame_bytes(image_size)` (`egogym serve --max-frame-mb`
  raises it) and is sent in its metadata as `max_frame_bytes`, so the client refuses an
  oversize observation itself, in one line, instead of sending it. The client's bound on
  answers is `DEFAULT_ANSWER_FRAME_BYTES` (the URL's `?max_frame_mb=M` raises it).
- a stalled peer: each end's sends give up after a timeout (`set_send_timeout`; the client's
  is the URL's `timeout`), and websockets' keepalive pings (the server's every
  `--client-timeout` s) close a connection whose peer stops answering.
- a shared token: when the environment variable `EGOGYM_SERVE_TOKEN` is set, the client sends
  it in openpi's header (`Authorization: Api-Key TOKEN`, as openpi's
  `WebsocketClientPolicy(api_key=...)` does); a server started with a token refuses a wrong
  or missing one with HTTP 401, which the client reports in one line.
"""
from __future__ import annotations

import time
import os
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import numpy as np

from egogym.core.errors import UserError
from egogym.core.protocols import PolicyUnavailable
from egogym.core.views import FRONT, FRONT_LINE, FRONT_MASKED, LEFT_WRIST, RIGHT_WRIST
from egogym.policies.config import ConfigError, Execution, FirstK, TemporalEnsemble, execution_from_dict
from egogym.policies.execution import make_executor

DEFAULT_EXECUTION = FirstK(25)
"""EgoMimic's schedule for a server whose metadata names none: play the first 25 points of each chunk."""
DEFAULT_STRIDE = 2
"""Control steps each chunk point is held when the metadata names none (25 Hz points at 50 Hz)."""
INSTALL = "pip install 'egogym[remote]' (websockets and msgpack)"
TOKEN_ENV = "EGOGYM_SERVE_TOKEN"
"""The environment variable holding the shared token: `egogym serve` checks it, the client sends it."""

# ---- bounds ----------------------------------------------------------------------------

MB = 1_000_000
"""Bytes in the MB of `--max-frame-mb` and `?max_frame_mb=` (decimal, as the flags print it)."""
OBSERVATION_CAMERAS = (FRONT, FRONT_MASKED, FRONT_LINE, RIGHT_WRIST, LEFT_WRIST)
"""Every image an EgoEnv can put in an observation (`egogym.core.views`), all at its image size."""
FRAME_SLACK_BYTES = 1 << 20
"""Room above the images in a frame bound (1 MiB): the state vectors (`joint_positions`,
`ee_pose`: under 1 kB), msgpack's framing (about 60 B per array) and a client's extra keys."""
DEFAULT_ANSWER_FRAME_BYTES = 8 * MB
"""The client's bound on a server's message (bytes). An answer is a chunk: egogym serve's
largest is 100 points x (14 joint + 6 xyz values) x 8 B = 16 kB; openpi's pi0 servers answer
(50, 32) float32 (6.4 kB) and their timing. 8 MB is 500 times the largest, so only a broken or
hostile server reaches it; `?max_frame_mb=M` raises it for a server that sends more."""


def observation_frame_bytes(image_size) -> int:
    """The default bound (bytes) on an observation message for a policy of `image_size` (H, W) px.

    Derived from the observation spec, not measured: every camera an EgoEnv can render
    (`OBSERVATION_CAMERAS`, 5) as (H, W, 3) uint8, i.e. 5 * H * W * 3 bytes, plus
    `FRAME_SLACK_BYTES` (1 MiB). An egogym client sends only the cameras it renders, so its
    observations stay under this with room to spare: 32x32 images give 1.06 MB, the Aria's
    480x640 5.66 MB. A client rendering at another size than the policy's is refused by the
    policy anyway; a client sending more (other robots' keys) needs `--max-frame-mb`."""
    h, w = (int(x) for x in image_size)
    return len(OBSERVATION_CAMERAS) * h * w * 3 + FRAME_SLACK_BYTES


def set_send_timeout(sock: socket.socket, seconds: float) -> None:
    """Make a blocking send on `sock` fail after `seconds` without progress (SO_SNDTIMEO).

    websockets' synchronous connections write with a blocking `sendall` under the
    connection's lock, and have no write timeout of their own: a peer that stops reading
    fills the socket buffers and blocks that send, and the keepalive ping behind it,
    forever. With SO_SNDTIMEO the send raises (EAGAIN) once the peer has read nothing for
    `seconds`, and websockets closes the connection. The receive side is untouched (an idle
    peer is the keepalive's business)."""
    if sys.platform == "win32":
        value = struct.pack("I", int(seconds * 1000))  # a DWORD of milliseconds
    else:
        whole = int(seconds)
        value = struct.pack("ll", whole, int((seconds - whole) * 1e6))  # struct timeval
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def token_header(token: str) -> dict[str, str]:
    """The HTTP header that carries `token`, openpi's (`WebsocketClientPolicy(api_key=...)`)."""
    return {"Authorization": f"Api-Key {token}"}


# ---- msgpack-numpy, the wire format -----------------------------------------------

def _encode(obj: Any) -> Any:
    """msgpack's `default` hook: numpy arrays and scalars as openpi's maps."""
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.kind in "OVc":
            raise TypeError(f"cannot send a numpy {obj.dtype} value over the policy protocol (numbers only)")
        if isinstance(obj, np.generic):
            return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
        return {b"__ndarray__": True, b"data": np.ascontiguousarray(obj).tobytes(), b"dtype": obj.dtype.str,
                b"shape": list(obj.shape)}
    raise TypeError(f"cannot send a {type(obj).__name__} over the policy protocol")


def _decode(obj: dict) -> Any:
    """msgpack's `object_hook`: openpi's maps back to numpy (arrays copied, so writable).
    Object, void and complex dtypes are refused here as in `_encode` (numbers only)."""
    if b"__ndarray__" in obj:
        dtype = np.dtype(obj[b"dtype"])
        if dtype.kind in "OVc":
            raise TypeError(f"a numpy {dtype} array arrived; the policy protocol carries numbers only")
        return np.frombuffer(obj[b"data"], dtype=dtype).reshape(obj[b"shape"]).copy()
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def pack(message: dict) -> bytes:
    """One message (a dict of numbers, strings, numpy arrays, nested dicts) as msgpack bytes."""
    import msgpack

    return msgpack.packb(message, default=_encode)


def unpack(data: bytes) -> Any:
    """The inverse of `pack` (and of openpi's `msgpack_numpy.packb`)."""
    import msgpack

    return msgpack.unpackb(data, object_hook=_decode)


def require_libraries(what: str) -> None:
    """A one-line UserError when websockets or msgpack is missing."""
    try:
        import msgpack  # noqa: F401
        import websockets.sync.client  # noqa: F401
    except ImportError as e:
        raise UserError(f"{what} needs websockets and msgpack ({e}): {INSTALL}") from None


# ---- the address ---------------------------------------------------------------------

@dataclass(frozen=True)
class RemoteAddress:
    """A `--policy ws://HOST:PORT[/PATH][?k=K&stride=S&timeout=T&reconnect=R&max_frame_mb=M]` parsed.

    uri: what is connected to (without egogym's parameters); k, stride: the schedule
    override (None: the metadata's, else EgoMimic's); timeout: seconds a query may take
    before the episode is aborted (default 30; also the send timeout); reconnect: seconds
    the next episode waits for a lost server to come back (default 60); connect: seconds
    the first connection may take (default 10); max_frame_mb: the largest message accepted
    from the server, MB (default `DEFAULT_ANSWER_FRAME_BYTES`, 8 MB)."""

    text: str
    uri: str
    k: int | None = None
    stride: int | None = None
    timeout: float = 30.0
    reconnect: float = 60.0
    connect: float = 10.0
    max_frame_mb: float | None = None

    PARAMS = ("k", "stride", "timeout", "reconnect", "connect", "max_frame_mb")

    @property
    def max_frame_bytes(self) -> int:
        """The client's bound on one message from the server (bytes)."""
        return DEFAULT_ANSWER_FRAME_BYTES if self.max_frame_mb is None else int(self.max_frame_mb * MB)

    @classmethod
    def parse(cls, text: str) -> "RemoteAddress":
        parts = urlsplit(text)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise UserError(f"--policy {text}: give ws://HOST:PORT (a server of openpi's websocket protocol)")
        try:
            parts.port
        except ValueError:
            raise UserError(f"--policy {text}: the port is not a number; give ws://HOST:PORT") from None
        values: dict[str, Any] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key not in cls.PARAMS:
                raise UserError(f"--policy {text}: unknown parameter {key!r}; egogym reads {', '.join(cls.PARAMS)}")
            try:
                values[key] = int(value) if key in ("k", "stride") else float(value)
            except ValueError:
                raise UserError(f"--policy {text}: {key}={value!r} is not a number") from None
            if values[key] <= 0:
                raise UserError(f"--policy {text}: {key}={value} must be positive")
        uri = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return cls(text, uri, **values)


# ---- the client ----------------------------------------------------------------------

def resolve_schedule(address: RemoteAddress, meta: dict, control_hz: float | None) -> tuple[Execution, int, str]:
    """(execution, stride in control steps, the schedule in words with where it came from) for
    a server's metadata and the URL's overrides (module docstring); control_hz: the env's
    rate, checked against the metadata's `control_hz` (None: not checked)."""
    a, where = address, "the server's metadata"
    hz = meta.get("control_hz")
    if control_hz is not None and hz is not None and abs(float(hz) - control_hz) > 1e-9 and a.stride is None:
        raise UserError(f"--policy {a.text}: the server's chunks are for a {float(hz):g} Hz robot, this env "
                        f"runs at {control_hz:g} Hz; give ?stride=S (control steps per chunk point)")
    if "execution" in meta:
        try:
            execution = execution_from_dict(dict(meta["execution"]))
        except (ConfigError, TypeError, ValueError) as e:
            raise UserError(f"--policy {a.text}: the server's metadata names an execution egogym does not "
                            f"know ({e}); override it with ?k=K") from None
        stride = int(meta.get("chunk_stride_steps", DEFAULT_STRIDE))
    else:
        execution, stride, where = DEFAULT_EXECUTION, DEFAULT_STRIDE, "EgoMimic's default (no execution in the metadata)"
    if a.k is not None:
        execution, where = FirstK(a.k), "the --policy URL"
    if a.stride is not None:
        stride, where = a.stride, "the --policy URL"
    if isinstance(execution, TemporalEnsemble) and not meta.get("chunk"):
        raise UserError(f"--policy {a.text}: temporal ensembling needs the chunk length (metadata 'chunk'); "
                        f"the server sends none: give ?k=K for a first-k schedule")
    if isinstance(execution, FirstK):
        words = f"the first {execution.k} points of each chunk"
    else:
        words = f"temporal ensembling (m={execution.m:g}) over {meta['chunk']}-point chunks"
    return execution, stride, f"{words}, each point held {stride} control step(s); from {where}"


_SEEN: dict[str, dict] = {}
"""The metadata last received from each address in this process: the evaluation summary,
written after the last episode, describes the server even when it has gone by then."""


def remote_metadata(text: str) -> dict:
    """The metadata of the server at `text` (ws://...): read from a short connection, or the
    last one received in this process; a one-line UserError when nothing answers."""
    address = RemoteAddress.parse(text)
    if address.uri not in _SEEN:
        require_libraries(f"--policy {text}")
        try:
            ws, _SEEN[address.uri] = _connect(address, address.connect)
        except (TimeoutError, ConnectionError, *_errors()) as e:
            raise UserError(_down(address, e)) from None
        ws.close()
    return _SEEN[address.uri]


def describe_remote(text: str) -> dict:
    """JSON-able for the evaluation summary: the address, the schedule and the metadata (or
    why they are unknown: the server unreachable and never reached in this process)."""
    address = RemoteAddress.parse(text)
    try:
        meta = remote_metadata(text)
    except UserError as e:
        return {"uri": address.uri, "schedule": None, "metadata": None, "unknown_because": str(e)}
    return {"uri": address.uri, "schedule": resolve_schedule(address, meta, None)[2], "metadata": _jsonable(meta)}


def _down(address: RemoteAddress, e: BaseException) -> str:
    return (f"--policy {address.text}: no policy server answers at {address.uri} ({_why(e)}); start one there "
            f"(egogym serve RUN --port PORT, or openpi's serve_policy.py) or correct the host and port")


def _connect(address: RemoteAddress, timeout: float):
    """(connection, metadata) or an OSError / websockets error / TimeoutError; a UserError
    when the server refuses the token (HTTP 401/403: retrying cannot help). timeout: seconds
    for the handshake and the metadata."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    token = os.environ.get(TOKEN_ENV) or None
    # Direct (proxy=None: a robot's LAN, not the machine's HTTP proxy). The connection outlives
    # this call, so it is entered here and closed by RemotePolicy.close / _drop rather than in a
    # with-block (websockets >= 17 warns about a connection used without entering it).
    try:
        ws = connect(address.uri, compression=None, max_size=address.max_frame_bytes, open_timeout=timeout,
                     proxy=None, additional_headers=token_header(token) if token else None).__enter__()
    except InvalidStatus as e:
        code = e.response.status_code
        if code in (401, 403):
            why = "wrong token" if token else f"no token sent: {TOKEN_ENV} is not set"
            raise UserError(f"--policy {address.text}: the server refused the connection (HTTP {code}, {why}); "
                            f"set {TOKEN_ENV} to the token the server was started with") from None
        raise
    set_send_timeout(ws.socket, address.timeout)  # a server that stops reading fails the query, not the evaluation
    try:
        first = ws.recv(timeout=timeout)
    except BaseException:
        ws.close()
        raise
    if isinstance(first, str):
        ws.close()
        raise ConnectionError(f"the server sent text instead of its metadata: {_last_line(first)}")
    meta = unpack(first)
    if not isinstance(meta, dict):
        ws.close()
        raise ConnectionError(f"the server's first message is a {type(meta).__name__}, not its metadata dict")
    return ws, meta


def _last_line(text: str) -> str:
    lines = [x.strip() for x in str(text).strip().splitlines() if x.strip()]
    return lines[-1] if lines else "(empty)"


def _errors() -> tuple[type[BaseException], ...]:
    """What a lost connection raises: the socket's errors and websockets' ConnectionClosed."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    return (OSError, ConnectionClosed, InvalidHandshake, InvalidURI)


class RemotePolicy:
    """An `egogym.core.protocols.Policy` served over openpi's websocket protocol (see the module docstring).

    address: the parsed `--policy`; action_dim: the env's action size (7 per arm);
    control_hz: the env's control rate (Hz). Connects on construction (a `UserError` when
    nothing answers). After each query: `last_chunk_joints` (P, D) the received chunk,
    `last_chunk_xyz` (P, 3k) the pinch points in the Aria frame (m) when the server sends
    `xyz` (egogym serve does), and `last_query_step` (control steps since reset)."""

    def __init__(self, address: RemoteAddress, action_dim: int, control_hz: float):
        require_libraries(f"--policy {address.text}")
        self.address, self.action_dim, self.control_hz = address, int(action_dim), float(control_hz)
        self._ws = None
        try:
            self._ws, self.metadata = _connect(address, address.connect)
            _SEEN[address.uri] = self.metadata
        except (TimeoutError, ConnectionError, *_errors()) as e:
            raise UserError(_down(address, e)) from None
        try:
            self.execution, self.stride, self.schedule = resolve_schedule(address, self.metadata, self.control_hz)
        except UserError:
            self._drop()
            raise
        self.executor = make_executor(self.execution, int(self.metadata.get("chunk", 0)) or 1)
        self._latencies: list[float] = []
        self._server_ms: list[float] = []
        self.reset()

    def describe(self) -> dict:
        """JSON-able: the address, the schedule and the server's metadata."""
        return {"uri": self.address.uri, "schedule": self.schedule, "metadata": _jsonable(self.metadata)}

    # ---- Policy --------------------------------------------------------------
    def reset(self) -> None:
        """A new episode: clear the chunk queue and the latencies; connect again if the last
        episode lost the server (waiting up to `reconnect` s, then a UserError)."""
        self.executor.reset()
        self._step = 0
        self._current: np.ndarray | None = None
        self.last_chunk_joints = self.last_chunk_xyz = None
        self.last_query_step: int | None = None
        self._latencies, self._server_ms = [], []
        if self._ws is not None and not _is_open(self._ws):  # closed between episodes (a server restarted)
            self._drop()
        if self._ws is None:
            self._reconnect()

    def reads_images(self) -> bool:
        """True on the steps whose `act` queries the server (the others replay the chunk)."""
        return self._step % self.stride == 0 and self.executor.needs_query()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Joint targets for this control step, (action_dim,) float64; queries the server when
        the schedule asks (PolicyUnavailable when it cannot be reached)."""
        if self._step % self.stride == 0:
            if self.executor.needs_query():
                self.executor.add(self._query(obs))
                self.last_query_step = self._step
            self._current = self.executor.next()
        self._step += 1
        return np.array(self._current, dtype=np.float64)

    def query_latency_ms(self) -> dict | None:
        """This episode's query round trips (ms): n, mean, p50, p95, max, and the server's
        own `infer_ms` mean when it reports one; None before any query."""
        if not self._latencies:
            return None
        x = np.asarray(self._latencies)
        out = {"n": int(x.size), "mean": _r(x.mean()), "p50": _r(np.percentile(x, 50)),
               "p95": _r(np.percentile(x, 95)), "max": _r(x.max())}
        if self._server_ms:
            out["server_infer_mean"] = _r(np.mean(self._server_ms))
        return out

    def close(self) -> None:
        """Close the connection (a later `reset` connects again)."""
        self._drop()

    # ---- the wire ------------------------------------------------------------
    def _query(self, obs: dict) -> np.ndarray:
        a = self.address
        if self._ws is None:
            raise PolicyUnavailable(f"policy server {a.uri}: not connected")
        data = pack({k: np.asarray(v) for k, v in obs.items()})
        limit = self.metadata.get("max_frame_bytes")
        if isinstance(limit, int) and len(data) > limit:  # the server would close on it; say why instead
            raise UserError(f"--policy {a.text}: an observation is {len(data) / MB:.2f} MB, the server accepts "
                            f"messages up to {limit / MB:.2f} MB; evaluate with a smaller --image-size or fewer "
                            f"cameras, or restart the server with a larger --max-frame-mb")
        t0 = time.perf_counter()
        try:
            self._ws.send(data)
            reply = self._ws.recv(timeout=a.timeout)
        except TimeoutError:
            self._drop()  # a late answer must not be read as the next one
            raise PolicyUnavailable(f"policy server {a.uri}: no answer within {a.timeout:g} s (query "
                                    f"{len(self._latencies) + 1} of the episode; raise ?timeout=S)") from None
        except _errors() as e:
            self._drop()
            too_big = _too_big(e)
            if too_big == "sent":
                raise UserError(f"--policy {a.text}: the server refused the observation as too big ({_why(e)}); "
                                f"restart it with a larger --max-frame-mb, or send smaller images") from None
            if too_big == "received":
                raise UserError(f"--policy {a.text}: the server's answer is over this client's bound of "
                                f"{a.max_frame_bytes / MB:g} MB ({_why(e)}); raise it with ?max_frame_mb=M") from None
            raise PolicyUnavailable(f"policy server {a.uri}: connection lost ({_why(e)})") from None
        self._latencies.append((time.perf_counter() - t0) * 1000.0)
        if isinstance(reply, str):
            self._drop()
            raise UserError(f"--policy {a.text}: the server failed on the observation: {_last_line(reply)}")
        return self._chunk(unpack(reply))

    def _chunk(self, reply: Any) -> np.ndarray:
        a = self.address
        if not isinstance(reply, dict) or "actions" not in reply:
            raise UserError(f"--policy {a.text}: the server's answer has no 'actions' "
                            f"(keys {sorted(reply) if isinstance(reply, dict) else type(reply).__name__})")
        chunk = np.asarray(reply["actions"], dtype=np.float64)
        if chunk.ndim == 1:
            chunk = chunk[None]
        if chunk.ndim != 2 or chunk.shape[1] != self.action_dim:
            raise UserError(f"--policy {a.text}: the server's actions are {chunk.shape}, this env takes chunks "
                            f"of (P, {self.action_dim}); serve a policy for this robot's arms")
        if isinstance(self.execution, FirstK) and len(chunk) < self.execution.k:
            raise UserError(f"--policy {a.text}: the server's chunks have {len(chunk)} points, fewer than the "
                            f"{self.execution.k} the schedule plays; give ?k={len(chunk)} or less")
        if isinstance(self.execution, TemporalEnsemble) and len(chunk) != int(self.metadata["chunk"]):
            raise UserError(f"--policy {a.text}: the server's chunks have {len(chunk)} points, its metadata says "
                            f"{int(self.metadata['chunk'])}; temporal ensembling needs them equal (or give ?k=K)")
        timing = reply.get("server_timing")
        if isinstance(timing, dict) and "infer_ms" in timing:
            self._server_ms.append(float(timing["infer_ms"]))
        self.last_chunk_joints = chunk
        xyz = reply.get("xyz")
        self.last_chunk_xyz = None if xyz is None else np.asarray(xyz, dtype=np.float64)
        return chunk

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except _errors():
                pass  # already gone; the connection is dropped either way

    def _reconnect(self) -> None:
        a, deadline, last = self.address, time.monotonic() + self.address.reconnect, None
        while True:
            try:
                self._ws, meta = _connect(a, min(a.connect, max(1.0, deadline - time.monotonic())))
            except (TimeoutError, ConnectionError, *_errors()) as e:
                last = e
                if time.monotonic() >= deadline:
                    raise UserError(f"--policy {a.text}: the policy server was lost and did not come back within "
                                    f"{a.reconnect:g} s ({_why(last)}); restart it and continue with --resume "
                                    f"and the same --policy") from None
                time.sleep(0.5)
                continue
            again = resolve_schedule(a, meta, self.control_hz)
            if again != (self.execution, self.stride, self.schedule):
                self.close()
                raise UserError(f"--policy {a.text}: the server came back with another schedule ({again[2]}); "
                                f"one evaluation runs one policy: use another --out")
            self.metadata = _SEEN[a.uri] = meta
            return


def _too_big(e: BaseException) -> str | None:
    """"sent" when the server closed the connection because our message was over its bound
    (close code 1009), "received" when this client closed it over the server's message, else None."""
    from websockets.exceptions import ConnectionClosed
    from websockets.frames import CloseCode

    if not isinstance(e, ConnectionClosed):
        return None
    # The side that closes first names the code and the other echoes it: rcvd_then_sent says who began.
    if e.rcvd is not None and e.rcvd.code == CloseCode.MESSAGE_TOO_BIG and e.rcvd_then_sent is not False:
        return "sent"
    if e.sent is not None and e.sent.code == CloseCode.MESSAGE_TOO_BIG and not e.rcvd_then_sent:
        return "received"
    return None


def _is_open(ws) -> bool:
    from websockets.protocol import State

    return ws.state is State.OPEN


def _why(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return _last_line(text)


def _r(x: float) -> float:
    return round(float(x), 3)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {(k.decode() if isinstance(k, bytes) else str(k)): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist() if x.size <= 64 else f"array {x.dtype} {list(x.shape)}"
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, bytes):
        return f"{len(x)} bytes"
    return x


def connect_remote(text: str, env) -> RemotePolicy:
    """The policy served at `text` (ws://HOST:PORT[?...]) for `env` (an EgoEnv or a wrapper of
    one): connected, its schedule resolved, the metadata's `image_size` and `action_dim`
    checked against the env (one-line UserErrors)."""
    env = getattr(env, "unwrapped", env)
    policy = RemotePolicy(RemoteAddress.parse(text), int(env.action_space.shape[0]), float(env.robot.control_hz))
    meta, size = policy.metadata, getattr(env, "image_size", None)
    want = meta.get("image_size")
    if want and size is not None and tuple(int(x) for x in want) != tuple(size):
        policy.close()
        raise UserError(f"--policy {text}: the served policy was trained on {want[0]}x{want[1]} images, the env "
                        f"renders {size[0]}x{size[1]}: evaluate with --image-size {want[0]} {want[1]}")
    dim = meta.get("action_dim")
    if dim is not None and int(dim) != policy.action_dim:
        policy.close()
        raise UserError(f"--policy {text}: the served policy drives {int(dim)} action values, this env "
                        f"{policy.action_dim}: make the env with the arms the policy was trained for")
    return policy
