"""Tasks as declarations: one episode distribution for every embodiment.

Seeds keep meaning the placements they had before (a golden file recorded by the earlier
code), the simulated human meets the robot's placement for a seed, the appearance axes change
what the cameras see and never where things are, and the scripted expert handles every toy."""
from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import egogym  # noqa: F401
from egogym.tasks import TASKS, make_task
from egogym.tasks.objects import COLOURS, DISTRACTORS, LIGHTS, TOYS

GOLDEN = json.loads((Path(__file__).parent / "placements_golden.json").read_text())
PLACEMENT = ("toy", "toy_xy", "toy_yaw", "bowl_xy")
CASES = {"object_in_bowl": ("object_in_bowl", "egogym/ObjectInBowl-v0"),
         "object_in_bowl_robot_region": ("object_in_bowl", "egogym/ObjectInBowl-v0"),
         "handover": ("handover", "egogym/HandOver-v0")}
"""Golden case -> (task name, env id)."""


def _placement(start: dict) -> dict:
    return {k: start[k] for k in PLACEMENT}


@pytest.mark.parametrize("case", sorted(CASES))
def test_seeds_keep_their_placements(case):
    """Every recorded seed: the declaration's draw and the sim env's reset give exactly the
    placement the code before the declarations gave (so committed ablation cells stay comparable)."""
    g, (name, env_id) = GOLDEN[case], CASES[case]
    task = make_task(name, **g["task_options"])
    for seed, start in g["starts"].items():
        drawn = task.sample_episode(np.random.default_rng(int(seed))).to_dict()
        assert _placement(drawn) == start, seed
    env = gym.make(env_id, image_size=(16, 16), cameras=(), task_options=g["task_options"])
    for seed in list(g["starts"])[:8]:
        _, info = env.reset(seed=int(seed))
        assert _placement(info["start"]) == g["starts"][seed], seed
    env.close()


OPTIONS = [{}, {"toy_region": [[0.08, 0.30], [-0.36, -0.19]]},
           {"toys": ["block", "can", "cube"], "toy_colours": ["blue", "pink"], "table_colours": ["white", "black"],
            "lights": ["dim", "warm"], "distractors": ["mug", "none"]}]


@pytest.mark.parametrize("options", OPTIONS)
def test_the_human_demo_meets_the_robots_placement(options):
    """For a seed, the simulated human's toy, bowl and appearance are the task's, as the robot's
    env draws them."""
    from egogym.sim.human import HumanConfig, HumanDemonstrator

    env = gym.make("egogym/ObjectInBowl-v0", image_size=(16, 16), cameras=(), task_options=options)
    with HumanDemonstrator(HumanConfig(image_size=(16, 16), task=make_task("object_in_bowl", **options))) as human:
        for seed in range(6):
            _, info = env.reset(seed=seed)
            plan = human.plan_episode(seed)
            assert plan.episode.to_dict() == info["start"]
            np.testing.assert_allclose(plan.toy_pos[:2], info["start"]["toy_xy"], atol=0)
            np.testing.assert_allclose(plan.bowl[:2], info["start"]["bowl_xy"], atol=0)
    env.close()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), toy_colours=st.lists(st.sampled_from(sorted(COLOURS)), max_size=3),
       lights=st.lists(st.sampled_from(sorted(LIGHTS)), min_size=1, max_size=3),
       distractors=st.lists(st.sampled_from([*DISTRACTORS, "none"]), max_size=3))
def test_appearance_never_moves_the_placement(seed, toy_colours, lights, distractors):
    """The appearance comes from a child generator: any appearance options leave the seed's
    placement as the default task places it, and draw only from their own lists."""
    plain = make_task("object_in_bowl").sample_episode(np.random.default_rng(seed))
    task = make_task("object_in_bowl", toy_colours=toy_colours, lights=lights, distractors=distractors)
    e = task.sample_episode(np.random.default_rng(seed))
    assert _placement(e.to_dict()) == _placement(plain.to_dict())
    assert e == task.sample_episode(np.random.default_rng(seed))
    a = e.appearance
    assert a.toy_colour in (toy_colours or [TOYS[e.toy].colour]) and a.light in lights
    assert (a.distractor or "none") in (distractors or ["none"])
    if a.distractor:
        assert min(np.hypot(*np.subtract(a.distractor_xy, e.toy_xy)), np.hypot(*np.subtract(a.distractor_xy, e.bowl_xy))) > 0.05


def _front(options: dict, seed: int = 3) -> np.ndarray:
    env = gym.make("egogym/ObjectInBowl-v0", image_size=(96, 128), cameras=("front_img_1",), task_options=options)
    obs, _ = env.reset(seed=seed)
    env.close()
    return obs["front_img_1"].astype(float)


def test_appearance_axes_change_what_the_camera_sees():
    base = _front({})
    toy = _front({"toy_colours": ["blue"]})
    changed = np.abs(toy - base).sum(-1) > 30
    assert 0 < changed.mean() < 0.02  # only the toy's pixels
    assert toy[changed][:, 2].mean() > base[changed][:, 2].mean() + 40  # bluer
    table = _front({"table_colours": ["black"]})
    assert (np.abs(table - base).sum(-1) > 30).mean() > 0.3 and table.mean() < base.mean() - 20
    dim, bright = _front({"lights": ["dim"]}), _front({"lights": ["bright"]})
    assert dim.mean() < base.mean() - 5 < bright.mean() - 10
    d = _front({"distractors": ["box"]})
    assert 0 < (np.abs(d - base).sum(-1) > 30).mean() < 0.05


