"""The evaluation loop (`eval.loop.run_episode` + `eval.records`) on the fake robot:
the same records as a sim evaluation, a fault mid-run aborts only its episode, earlier
episodes stay intact, and a resumed run finishes the rest."""
from __future__ import annotations

import numpy as np
import pytest

from egogym.eval.config import EvalConfig
from egogym.eval.rollout import run_episode
from egogym.eval.records import RECORD_FIELDS, RecordWriter, read_records

from .conftest import Rig


class HoldNearHome:
    """A policy: small sine moves around the arm's home command (7-D, right arm)."""

    def __init__(self, home):
        self.home, self.k = home, 0

    def reset(self):
        self.k = 0

    def act(self, obs):
        self.k += 1
        return self.home + 0.05 * np.sin(0.2 * self.k)


def _evaluate(rig, seeds, log, config, fault_seed=None):
    env = rig.make_env(max_episode_steps=config.max_steps)
    policy = HoldNearHome(env.unwrapped.backend.guard.home_target())
    done = {r["seed"] for r in read_records(log)[0]}
    try:
        with RecordWriter(log) as w:
            for s in seeds:
                if s in done:
                    continue
                cam = rig.hw.camera("right_wrist_img")
                if s == fault_seed:  # the wrist camera is unplugged a little into this episode
                    cam.inject("unplugged", rig.clock.now() + 0.2)
                w.append(run_episode(env, policy, s, s - config.start_seed, config, repeat=1))
                cam.clear()  # replugged before the next episode
    finally:
        env.close()


def test_real_evaluation_records_faults_and_resume(options, tmp_path):
    config = EvalConfig(policy="runs/none", backend="real", episodes=4, start_seed=100, max_steps=30)
    log = tmp_path / "episodes.jsonl"
    rig = Rig(options)
    # per episode: scene ready, points, success, notes
    rig.answers = ["", "1", "y", "", "", "0", "n", "slow", "", "0", "n", "camera froze"]
    _evaluate(rig, config.seeds[:3], log, config, fault_seed=101)
    recs, _ = read_records(log)
    assert [r["seed"] for r in recs] == [100, 101, 102]
    assert all(set(r) - {"notes", "start"} == set(RECORD_FIELDS) for r in recs)  # notes: the operator's, optional
    assert all(r["start"]["toy"] in ("cube", "cylinder") for r in recs)  # the placement the operator was shown
    assert (recs[0]["status"], recs[0]["points"], recs[0]["success"], recs[0]["steps"]) == ("done", 1, True, 30)
    assert recs[0]["sim_seconds"] == pytest.approx(30 / 50)
    assert recs[1]["status"] == "aborted"
    assert recs[1]["reason"].startswith("camera right_wrist_img: ")  # no frames since it was unplugged
    assert " s old" in recs[1]["reason"]
    assert recs[1]["steps"] < 30
    assert recs[2]["status"] == "done"  # the camera recovered after the reset (fault injected for one episode)
    before = log.read_bytes()

    # the run stops (operator quits at the scene prompt) and resumes later on a new backend
    rig2 = Rig(options)
    rig2.answers = ["q"]
    with pytest.raises(KeyboardInterrupt):
        _evaluate(rig2, config.seeds, log, config)
    assert log.read_bytes() == before  # earlier episodes intact
    rig3 = Rig(options)
    rig3.answers = ["", "2", "y", ""]
    _evaluate(rig3, config.seeds, log, config)
    recs, _ = read_records(log)
    assert [r["seed"] for r in recs] == [100, 101, 102, 103]
    assert log.read_bytes().startswith(before)
    assert (recs[3]["status"], recs[3]["points"]) == ("done", 2)


@pytest.mark.parametrize("fault,reason", [
    ("kill_sdk", "arm right: joint_states frozen"),
    ("limp", "arm right elbow: "),
])
def test_the_issue_s_hold_episodes_now_stop(options, fault, reason):
    """The measurement of issue 13: `--policy hold` on the real driver path, joint_states
    frozen (xs_sdk gone) or the elbow limp 1 s into a 150-step episode. Both used to run to
    `done`; now each is recorded `aborted` within its window."""
    from egogym.eval.rollout import make_policy

    rig = Rig(options)
    rig.answers = ["", "0", "n", ""]
    env = rig.make_env(max_episode_steps=150)
    config = EvalConfig(policy="hold", backend="real", episodes=1, max_steps=150)
    state = {}

    def at_one_second(now):
        if "t0" not in state and env.unwrapped.backend._steps == 1:
            state["t0"] = now
        if "t0" in state and not state.get("done") and now >= state["t0"] + 1.0:
            state["done"] = True
            fake = rig.hw.arms["right"]
            fake.kill_sdk() if fault == "kill_sdk" else fake.overload("elbow")

    rig.clock.listeners.append(at_one_second)
    try:
        rec = run_episode(env, make_policy(config.policy_spec, env), 0, 0, config, repeat=1)
    finally:
        env.close()
        rig.hw.release()
    assert rec["status"] == "aborted" and rec["reason"].startswith(reason)
    assert 50 <= rec["steps"] <= 50 + 20  # 1 s in, stopped within 0.4 s
