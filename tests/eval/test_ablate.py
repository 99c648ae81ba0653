"""The ablation grid: config checks, the cell plan, the report, and resume of a real
(small) grid. Training is replaced by a stand-in (the policies package trains for real;
here the "trained" policy of every cell is the scripted expert), everything else runs:
robot and human data collection, splits, evaluations, report."""
import json
import signal

import pytest

import egogym.eval.ablation.runner as ablate
import egogym.eval.rollout as loop
from egogym.core.errors import UserError
from egogym.eval.ablation import config_from_dict, equal_time_robot, plan_cells, write_report


def small_config(**over):
    d = {"name": "t", "image_size": [32, 32],
         "data": {"robot": [2], "human": [0, 2], "robot_max_steps": 300,
                  "robot_task_options": {"toy_region": [[0.08, 0.30], [-0.36, -0.19]]}},
         "train": {"steps": 2, "seeds": [0]},
         "eval": {"episodes": 2, "max_steps": 100, "workers": 1},
         "controls": {"equal_time": False}}
    d.update(over)
    return d


def test_the_three_distributions_are_task_options_checked_up_front():
    """Robot demos, human demos and evaluation each set the task's axes; a bad one fails when the
    config is read, naming its table."""
    data = {"robot": [2], "human": [0, 2], "robot_task_options": {"toy_colours": ["red"]},
            "human_task_options": {"toy_colours": ["red", "blue"], "distractors": ["mug", "none"]}}
    cfg = config_from_dict(small_config(data=data, eval={"task_options": {"toy_colours": ["blue"]}}))
    assert cfg.data.human_task_options["distractors"] == ["mug", "none"]
    with pytest.raises(UserError, match=r"\[data\] human_task_options: toy_colours: 'bleu' is not one of"):
        config_from_dict(small_config(data=dict(data, human_task_options={"toy_colours": ["bleu"]})))
    with pytest.raises(UserError, match=r"\[eval\] task_options: task 'object_in_bowl' has no option 'light'"):
        config_from_dict(small_config(eval={"task_options": {"light": ["dim"]}}))


def test_a_folder_of_an_older_config_resumes_when_only_new_defaults_differ(tmp_path):
    """A grid started before a config field existed (its ablation_config.json lacks it) resumes
    under the code that adds it with its default; another value of it is refused."""
    cfg = config_from_dict(small_config())
    old = cfg.to_dict()
    del old["data"]["human_demonstrator"], old["data"]["human_task_options"]
    (tmp_path / ablate.CONFIG_FILE).write_text(json.dumps(old))
    ablate.check_config(cfg, tmp_path)
    with pytest.raises(UserError, match="another config"):
        ablate.check_config(config_from_dict(small_config(data={"robot": [2], "human": [0, 2],
                                                                "human_demonstrator": "robot"})), tmp_path)
    with pytest.raises(UserError, match=r"\[data\] human_demonstrator: 'robots'"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_demonstrator": "robots"}))
    with pytest.raises(UserError, match=r"\[data\] human_rest: 'robots': use one of person, robot"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_rest": "robots"}))
    with pytest.raises(UserError, match=r"\[data\] human_horizon: 'robots': use one of egomimic, robot, robot-exact"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_horizon": "robots"}))
    with pytest.raises(UserError, match=r"\[data\] human_horizon = 'robot-exact', human_fps = None: a track at 30 fps"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_horizon": "robot-exact"}))
    config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_horizon": "robot-exact",
                                        "human_fps": 50.0}))
    with pytest.raises(UserError, match=r"\[data\] human_point: 'pinch': use one of palm, grip"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_point": "pinch"}))
    with pytest.raises(UserError, match=r"\[data\] human_tracking_dropout: 0.7: give a probability in \[0, 0.5\)"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_tracking_dropout": 0.7}))
    assert config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_tracking_dropout": 0})
                            ).data.human_tracking_dropout == 0
    with pytest.raises(UserError, match=r"\[data\] human_fps: -5: give a frame rate in Hz"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_fps": -5}))
    with pytest.raises(UserError, match=r"\[data\] human_replay_steps: replays the expert's episode past its first "
                                        r"point: give human_hand = \"replay\""):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_replay_steps": 400}))
    for labels in ({"human_horizon": "robot"}, {"human_point": "grip"}, {"human_picks": 3}, {"human_fill_gaps": 0.1}):
        with pytest.raises(UserError, match=r"\[data\] human_horizon, human_point, human_picks, human_fill_gaps: the "
                                            r"positive control's demos and chunks are the robot's own"):
            config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_demonstrator": "robot",
                                                **labels}))


def test_config_errors_are_one_line():
    with pytest.raises(UserError, match=r"\[train\]: unknown key 'step'; did you mean 'steps'"):
        config_from_dict(small_config(train={"step": 3}))
    with pytest.raises(UserError, match=r"needs a \[data\] table"):
        config_from_dict({"name": "x"})
    with pytest.raises(UserError, match="robot demo counts"):
        config_from_dict(small_config(data={"robot": [], "human": [0]}))
    with pytest.raises(UserError, match=r"\[train\] preset: unknown preset 'cpuu': did you mean 'cpu'"):
        config_from_dict(small_config(train={"preset": "cpuu"}))


