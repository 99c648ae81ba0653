"""A torch-free policy server for the remote-policy tests, with faults injected at a chosen query.

    python tests/eval/remote_fakes.py --port 0 [--die-at N]    # prints "port P", then serves

The policy holds the observed joint positions for a 100-point chunk; its metadata names the
Aria camera and 32x32 images but no execution (so the client uses EgoMimic's default
schedule). `--die-at N`: the process ends at its N-th query with os._exit (as a kill -9 does:
the OS closes the socket, no websocket close frame), before answering.
`HoldServer(block_at=N)` (in-process): the N-th query blocks until `release` is set.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading

import numpy as np

from egogym.policies.serve import PolicyServer

METADATA = {"policy": "hold (test)", "cameras": ["front_img_1"], "image_size": [32, 32], "action_dim": 7}


class HoldServer:
    def __init__(self, port: int = 0, die_at: int | None = None, block_at: int | None = None,
                 metadata: dict | None = None):
        self.queries, self.die_at, self.block_at = 0, die_at, block_at
        self.release = threading.Event()
        self.server = PolicyServer(self.infer, {**METADATA, **(metadata or {})}, "127.0.0.1", port)
        self.port = self.server.port

    def infer(self, obs: dict) -> dict:
        self.queries += 1
        if self.queries == self.die_at:
            os._exit(1)
        if self.queries == self.block_at:
            self.release.wait(120)
        return {"actions": np.tile(np.asarray(obs["joint_positions"], np.float64), (100, 1))}

    def start(self) -> "HoldServer":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--die-at", type=int)
    a = p.parse_args()
    s = HoldServer(a.port, die_at=a.die_at)
    print(f"port {s.port}", flush=True)
    sys.stdout.flush()
    s.server.serve_forever()
