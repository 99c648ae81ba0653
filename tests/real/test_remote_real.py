"""A policy served over openpi's websocket protocol drives the (fake) real robot through the same
loop: commands pass the safety layer, the operator scores each episode, and a query the server
does not answer within the timeout aborts only its episode (tests/eval/test_remote.py covers the
protocol and the sim)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("websockets", reason="remote policies need the remote extra (pip install -e '.[remote]')")

from egogym.eval.config import EvalConfig  # noqa: E402
from egogym.eval.rollout import make_policy, run_episode  # noqa: E402

from .conftest import SIZE, Rig, assert_commands_safe  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
from remote_fakes import HoldServer  # noqa: E402


def test_remote_policy_on_the_fake_robot(options):
    server = HoldServer(block_at=2, metadata={"image_size": list(SIZE), "cameras": None}).start()
    url = f"ws://127.0.0.1:{server.port}?timeout=5"
    rig = Rig(options)
    rig.answers = ["", "1", "y", "", "", "0", "n", "server stalled", "", "0", "n", ""]  # scene, points, success, notes
    env = rig.make_env(max_episode_steps=30)
    limits = env.unwrapped.backend.config.safety
    config = EvalConfig(policy=url, backend="real", episodes=3, max_steps=30)
    try:
        policy = make_policy(config.policy_spec, env)
        records = [run_episode(env, policy, s, s - config.start_seed, config, repeat=1) for s in config.seeds]
        policy.close()
    finally:
        env.close()
        server.stop()
        rig.hw.release()
    assert [r["status"] for r in records] == ["done", "aborted", "done"]
    assert (records[0]["points"], records[0]["success"], records[0]["steps"]) == (1, True, 30)
    assert records[1]["reason"].startswith("policy unavailable at step 0: ") and "no answer within 5 s" in records[1]["reason"]
    assert records[1]["notes"] == "server stalled"
    assert records[0]["query_latency_ms"]["n"] == 1 and records[2]["query_latency_ms"]["n"] == 1
    assert_commands_safe(rig.hw.arms["right"], "right", limits)