def test_quickstart_names_a_bad_flag_before_any_work(tmp_path, capsys):
    from egogym.cli import main

    assert main(["quickstart", "--out", str(tmp_path / "qs"), "--preset", "cpuu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--preset cpuu: unknown preset; did you mean 'cpu'?" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "qs").exists()


def test_plan_and_controls():
    assert equal_time_robot(10, 1400) == 145  # one hour of human data ~ one hour of robot data
    assert equal_time_robot(10, 100) == 20
    cfg = config_from_dict(small_config(data={"robot": [10, 20], "human": [0, 100]}, train={"seeds": [0, 1]},
                                        controls={"equal_time": True, "equal_episodes": True},
                                        ablations=[{"name": "no_line", "train_args": ["--x"]}]))
    cells = plan_cells(cfg)
    names = {c.name for c in cells}
    assert len(names) == len(cells)
    # grid 2x2, equal time (10+10=20 duplicates the grid's r20_h0; 20+10=30), equal episodes (110, 120), 1 ablation
    for s in (0, 1):
        for n in ("r10_h0_base", "r10_h100_base", "r20_h0_base", "r20_h100_base", "r30_h0_base", "r110_h0_base",
                  "r120_h0_base", "r20_h100_no_line"):
            assert f"{n}_s{s}" in names
    assert len(cells) == 16
    # run order: the grid and equal time over every seed before equal episodes and ablations
    roles = [c.role for c in cells]
    assert max(i for i, r in enumerate(roles) if r in ("grid", "equal_time")) < \
        min(i for i, r in enumerate(roles) if r in ("equal_episodes", "ablation"))
    # ... one grid row (robot count) over every seed before the next; r20_h0 is r10's equal time
    assert [c.name for c in cells if c.role in ("grid", "equal_time")] == [
        "r10_h0_base_s0", "r10_h100_base_s0", "r20_h0_base_s0", "r10_h0_base_s1", "r10_h100_base_s1",
        "r20_h0_base_s1", "r20_h100_base_s0", "r30_h0_base_s0", "r20_h100_base_s1", "r30_h0_base_s1"]


def test_drive_cells_follow_their_base_cell():
    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0, 100]}, train={"seeds": [0, 1]},
                                        eval={"drives": ["joint_head", "pose_head_ik"]},
                                        controls={"equal_time": True, "equal_episodes": True}))
    cells = plan_cells(cfg)
    for prev, c in zip(cells, cells[1:]):
        if c.role == "drive":
            assert (prev.robot, prev.human, prev.seed, prev.variant) == (c.robot, c.human, c.seed, "base")
    assert cells[-1].name == "r110_h0_pose_ik_s1"  # equal episodes, last seed: last


def test_human_pathway_drive_cells_only_for_co_trained_runs():
    """The human_pose_ik drive reads the human domain: robot-only cells get no such drive cell, and
    the runner evaluates each drive cell with its own kind of policy."""
    from egogym.eval.ablation.plan import drive_named
    from egogym.policies.kinds import trained_run_kind

    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0, 100]}, train={"seeds": [0]},
                                        eval={"drives": ["joint_head", "pose_head_ik", "human_pose_ik"]}))
    names = [c.name for c in plan_cells(cfg)]
    assert names == ["r10_h0_base_s0", "r10_h0_pose_ik_s0", "r10_h100_base_s0", "r10_h100_pose_ik_s0",
                     "r10_h100_human_ik_s0"]
    assert [trained_run_kind(drive_named(v)).for_run("R").text for v in ("base", "pose_ik", "abl_human_ik")] == [
        "R", "pose-ik:R", "human-ik:R"]


def test_parallel_tasks_follow_the_plan_order():
    """--jobs: a waiting cell's data goes before a later cell that could start; drive cells
    wait for their base; a busy chain is not started twice."""
    from egogym.eval.ablation.plan import Cell

    a, b, a_ik = Cell(10, 100, 0), Cell(10, 0, 1), Cell(10, 100, 0, variant="pose_ik", role="drive")
    chains = {"robot": [], "human": [100]}
    have = {("robot", 10)}
    assert ablate.next_task([a, a_ik, b], have, chains, set(), set()) == ("data", "human", 100)
    assert ablate.next_task([a, a_ik, b], have, chains, {"human"}, set()) == ("cell", b)
    have.add(("human", 100))
    assert ablate.next_task([a_ik, b], have, chains, set(), set()) == ("cell", b)  # a not finished yet
    assert ablate.next_task([a_ik], have, chains, set(), {a.name}) == ("cell", a_ik)
    assert ablate.next_task([a_ik], have, chains, set(), set()) is None


