"""`egogym serve RUN --port P [--host H]`: serve a checkpoint in openpi's websocket protocol.

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
model's) and `image_size` [H, W].
Queries are answered one at a time (one model, one lock), so clients are served in turn.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

import numpy as np

from egogym.core.errors import UserError
from egogym.policies.config import DEVICE_HELP
from egogym.core.spec import EGOMIMIC
from egogym.core.views import FRONT, JOINT_POSITIONS
from egogym.policies.remote import pack, require_libraries, unpack


class ObservationError(ValueError):
    """An observation the served policy cannot use; its message goes back to the client."""


class PolicyServer:
    """openpi's websocket protocol over `infer`; `port=0` picks a free port (see `.port`)."""

    def __init__(self, infer: Callable[[dict], dict], metadata: dict, host: str = "0.0.0.0", port: int = 8000,
                 log: Callable[[str], None] | None = None):
        require_libraries("egogym serve")
        from websockets.sync.server import serve

        self.infer, self.metadata, self.log = infer, dict(metadata), log or (lambda msg: None)
        try:
            self._server = serve(self._handle, host, port, compression=None, max_size=None,
                                 process_request=_health_check)
        except OSError as e:
            raise UserError(f"egogym serve: cannot listen on {host}:{port} ({e.strerror or e}); choose another "
                            f"--port, or stop what uses it") from None
        self.host, self.port = host, int(self._server.socket.getsockname()[1])

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        """Stop listening and close the connections (from another thread than serve_forever's)."""
        self._server.shutdown()

    def _handle(self, conn) -> None:
        from websockets.exceptions import ConnectionClosed

        peer = conn.remote_address
        self.log(f"connection from {peer[0]}:{peer[1]}")
        prev_total_ms = None
        try:
            conn.send(pack(self.metadata))
            while True:
                data = conn.recv()
                t0 = time.monotonic()
                try:
                    if isinstance(data, str):
                        raise ObservationError("send msgpack-numpy bytes, not text")
                    obs = unpack(data)
                    if not isinstance(obs, dict):
                        raise ObservationError(f"the observation is a {type(obs).__name__}, not a dict")
                    t1 = time.monotonic()
                    reply = dict(self.infer(obs))
                    infer_ms = (time.monotonic() - t1) * 1000.0
                except Exception as e:  # noqa: BLE001 - every failure goes back to the client, as openpi's server does
                    message = str(e) if isinstance(e, ObservationError) else traceback.format_exc()
                    self.log(f"refused a query from {peer[0]}:{peer[1]}: {message.strip().splitlines()[-1]}")
                    conn.send(message)
                    conn.close(code=1011, reason="the policy failed on the observation; its error is the previous frame")
                    return
                reply["server_timing"] = {"infer_ms": infer_ms}
                if prev_total_ms is not None:
                    reply["server_timing"]["prev_total_ms"] = prev_total_ms
                conn.send(pack(reply))
                prev_total_ms = (time.monotonic() - t0) * 1000.0
        except ConnectionClosed:
            self.log(f"connection from {peer[0]}:{peer[1]} closed")


def _health_check(connection, request):
    import http

    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None


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
    p.add_argument("--port", type=int, default=8000, help="port to listen on (0: a free one, printed)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default: every interface)")
    p.add_argument("--threads", type=int, help="torch threads (default: the cores less one)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: give a port in 0..65535")
    if not Path(args.run).is_dir():
        raise UserError(f"egogym serve {args.run}: not a folder; give a run folder of `egogym train`")
    require_libraries("egogym serve")
    import torch

    from egogym.policies.config import default_threads

    from egogym.policies.device import resolve_device

    torch.set_num_threads(args.threads or default_threads(1))
    policy = CheckpointPolicy(args.run, resolve_device(args.device))
    log = lambda msg: print(f"egogym serve: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    server = PolicyServer(policy, policy.metadata, args.host, args.port, log=log)
    m = policy.metadata
    print(f"egogym serve: {m['egogym']['checkpoint']} (step {m['egogym']['step']}) on "
          f"ws://{args.host}:{server.port}; evaluate with egogym eval --policy ws://HOST:{server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()
    return 0