def test_every_episode_sets_every_axis_back():
    """A default-looking episode after a changed one renders as in a fresh env: the model keeps
    no colour or light from the episode before."""
    mixed = gym.make("egogym/ObjectInBowl-v0", image_size=(48, 64), cameras=("front_img_1",),
                     task_options={"lights": ["dim", "default"], "table_colours": ["black"]})
    plain = gym.make("egogym/ObjectInBowl-v0", image_size=(48, 64), cameras=("front_img_1",),
                     task_options={"table_colours": ["black"]})
    seen = []
    for seed in range(12):
        obs, info = mixed.reset(seed=seed)
        seen.append(info["start"]["light"])
        if info["start"]["light"] == "default" and "dim" in seen:
            assert np.array_equal(obs["front_img_1"], plain.reset(seed=seed)[0]["front_img_1"])
            break
    else:
        pytest.fail(f"no default episode after a dim one in {seen}")
    mixed.close()
    plain.close()


def test_bad_axis_values_fail_with_one_line():
    with pytest.raises(ValueError, match="toy_colours: 'mauve' is not one of: red"):
        make_task("object_in_bowl", toy_colours=["mauve"])
    with pytest.raises(ValueError, match="lights='dim': give a list of names"):
        make_task("object_in_bowl", lights="dim")
    with pytest.raises(ValueError, match="lights=\\[\\]: give at least one"):
        make_task("object_in_bowl", lights=[])
    with pytest.raises(ValueError, match="has no option 'toy_colour'; did you mean 'toy_colours'"):
        make_task("object_in_bowl", toy_colour=["red"])
    with pytest.raises(ValueError, match="arms must be 'both'"):
        gym.make("egogym/HandOver-v0", arms="right")


def test_the_reach_term_measures_the_active_arm():
    """arms='left' measures the left gripper's reach, not the right's."""
    dist = {}
    for arms in ("left", "right"):
        env = gym.make("egogym/ObjectInBowl-v0", image_size=(16, 16), cameras=(), arms=arms)
        obs, _ = env.reset(seed=2)
        _, _, _, _, info = env.step(obs["joint_positions"])
        dist[arms] = info["reward_terms"]["reach_distance"]
        env.close()
    assert abs(dist["left"] - dist["right"]) > 0.05


@pytest.mark.parametrize("toy", ["block", "can"])
def test_the_scripted_expert_handles_every_toy(toy):
    from egogym.sim.experts import make_expert, steps_to_first_point

    env = gym.make("egogym/ObjectInBowl-v0", image_size=(16, 16), cameras=(), task_options={"toys": [toy]})
    expert = make_expert(env)
    assert all(steps_to_first_point(env, expert, seed) is not None for seed in range(2))
    env.close()


def test_every_task_declaration_is_json_and_simulator_free():
    for name, cls in TASKS.items():
        task = cls()
        assert json.loads(json.dumps(task.describe()))["name"] == name
        e = task.sample_episode(np.random.default_rng(0))
        assert json.loads(json.dumps(e.to_dict())) == e.to_dict()
        assert f"x={e.toy_xy[0]:.2f} m" in task.operator_instructions(e)


def test_axes_are_options_of_collect_and_eval(tmp_path):
    """`egogym collect` (robot and human) and `egogym eval` take the axes as --task-option; the
    robot demo, the human demo and the evaluation episode of one seed meet the same placement,
    each dressed as its own options say."""
    import h5py

    from egogym.cli import main

    robot, human = tmp_path / "robot.hdf5", tmp_path / "human.hdf5"
    assert main(["collect", "--episodes", "1", "--seed", "7", "--out", str(robot), "--image-size", "32", "32",
                 "--max-steps", "3", "--no-progress", "--task-option", 'toy_colours=["blue"]']) == 0
    assert main(["collect", "--embodiment", "human", "--episodes", "1", "--seed", "7", "--out", str(human),
                 "--image-size", "32", "32", "--no-progress", "--task-option", 'toy_colours=["green"]']) == 0
    assert main(["eval", "--policy", "hold", "--episodes", "1", "--seed", "7", "--out", str(tmp_path / "ev"),
                 "--image-size", "32", "32", "--max-steps", "3", "--task-option", 'lights=["dim"]']) == 0
    with h5py.File(robot, "r") as f:
        r = json.loads(f["data/demo_0"].attrs["start"])
        assert json.loads(f["data"].attrs["env_args"])["task_options"] == {"toy_colours": ["blue"]}
    h = json.loads((tmp_path / "human.hdf5.recordings" / "episode_000007" / "recording.json").read_text())["start"]
    e = json.loads((tmp_path / "ev" / "episodes.jsonl").read_text().splitlines()[0])["start"]
    assert _placement(r) == _placement(h) == _placement(e)
    assert (r["toy_colour"], h["toy_colour"], e["light"]) == ("blue", "green", "dim")