def test_side_tasks_run_in_a_free_slot_of_the_pool(tmp_path):
    """A side task (the quick start's expert evaluation) runs in the pool even when no grid task
    is left, and the grid's results come back as before (here: every cell already finished)."""
    from pathlib import Path

    cfg = config_from_dict(small_config())
    cells = plan_cells(cfg)
    for c in cells:
        (tmp_path / "cells" / c.name).mkdir(parents=True)
        (tmp_path / "cells" / c.name / ablate.CELL_FILE).write_text(json.dumps({"cell": c.name}))
    side = (("write a file", Path.write_text, (tmp_path / "side.txt", "done")),)
    results = ablate.run_cells_local(cfg, cells, tmp_path, progress=False, jobs=2, side_tasks=side)
    assert [r["cell"] for r in results] == [c.name for c in cells]
    assert (tmp_path / "side.txt").read_text() == "done"


def test_robot_data_grows_from_any_finished_smaller_file(tmp_path, monkeypatch):
    """An equal-time count (not on the grid's axis) starts from the largest finished file."""
    seen = []

    def fake_collect(task, n, seed, out, *, resume, **kw):
        seen.append((n, resume, out.read_bytes() if out.exists() else None))
        out.write_bytes(b"%d" % n)

    monkeypatch.setattr("egogym.pipelines.collect.collect_robot", fake_collect)
    monkeypatch.setattr(ablate, "split_file", lambda *a: None)
    for n, done in ((7, True), (5, True), (9, False), (20, True)):
        (tmp_path / f"robot_{n}.hdf5").write_bytes(b"%d" % n)
        if done:
            (tmp_path / f"robot_{n}.done").write_text("{}")
    cfg = config_from_dict(small_config(data={"robot": [5], "human": [0]}))
    ablate.ensure_robot_data(cfg, tmp_path, 12, False)
    assert seen == [(12, True, b"7")]  # robot_9 is unfinished, robot_20 larger
    assert (tmp_path / "robot_12.done").exists()
    ablate.ensure_robot_data(cfg, tmp_path, 12, False)
    assert len(seen) == 1  # finished: kept


def fake_summary(k, n):
    return {"successes": k, "episodes": n, "success_rate": k / n, "mean_points": k / n}


def test_report_numbers(tmp_path):
    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0, 100]}, train={"seeds": [0, 1]},
                                        controls={"equal_time": True}))
    res = []
    for s, (k0, k1, k2) in enumerate([(10, 30, 20), (14, 34, 22)]):
        for (n, m), k in (((10, 0), k0), ((10, 100), k1), ((20, 0), k2)):
            res.append({"cell": {"robot": n, "human": m, "seed": s, "variant": "base"}, "summary": fake_summary(k, 50)})
    write_report(cfg, res, tmp_path)
    out = json.loads((tmp_path / "results.json").read_text())
    groups = {(g["robot"], g["human"]): g for g in out["groups"]}
    assert groups[(10, 100)]["successes"] == 64 and groups[(10, 100)]["episodes"] == 100
    assert groups[(10, 0)]["per_seed"] == [0.2, 0.28]
    t = {x["reference"]: x for x in out["tests"]}
    assert t["robot-only, same robot demos"]["difference"] == pytest.approx(0.64 - 0.24)
    runs = t["robot-only, same robot demos"]["between_runs"]  # per seed 0.2, 0.28 vs 0.6, 0.68
    assert (runs["runs_a"], runs["runs_b"]) == (2, 2) and runs["difference"] == pytest.approx(0.4)
    assert "Between training runs" in (tmp_path / "report.md").read_text()
    assert t["equal time (robot-only)"]["reference_cell"] == [20, 0]
    assert t["robot-only, same robot demos"]["p_value"] < 1e-6
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
    assert "| 10 | 100 | base | 0.15 | 64/100 = 64.0%" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
def test_report_names_the_machines_when_cells_ran_on_several(tmp_path):
    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0, 100]}))
    a = {"cpu": "AMD EPYC", "cpu_features": ["avx2", "avx512f"], "cores": 2, "python": "3.11.7",
         "packages": {"egogym": "0.2.0", "torch": "2.13.0+cpu", "mujoco": None}}
    b = {**a, "cpu": "Intel Xeon", "cpu_features": ["avx2"]}
    res = [{"cell": {"robot": 10, "human": m, "seed": 0, "variant": "base"}, "summary": fake_summary(5, 10),
            "machine": mach} for m, mach in ((0, a), (100, a))]
    write_report(cfg, res, tmp_path)
    assert "different machines" not in (tmp_path / "report.md").read_text()
    res[1]["machine"], res[0]["machine"] = b, a
    res.append({"cell": {"robot": 10, "human": 100, "seed": 1, "variant": "base"}, "summary": fake_summary(5, 10)})
    res.append({"cell": {"robot": 10, "human": 100, "seed": 2, "variant": "base"}, "summary": fake_summary(5, 10),
                "machine": {**a, "cpu": "arm64", "cpu_features": None}})  # /proc/cpuinfo unreadable
    write_report(cfg, res, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert ("Cells were computed on different machines (seeded runs agree exactly only on the same one): "
            "1 on AMD EPYC (avx2, avx512f; egogym 0.2.0, torch 2.13.0+cpu); "
            "1 on Intel Xeon (avx2; egogym 0.2.0, torch 2.13.0+cpu); 1 on not recorded; "
            "1 on arm64 (features unknown; egogym 0.2.0, torch 2.13.0+cpu).") in md


def test_small_grid_runs_and_resumes(tmp_path, monkeypatch):
    calls = []
    real_cli = ablate._cli

    def fake_cli(argv, step):
        if argv[0] == "train":
            calls.append(argv)
            out = argv[argv.index("--out") + 1]
            import pathlib
            pathlib.Path(out).mkdir(parents=True, exist_ok=True)
            (pathlib.Path(out) / "LATEST").write_text("step_00000002\n")  # as a finished run has
            return
        real_cli(argv, step)

    from egogym.sim.experts import make_expert

    monkeypatch.setattr(ablate, "_cli", fake_cli)
    monkeypatch.setattr(loop, "make_policy", lambda spec, env, device="cpu": make_expert(env))
    cfg = config_from_dict(small_config())
    results, report = ablate.run_ablation(cfg, tmp_path, progress=False)
    assert len(calls) == 2
    co = [c for c in calls if "--human" in c]
    assert len(co) == 1 and co[0][co[0].index("--human") + 1].endswith("human_2.hdf5")
    assert all("--resume" not in c for c in calls)
    assert (tmp_path / "data" / "robot_2.done").exists() and (tmp_path / "data" / "human_2.done").exists()
    assert {r["summary"]["episodes"] for r in results} == {2}
    assert {r["normalization"] for r in results} == {"per_domain"}  # recorded in every cell.json
    import egogym
    assert {r["machine"]["packages"]["egogym"] for r in results} == {egogym.__version__}  # where each ran
    assert report.exists() and (tmp_path / "scaling.png").exists()
    # a rerun keeps every finished cell
    calls.clear()
    ablate.run_ablation(cfg, tmp_path, progress=False)
    assert calls == []
    # an unfinished cell (no cell.json, a run folder left by a killed training) is resumed
    (tmp_path / "cells" / "r2_h2_base_s0" / "cell.json").unlink()
    # ... and meanwhile the report of the finished cells says it is partial
    assert "Partial: 1 of 2 planned cells" in ablate.write_partial_report(cfg, tmp_path).read_text()
    with pytest.raises(UserError, match="no ablation here"):
        ablate.write_partial_report(cfg, tmp_path / "cells")
    ablate.run_ablation(cfg, tmp_path, progress=False)
    assert len(calls) == 1 and "--resume" in calls[0]
    # a training killed before its first checkpoint (a run folder without LATEST): set aside, trained afresh
    calls.clear()
    (tmp_path / "cells" / "r2_h2_base_s0" / "cell.json").unlink()
    (tmp_path / "cells" / "r2_h2_base_s0" / "run" / "LATEST").unlink()
    (tmp_path / "cells" / "r2_h2_base_s0" / "run" / "config.json").write_text("{}")
    ablate.run_ablation(cfg, tmp_path, progress=False)
    assert len(calls) == 1 and "--resume" not in calls[0]
    assert (tmp_path / "cells" / "r2_h2_base_s0" / "run.aborted0" / "config.json").exists()
    # the same folder with another config is refused
    with pytest.raises(UserError, match="another config"):
        ablate.run_ablation(config_from_dict(small_config(train={"steps": 3, "seeds": [0]})), tmp_path)


def start_ray(ray, runtime_env: dict, attempts: int = 3) -> None:
    """A local Ray instance. Ray waits a fixed 30 s for its own node to register
    (ray/_private/node.py, not configurable); on a loaded machine that can fail. Retry, and
    skip, saying why, only when Ray itself could not start every time; any other error fails."""
    last = None
    for _ in range(attempts):
        try:
            ray.init(runtime_env=runtime_env, include_dashboard=False, ignore_reinit_error=True)
            return
        except Exception as e:  # Ray raises a bare Exception for this
            if "timed out during startup" not in str(e):
                raise
            last = e
            ray.shutdown()
    pytest.skip(f"Ray's own node did not start in its fixed 30 s, {attempts} times (machine overloaded): {last}")


@pytest.mark.slow
def test_ray_executor_on_a_local_instance(tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    import sys
    from pathlib import Path

    here = str(Path(__file__).parent)
    # the driver collects the data; the training stand-in is installed in Ray's workers only, by the hook
    env = {"env_vars": {"PYTHONPATH": here + ":" + ":".join(p for p in sys.path if p)},
           "worker_process_setup_hook": "ray_hooks.stand_in_training"}
    cfg = config_from_dict(small_config())
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        start_ray(ray, env)  # run_cells_ray's own ray.init then joins this instance
        results, report = ablate.run_ablation(cfg, tmp_path, executor="ray", progress=False, ray_runtime_env=env)
    finally:
        ray.shutdown()
        for s, h in handlers.items():  # Ray's handlers turn a later SIGTERM into SystemExit in other tests
            signal.signal(s, h)
    assert sorted(r["name"] for r in results) == ["r2_h0_base_s0", "r2_h2_base_s0"]
    for r in results:
        assert (tmp_path / "cells" / r["name"] / "run" / "trained_by_ray_worker").exists()
        assert r["summary"]["episodes"] == 2
    assert report.exists()


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_small_grid_trains_for_real(tmp_path, jobs):
    """jobs=2: data files side by side, then both cells at once, each in its own process."""
    pytest.importorskip("torch", reason="training needs the train extra (pip install -e '.[train]')")
    cfg = config_from_dict(small_config(image_size=[32, 32], train={"preset": "smoke", "steps": 2, "seeds": [0]},
                                        eval={"episodes": 2, "max_steps": 60, "workers": 1}))
    results, report = ablate.run_ablation(cfg, tmp_path, progress=False, jobs=jobs)
    assert sorted(r["name"] for r in results) == ["r2_h0_base_s0", "r2_h2_base_s0"]
    for r in results:
        run = tmp_path / "cells" / r["name"] / "run"
        assert (run / "LATEST").exists() and (run / "config.json").exists()
        recs = [json.loads(x) for x in (tmp_path / "cells" / r["name"] / "eval" / "episodes.jsonl").read_text().splitlines()]
        assert [x["steps"] for x in recs] == [60, 60]
    co = json.loads((tmp_path / "cells" / "r2_h2_base_s0" / "run" / "config.json").read_text())
    assert co["train"]["seed"] == 0
    assert "| 2 | 2 | base |" in report.read_text()


def write_cell_log(out_dir, name, outcomes, start=True, seed0=100000):
    """A cell's episode log from (toy y in m, success) pairs; start=False: an old log without `start`."""
    from egogym.eval.records import RecordWriter

    d = out_dir / "cells" / name / "eval"
    d.mkdir(parents=True)
    with RecordWriter(d / "episodes.jsonl") as w:
        for i, (y, ok) in enumerate(outcomes):
            r = {"seed": seed0 + i, "episode": i, "success": ok, "points": int(ok), "steps": 10,
                 "sim_seconds": 0.2, "wall_seconds": 0.1, "status": "done", "reason": "time limit (10 steps)"}
            if start:
                r["start"] = {"toy": "cube", "toy_xy": [0.2, y], "toy_yaw": 0.0, "bowl_xy": [0.2, -0.1]}
            w.append(r)


def test_report_splits_success_by_start_region(tmp_path):
    """Robot demos' toy region y -0.36..-0.19 m; evaluation: the full table. Known counts per region."""
    from egogym.eval.metrics import two_proportion_test, wilson_interval

    cfg = config_from_dict(small_config(data={"robot": [10, 20], "human": [0, 100], "robot_task_options":
                                              {"toy_region": [[0.08, 0.30], [-0.36, -0.19]]}},
                                        eval={"episodes": 20}))
    inner, outer = -0.10, -0.30  # toy y: outside / inside the robot demos' region
    # robot-only: inside 8/10, outside 1/10; co-trained: inside 7/10, outside 6/10
    robot_only = [(outer, i < 8) for i in range(10)] + [(inner, i < 1) for i in range(10)]
    cotrained = [(outer, i < 7) for i in range(9)] + [(-0.19, True)] + [(inner, i < 6) for i in range(10)]
    write_cell_log(tmp_path, "r10_h0_base_s0", robot_only)
    write_cell_log(tmp_path, "r10_h100_base_s0", cotrained + [(inner, True)] * 3)  # seeds past the 20: ignored
    write_cell_log(tmp_path, "r20_h0_base_s0", robot_only, start=False)  # evaluated before `start` existed
    res = [{"cell": {"robot": n, "human": m, "seed": 0, "variant": "base"}, "name": f"r{n}_h{m}_base_s0",
            "summary": fake_summary(k, 20)} for n, m, k in ((10, 0, 9), (10, 100, 14), (20, 0, 9))]
    write_report(cfg, res, tmp_path)
    split = json.loads((tmp_path / "results.json").read_text())["start_split"]
    g = {(x["robot"], x["human"]): x for x in split["groups"]}
    assert g[(10, 0)]["inside"]["successes"] == 8 and g[(10, 0)]["outside"]["successes"] == 1
    assert g[(10, 100)]["inside"]["successes"] == 8 and g[(10, 100)]["inside"]["episodes"] == 10  # border counts inside
    assert g[(10, 100)]["outside"] == {"successes": 6, "episodes": 10, "rate": 0.6,
                                       "interval": list(wilson_interval(6, 10))}
    assert g[(20, 0)] == {"robot": 20, "human": 0, "variant": "base", "recorded": False,
                          "cells_without_start": ["r20_h0_base_s0"]}
    (t,) = split["tests"]
    assert t["cotrained"] == [10, 100] and t["reference_cell"] == [10, 0]
    assert t["difference"] == pytest.approx(0.5) and t["p_value"] == pytest.approx(two_proportion_test(1, 10, 6, 10).p_value)
    # paired per region; the equal-time cell (r20) has no `start`: left out, not guessed
    (po,), (pi,) = split["paired"]["outside"], split["paired"]["inside"]
    assert po["reference"] == pi["reference"] == "robot-only, same robot demos"
    assert (po["seeds"], po["both"], po["only_a"], po["only_b"], po["neither"]) == (10, 1, 0, 5, 4)
    assert (pi["seeds"], pi["both"], pi["only_a"], pi["only_b"], pi["neither"]) == (10, 7, 1, 1, 1)
    md = (tmp_path / "report.md").read_text()
    assert "Paired, on the episodes whose toy started *outside*" in md
    assert "## Success by where the toy started" in md
    assert "| 10 | 0 | base | 8/10 = 80.0% | 49.0%-94.3% | 1/10 = 10.0% | 1.8%-40.4% |" in md
    assert "| 20 | 0 | base | not recorded | - | not recorded | - |" in md
    # robot demos on the evaluation's own region: nothing to split, no section
    same = config_from_dict(small_config(data={"robot": [10], "human": [0, 100]}, eval={"episodes": 20}))
    write_report(same, res[:2], tmp_path)
    assert "where the toy started" not in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["start_split"] is None


def test_report_pairs_the_arms_by_seed(tmp_path):
    """Two training seeds x 10 evaluation seeds: the co-trained arm solves 6 seeds the
    robot-only arm missed and misses 1 it solved, per training seed; McNemar is exact on
    the 12 vs 2 discordant pairs, pooled over training seeds."""
    from egogym.eval.metrics import mcnemar_exact, newcombe_paired_interval

    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0, 100]}, train={"seeds": [0, 1]},
                                        eval={"episodes": 10}))
    robot_only = [True, True, False, False, False, False, False, False, False, False]
    cotrained = [True, False, True, True, True, True, True, True, False, False]
    res = []
    for s in (0, 1):
        for m, outcomes in ((0, robot_only), (100, cotrained)):
            name = f"r10_h{m}_base_s{s}"
            write_cell_log(tmp_path, name, [(-0.3, ok) for ok in outcomes])
            res.append({"name": name, "cell": {"robot": 10, "human": m, "seed": s, "variant": "base"},
                        "summary": fake_summary(sum(outcomes), 10)})
    write_report(cfg, res, tmp_path)
    out = json.loads((tmp_path / "results.json").read_text())
    (t,) = [x for x in out["paired_tests"] if x["reference"] == "robot-only, same robot demos"]
    assert (t["seeds"], t["both"], t["only_a"], t["only_b"], t["neither"]) == (20, 2, 2, 12, 4)
    assert t["mcnemar_p_value"] == pytest.approx(mcnemar_exact(2, 12))
    assert t["interval"] == pytest.approx(list(newcombe_paired_interval(2, 2, 12, 4)))
    assert "p (McNemar)" in (tmp_path / "report.md").read_text()


def test_report_tests_runs_by_start_region(tmp_path):
    """Three training seeds, 5 episodes inside and 5 outside the robot region per run: Welch's t
    on the per-seed rates of each region, with runs as the unit; never between a drive and the
    joint-head drive of the same runs (those are paired, not independent runs)."""
    from egogym.eval.metrics import between_runs_test

    region = {"toy_region": [[0.08, 0.30], [-0.36, -0.19]]}
    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0, 100], "robot_task_options": region},
                                        train={"seeds": [0, 1, 2]}, eval={"episodes": 10, "drives": ["joint_head", "pose_head_ik"]}))
    inside = {0: (5, 4, 3), 100: (2, 3, 3)}  # successes of 5 per seed
    outside = {0: (0, 1, 0), 100: (2, 2, 3)}
    res = []
    for s in (0, 1, 2):
        for m in (0, 100):
            for variant in ("base", "pose_ik"):
                name = f"r10_h{m}_{variant}_s{s}"
                log = [(-0.30, i < inside[m][s]) for i in range(5)] + [(-0.10, i < outside[m][s]) for i in range(5)]
                write_cell_log(tmp_path, name, log)
                res.append({"name": name, "cell": {"robot": 10, "human": m, "seed": s, "variant": variant},
                            "summary": fake_summary(inside[m][s] + outside[m][s], 10)})
    write_report(cfg, res, tmp_path)
    runs = json.loads((tmp_path / "results.json").read_text())["start_split"]["between_runs"]
    assert [(t["cotrained"], t["variant"], t["reference_cell"]) for t in runs] == [
        ([10, 100], "base", [10, 0]), ([10, 100], "pose_ik", [10, 0])]  # no drive-vs-drive row
    for where, k in (("inside", inside), ("outside", outside)):
        want = between_runs_test([x / 5 for x in k[0]], [x / 5 for x in k[100]])
        assert runs[0][where]["difference"] == pytest.approx(want.difference)
        assert runs[0][where]["p_value"] == pytest.approx(want.p_value)
        assert runs[0][where]["interval"] == pytest.approx(list(want.interval))
    assert "Between training runs, by where the toy started" in (tmp_path / "report.md").read_text()


def test_report_pairs_each_drive_with_the_joint_head_drive(tmp_path):
    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0]}, eval={"episodes": 4,
                                        "drives": ["joint_head", "pose_head_ik"]}))
    res = []
    for variant, outcomes in (("base", [True, False, False, False]), ("pose_ik", [True, True, True, False])):
        name = f"r10_h0_{variant}_s0"
        write_cell_log(tmp_path, name, [(-0.3, ok) for ok in outcomes])
        res.append({"name": name, "cell": {"robot": 10, "human": 0, "seed": 0, "variant": variant},
                    "summary": fake_summary(sum(outcomes), 4)})
    write_report(cfg, res, tmp_path)
    (t,) = json.loads((tmp_path / "results.json").read_text())["paired_tests"]
    assert t["reference"] == "the same runs, joint-head drive" and t["variant"] == "pose_ik"
    assert t["reference_variant"] == "base" and (t["only_a"], t["only_b"]) == (0, 2)
    assert "(10, 0) pose_ik | the same runs, joint-head drive |" in (tmp_path / "report.md").read_text()


def test_drives_add_evaluation_only_cells():
    cfg = config_from_dict(small_config(data={"robot": [10], "human": [0, 100]}, train={"seeds": [0]},
                                        eval={"drives": ["joint_head", "pose_head_ik"]},
                                        controls={"equal_time": True}))
    cells = {c.name: c for c in plan_cells(cfg)}
    for n, m in ((10, 0), (10, 100), (20, 0)):
        assert cells[f"r{n}_h{m}_base_s0"].role != "drive"
        assert cells[f"r{n}_h{m}_pose_ik_s0"].role == "drive"
    with pytest.raises(UserError, match=r"\[eval\] drives"):
        config_from_dict(small_config(eval={"drives": ["pose_head_ik"]}))


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_children_die_with_a_killed_parent():
    """A SIGKILLed `egogym ablate` must not leave a training child (or pool worker) writing on."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    middle = ("import subprocess, sys, time\n"
              "from egogym.eval.ablation.runner import die_with_parent\n"
              "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], preexec_fn=die_with_parent)\n"
              "print(c.pid, flush=True)\n"
              "time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", middle], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    def alive(pid: int) -> bool:
        stat = Path(f"/proc/{pid}/stat")
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False

    deadline = time.monotonic() + 60  # signal delivery, not speed: generous on a loaded machine
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)


def ablation_config(**train):
    return config_from_dict(small_config(
        data={"robot": [10], "human": [0, 100]}, train={"seeds": [0], **train},
        eval={"episodes": 4, "drives": ["joint_head", "pose_head_ik"]},
        ablations=[{"name": "shared", "train_args": ["--set", "train.normalization=shared"]}]))


def test_an_ablation_is_evaluated_with_every_drive():
    """An ablation's run gets its drive cells as the base run does, right after it, carrying its
    training arguments (a drive cell resumes its base run: the same arguments, or the trainer
    refuses to change the run's config)."""
    cells = plan_cells(ablation_config())
    names = [c.name for c in cells]
    i = names.index("r10_h100_shared_s0")
    drive = cells[i + 1]
    assert (drive.name, drive.role, drive.of) == ("r10_h100_shared_pose_ik_s0", "drive", "shared")
    assert drive.base.name == "r10_h100_shared_s0"
    assert drive.train_args == cells[i].train_args == ("--set", "train.normalization=shared")


def test_the_normalization_choice_is_checked_when_read():
    assert ablation_config(normalization="shared").train.normalization == "shared"
    with pytest.raises(UserError, match=r"\[train\].*normalization.*'shared'"):
        ablation_config(normalization="sharde")


def test_a_grid_grows_by_appended_ablations_and_seeds_only(tmp_path):
    cfg = ablation_config()
    (tmp_path / ablate.CONFIG_FILE).write_text(json.dumps(cfg.to_dict()))
    grown = cfg.to_dict()
    grown["ablations"] = [*grown["ablations"], {"name": "pinch", "train_args": ["--set", "model.robot_state=pinch"]}]
    grown["train"] = {**grown["train"], "seeds": [0, 1, 2]}
    ablate.check_config(config_from_dict(grown), tmp_path)
    for bad in ({**grown, "ablations": grown["ablations"][::-1]}, {**cfg.to_dict(), "name": "other"},
                {**grown, "train": {**grown["train"], "seeds": [1, 2]}}):
        with pytest.raises(UserError, match="another config"):
            ablate.check_config(config_from_dict(bad), tmp_path)


def test_report_tests_an_ablation_against_robot_only_under_the_same_drive(tmp_path):
    """A co-trained ablation is compared with robot-only of its own drive, and its drive cell
    with the same runs under the joint head."""
    cfg = ablation_config()
    logs = {"r10_h0_base_s0": [True, False, False, False], "r10_h0_pose_ik_s0": [True, True, False, False],
            "r10_h100_base_s0": [True, False, False, False], "r10_h100_pose_ik_s0": [True, False, False, False],
            "r10_h100_shared_s0": [True, True, True, False], "r10_h100_shared_pose_ik_s0": [True, True, True, True]}
    res = []
    for name, outcomes in logs.items():
        write_cell_log(tmp_path, name, [(-0.3, ok) for ok in outcomes])
        r, m, *variant, s = name.split("_")
        res.append({"name": name, "cell": {"robot": 10, "human": int(m[1:]), "seed": 0,
                                           "variant": "_".join(variant)}, "summary": fake_summary(sum(outcomes), 4)})
    write_report(cfg, res, tmp_path)
    tests = {(t["variant"], t["reference"]): t for t in json.loads((tmp_path / "results.json").read_text())["paired_tests"]}
    same = "robot-only, same robot demos"
    assert tests["shared", same]["reference_variant"] == "base"
    assert tests["shared_pose_ik", same]["reference_variant"] == "pose_ik"
    assert (tests["shared_pose_ik", same]["only_a"], tests["shared_pose_ik", same]["only_b"]) == (0, 2)
    t = tests["shared_pose_ik", "the same runs, joint-head drive"]
    assert t["reference_variant"] == "shared" and (t["only_a"], t["only_b"]) == (0, 1)


def _human_collection_options(cfg, tmp_path, monkeypatch) -> dict:
    """The keyword options `ensure_human_data` hands the simulated person's collection for `cfg`."""
    import egogym.pipelines.human as human

    seen = {}

    def fake_collect(m, seed, out, image_size, **kw):
        seen.update(kw)
        raise UserError("stop here")

    monkeypatch.setattr(human, "collect_human", fake_collect)
    with pytest.raises(UserError, match="stop here"):
        ablate.ensure_human_data(cfg, tmp_path, 2, progress=False)
    return seen


def test_the_human_head_reaches_the_simulated_person(tmp_path, monkeypatch):
    """`[data] human_head` (rung 1 of the ladder: the person's Aria at the robot's viewpoint), and the
    replay's hand, frame rate and length, are checked when the config is read and handed to the simulated
    person's collection."""
    cfg = config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_head": "robot",
                                              "human_hand": "replay", "human_motion": "replay", "human_rest": "robot",
                                              "human_fps": 50, "human_replay_steps": 400}))
    with pytest.raises(UserError, match=r"\[data\] human_head: 'robt'"):
        config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_head": "robt"}))
    seen = _human_collection_options(cfg, tmp_path, monkeypatch)
    assert seen["head"] == "robot" and seen["demonstrator"] == "person"
    assert (seen["hand"], seen["fps"], seen["replay_steps"]) == ("replay", 50, 400)


def test_the_persons_picks_and_tracking_bridge_reach_the_collection(tmp_path, monkeypatch):
    """`[data] human_picks` and `human_fill_gaps` are checked when the config is read (a replay runs on with
    human_replay_steps, not picks) and handed to the simulated person's collection."""
    cfg = config_from_dict(small_config(data={"robot": [2], "human": [0, 2], "human_fps": 50, "human_picks": 3,
                                              "human_horizon": "robot-exact", "human_fill_gaps": 0.1}))
    for bad, message in (({"human_picks": 0}, r"\[data\] human_picks: 0: give a whole number of pick-and-places, 1..20"),
                         ({"human_fill_gaps": -0.1}, r"\[data\] human_fill_gaps: -0.1: give seconds in \[0, 1.0\] \(0: no gap is bridged\)"),
                         ({"human_picks": 2, "human_hand": "replay", "human_motion": "replay", "human_rest": "robot"},
                          r"\[data\] human_picks: a replay runs on past its point with human_replay_steps")):
        with pytest.raises(UserError, match=message):
            config_from_dict(small_config(data={"robot": [2], "human": [0, 2], **bad}))
    seen = _human_collection_options(cfg, tmp_path, monkeypatch)
    assert (seen["picks"], seen["fill_gaps"], seen["horizon"]) == (3, 0.1, "robot-exact")


def test_quickstart_trains_both_policies_with_the_documented_co_training_options():
    """The quick start's grid passes TRAIN_OPTIONS to every cell, and they name real fields with
    the values docs/POLICIES.md gives (pinch state, the human's first frames drawn as the robot's)."""
    from egogym.eval.ablation import config_from_dict
    from egogym.eval.quickstart import TRAIN_OPTIONS, quickstart_config
    from egogym.policies.config import preset

    cfg = config_from_dict(quickstart_config(60, 40, 3000, 20, 500, 1, (64, 64)), "quickstart")
    assert cfg.train.args == TRAIN_OPTIONS
    pairs = dict(a.split("=", 1) for a in TRAIN_OPTIONS[1::2])
    run = preset(cfg.train.preset).with_overrides(pairs)
    assert (run.model.robot_state, run.train.early_human) == ("pinch", 1)
