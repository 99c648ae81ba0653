"""The simulated person's scene: the bowl where the episode puts it, and the robot drawn in
place of the hand (`HumanConfig.hand == "robot"`, rung 2 of the human-data ladder)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import egogym.sim  # noqa: F401  (sets MUJOCO_GL)
from egogym.core.errors import UserError
from egogym.sim.human import HIDDEN_GEOM_GROUP, HumanConfig, HumanDemonstrator
from egogym.tasks.objects import BOWL_RADIUS


def test_the_bowl_is_where_the_person_drops_the_toy():
    """The bowl's body sits at the episode's bowl_xy (the robot env's placement for the seed),
    and the toy ends inside it."""
    with HumanDemonstrator(HumanConfig(image_size=(32, 32))) as h:
        for seed in range(4):
            p = h.plan_episode(seed)
            h.set_time(p.duration)
            bowl = h.physics.named.data.xpos["bowl"]
            np.testing.assert_allclose(bowl[:2], p.episode.bowl_xy, atol=1e-9)
            assert np.linalg.norm(h.toy_pose(p.duration)[0][:2] - bowl[:2]) < BOWL_RADIUS


def test_an_unknown_hand_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"hand='robt': choose from \('human', 'robot', 'replay'\)"):
        HumanConfig(hand="robt")


def test_the_robot_hand_holds_the_toy_where_the_person_does(tmp_path):
    """With hand="robot": the person's geoms are not drawn, the masks are the robot's arms, and the
    right arm's pinch point follows the point of the hand that holds the toy: on the toy's centre
    while it is carried, and within a millimetre from the reach to the release."""
    with HumanDemonstrator(HumanConfig(image_size=(32, 32), hand="robot")) as h:
        rec = h.record_episode(5, tmp_path / "ep")
        m = h.model
        person = [g for g in range(m.ngeom) if (m.geom(g).name or "").startswith(("hand", "forearm", "sleeve"))]
        assert person and np.all(m.geom_group[person] == HIDDEN_GEOM_GROUP)
        p = h.plan
        reach, release = p.segments[1].t0, p.t_release
        t = np.arange(len(h.robot.errors)) / h.config.fps
        carried = (t >= reach) & (t <= release)
        assert np.max(np.asarray(h.robot.errors)[carried]) < 1e-3
        h.set_time(0.5 * (p.t_grasp + p.t_release))
        pinch = h.physics.named.data.site_xpos["right/pinch"]
        np.testing.assert_allclose(pinch, h.toy_pose(0.5 * (p.t_grasp + p.t_release))[0], atol=1e-3)
    meta = json.loads((rec / "recording.json").read_text())
    assert (meta["head"], meta["hand"]) == ("natural", "robot")
    from PIL import Image

    assert any(np.asarray(Image.open(f)).any() for f in sorted((rec / "masks").glob("*.png")))


def test_kept_recordings_of_another_hand_are_refused_in_one_line(tmp_path):
    from egogym.pipelines.human import collect_human

    rec = tmp_path / "recs"
    assert collect_human(1, 0, tmp_path / "a.hdf5", (32, 32), progress=False, recordings=rec) == 0
    with pytest.raises(UserError, match=r"episode_000000: recorded with hand human; this run records hand robot: give "
                                        r"another --recordings folder"):
        collect_human(1, 0, tmp_path / "b.hdf5", (32, 32), progress=False, recordings=rec, hand="robot")
    assert not (tmp_path / "b.hdf5").exists()


def test_robot_motion_follows_the_experts_waypoints_over_the_toy():
    """motion="robot": the palm passes over the expert's waypoints (9 cm over the toy, straight down,
    13 cm lift, 2 cm over the rim), held over the toy's centre as the person's hand holds it, and the
    rest of the episode (placement, colours) is the person's for the same seed."""
    from egogym.sim.experts import pick_and_place_waypoints

    with HumanDemonstrator(HumanConfig(image_size=(32, 32))) as h:
        person = h.plan_episode(7)
    with HumanDemonstrator(HumanConfig(image_size=(32, 32), motion="robot")) as h:
        p = h.plan_episode(7)
        assert (p.episode, p.skin, p.cloth) == (person.episode, person.skin, person.cloth)
        up = np.array([0, 0, person.segments[1].b[2] - p.toy_pos[2] - 0.002])
        ends = [s.b for s in p.segments[1:-1]]
        expected = [w.target + up for w in pick_and_place_waypoints(p.segments[0].b - up, p.toy_pos, p.toy, p.bowl)]
        np.testing.assert_allclose(ends, expected, atol=1e-12)
        descent = p.segments[2]
        np.testing.assert_allclose(descent.a[:2], descent.b[:2])  # straight down onto the toy
        h.set_time(p.duration)
        assert np.linalg.norm(h.toy_pose(p.duration)[0][:2] - p.bowl[:2]) < BOWL_RADIUS


def test_with_every_rung_the_first_frame_is_the_robots():
    """Head, hand, motion and rest all the robot's: the person's first frame shows what the robot env's
    first frame shows for the same seed (torso crossbar, arms at home, toy and bowl where the episode
    puts them); with the person's rest the right arm is drawn at the hand by the body instead. The
    palm (the label's point 0) is the robot's home pinch point."""
    import gymnasium as gym

    import egogym  # noqa: F401
    from egogym.sim.human import robot_rest_pinch

    size = (48, 64)
    env = gym.make("egogym/ObjectInBowl-v0", image_size=size)
    robot = {s: env.reset(seed=s)[0]["front_img_1"].astype(float) for s in (3, 4)}
    env.close()
    diff = {}
    for rest in ("person", "robot"):
        cfg = HumanConfig(image_size=size, head="robot", hand="robot", motion="robot", rest=rest)
        with HumanDemonstrator(cfg) as h:
            for s in (3, 4):
                p = h.plan_episode(s)
                h.set_time(0.0)
                img = np.rot90(h.render_sensor()[0], k=-1).astype(float)
                diff[rest, s] = np.abs(img - robot[s]).mean()
                if rest == "robot":
                    np.testing.assert_allclose(h.palm_target(0.0), robot_rest_pinch(), atol=1e-9)
                    np.testing.assert_allclose(p.segments[-1].b, robot_rest_pinch(), atol=1e-9)
    for s in (3, 4):
        assert diff["robot", s] < 0.05 and diff["person", s] > 4.0, diff  # the person's camera clips as the robot's


def test_replay_puts_the_grip_label_on_the_experts_executed_pinch_point(tmp_path):
    """motion="replay": the scripted expert runs the robot env of the same seed; the person's grip point
    (what `--point grip` labels) then follows the robot's executed pinch point frame by frame, the drawn
    arm's pinch point too, the arm starts at home, and the toy ends in the bowl. Converted, the human
    demo's ee_pose is the robot's pinch point in the robot's Aria frame."""
    import h5py

    from egogym.core import geometry
    from egogym.data import schema as S
    from egogym.pipelines.human import _ExpertReplay, collect_human
    from egogym.sim.human import robot_aria_pose, robot_rest_pinch
    from egogym.tasks import make_task

    seed = 5
    replay = _ExpertReplay(make_task("object_in_bowl"))
    track = replay.track(seed)
    replay.close()
    np.testing.assert_allclose(track.p[0], robot_rest_pinch(), atol=1e-3)
    assert track.t[0] < track.close_s[0] < track.close_s[1] < track.open_s[0] < track.open_s[1] < track.t1
    out = tmp_path / "h.hdf5"
    assert collect_human(1, seed, out, (32, 32), progress=False, head="robot", hand="robot", motion="replay",
                         rest="robot", point="grip", horizon="robot") == 0
    with h5py.File(out, "r") as f:
        ee = f[S.DATA]["demo_0"][S.OBS][S.EE_POSE][()]
        rec, kept = (f[S.DATA]["demo_0"].attrs[k] for k in ("recording", "frame_index"))
    truth = np.load(f"{rec}/truth.npz")
    times = (truth["t_ns"][json.loads(kept)] - truth["t_ns"][0]) * 1e-9
    expected = geometry.transform_points(geometry.invert(robot_aria_pose()), np.stack([track.at(t) for t in times]))
    np.testing.assert_allclose(ee, expected, atol=2e-3)
    cfg = HumanConfig(image_size=(32, 32), head="robot", hand="robot", motion="replay", rest="robot")
    with HumanDemonstrator(cfg) as h:
        p = h.plan_episode(seed, track)
        h.set_time(0.0)
        np.testing.assert_allclose(h.robot.q, h.robot.home)
        for t in np.linspace(0.0, track.t1, 40):
            h.set_time(t)
            np.testing.assert_allclose(h.physics.named.data.site_xpos["right/pinch"], track.at(t), atol=1e-3)
        assert np.linalg.norm(h.toy_pose(p.duration)[0][:2] - p.bowl[:2]) < BOWL_RADIUS


def test_replay_is_refused_without_its_track_or_the_robots_rest():
    with pytest.raises(ValueError, match="motion='replay' starts where the robot's pinch point does: give rest='robot'"):
        HumanConfig(motion="replay")
    with HumanDemonstrator(HumanConfig(image_size=(32, 32), motion="replay", rest="robot")) as h:
        with pytest.raises(ValueError, match="a PinchTrack is given with motion='replay', and only there"):
            h.plan_episode(0)


def test_the_replay_hand_shows_the_robots_own_images(tmp_path):
    """hand="replay": the person's scene redraws the expert's episode (both arms' joints and fingers, the
    toy), so with the robot's head its frames are the robot env's own frames of that seed, to a few pixels;
    converted, the policy's input (the masked frame with the red line, here along the drawn arm) is the
    robot env's too."""
    import h5py

    from egogym.data import schema as S
    from egogym.env import EgoEnv
    from egogym.pipelines.human import collect_human, expert_pinch_track
    from egogym.sim.experts import make_expert
    from egogym.tasks import make_task

    size, seed = (48, 64), 11
    env = EgoEnv(task=make_task("object_in_bowl"), image_size=size, cameras=(S.FRONT, S.FRONT_LINE))
    expert = make_expert(env)
    track = expert_pinch_track(env, expert, seed)
    obs, _ = env.reset(seed=seed)
    expert.reset()
    frames, lines = [obs[S.FRONT]], [obs[S.FRONT_LINE]]
    for _ in range(len(track.t) - 1):
        obs, *_ = env.step(expert.act(obs))
        frames.append(obs[S.FRONT])
        lines.append(obs[S.FRONT_LINE])
    env.close()
    out = tmp_path / "h.hdf5"
    assert collect_human(1, seed, out, size, progress=False, head="robot", hand="replay", motion="replay",
                         rest="robot", point="grip", horizon="robot") == 0
    with h5py.File(out, "r") as f:
        g = f[S.DATA]["demo_0"]
        kept, human_lines = json.loads(g.attrs["frame_index"]), g[S.OBS][S.FRONT_LINE][()]
    hz = 50 // 10  # frame i at 30 fps is robot step 5 i / 3: compare where that is whole
    pairs = [(m, i * hz // 3) for m, i in enumerate(kept) if i % 3 == 0 and i * hz // 3 < len(lines)]
    assert len(pairs) > 10
    for m, k in pairs:
        assert np.abs(human_lines[m].astype(float) - lines[k]).mean() < 0.5, (m, k)
    cfg = HumanConfig(image_size=size, head="robot", hand="replay", motion="replay", rest="robot")
    with HumanDemonstrator(cfg) as h:
        h.plan_episode(seed, track)
        for k in range(0, len(track.t), 20):
            h.set_time(track.t[k])
            img = np.rot90(h.render_sensor()[0], k=-1).astype(float)
            assert np.abs(img - frames[k]).mean() < 0.3, k  # what else moved (bowl, distractors) is not replayed
    with pytest.raises(ValueError, match="hand='replay' draws the robot's recorded episode: give motion='replay'"):
        HumanConfig(hand="replay")


def test_perfect_tracking_keeps_every_frame_a_whole_chunk_reaches(tmp_path):
    """`tracking_dropout=0`: no frame is lost to hand tracking, so the converter drops only the frames whose
    chunk would run past the recording; a kept recording of another dropout is refused."""
    import h5py

    from egogym.pipelines.human import collect_human

    out, rec = tmp_path / "h.hdf5", tmp_path / "recs"
    assert collect_human(1, 3, out, (32, 32), progress=False, head="robot", recordings=rec, tracking_dropout=0.0) == 0
    with h5py.File(out, "r") as f:
        dropped = json.loads(f["data"]["demo_0"].attrs["dropped"])
    assert dropped["untracked"] == 0 and dropped["out_of_image"] == 0, dropped
    assert json.loads((rec / "episode_000003" / "recording.json").read_text())["dropout"] == 0.0
    with pytest.raises(UserError, match="recorded with dropout 0.0; this run records dropout 0.01:"):
        collect_human(1, 3, tmp_path / "b.hdf5", (32, 32), progress=False, head="robot", recordings=rec)


def test_replay_at_the_robots_rate_runs_on_past_the_first_point(tmp_path):
    """fps=50 and replay_steps=N: one frame per control step, the expert's episode replayed for N steps through
    its first point (the toy re-placed as the robot env re-places it), and the converter's knots still 0.1 s
    apart (every 5th frame): each kept frame's label is the robot's pinch point at that step, and its chunk ends
    on the pinch point 3.9 s later, in the robot's Aria frame."""
    import h5py

    from egogym.core import geometry
    from egogym.data import schema as S
    from egogym.pipelines.human import _ExpertReplay, collect_human
    from egogym.sim.human import robot_aria_pose
    from egogym.tasks import make_task

    seed, steps = 5, 300
    replay = _ExpertReplay(make_task("object_in_bowl"), steps)
    track = replay.track(seed)
    replay.close()
    assert len(track.t) == steps + 1
    jumps = np.linalg.norm(np.diff(track.toy_qpos[:, :3], axis=0), axis=1)
    assert jumps.max() > 0.05  # the point scored, the toy re-placed, the expert on to the next pick
    out = tmp_path / "h.hdf5"
    assert collect_human(1, seed, out, (32, 32), progress=False, head="robot", hand="replay", motion="replay",
                         rest="robot", point="grip", horizon="robot", tracking_dropout=0.0, fps=50.0,
                         replay_steps=steps) == 0
    with h5py.File(out, "r") as f:
        g = f[S.DATA]["demo_0"]
        ee, chunks = g[S.OBS][S.EE_POSE][()], g[S.XYZ_ACT][()]
        kept, fps, n = json.loads(g.attrs["frame_index"]), g.attrs["fps"], g.attrs["n_frames"]
    assert fps == pytest.approx(50.0) and n == steps + 60 + 1  # the 1.2 s tail after the last step
    assert max(kept) == n - 51  # the last frame with 1 s after it
    T_aria_world = geometry.invert(robot_aria_pose())
    labels = np.stack([track.at(i / 50.0) for i in kept])  # the tail holds the last step's point
    np.testing.assert_allclose(ee, geometry.transform_points(T_aria_world, labels), atol=2e-3)
    np.testing.assert_allclose(chunks[0, -1], geometry.transform_points(T_aria_world, track.at(3.9)), atol=2e-3)
    with pytest.raises(ValueError, match="replay_steps=300: give 1..100000 control steps, with hand='replay'"):
        HumanConfig(motion="replay", rest="robot", hand="robot", replay_steps=steps)

    # The same recording cut as the positive control cuts robot demos: the robot chunk's own 100 points, two
    # steps apart, and only frames whose whole chunk is inside the recording.
    from egogym.data.aria import convert
    exact = tmp_path / "exact.hdf5"
    convert(sorted(out.with_name(out.name + ".recordings").glob("episode_*")), exact, horizon="robot-exact",
            point="grip", progress=False)
    with h5py.File(exact, "r") as f:
        g = f[S.DATA]["demo_0"]
        chunks, kept = g[S.XYZ_ACT][()], json.loads(g.attrs["frame_index"])
    span = S.ROBOT_STRIDE * (S.CHUNK - 1)
    assert kept == list(range(n - span))
    for t in (0, 101, kept[-1]):
        steps_of_chunk, _ = S.chunk_indices(t, n)
        pinch = np.stack([track.at(i / 50.0) for i in steps_of_chunk])
        np.testing.assert_allclose(chunks[t], geometry.transform_points(T_aria_world, pinch), atol=2e-3)
    with pytest.raises(UserError, match="--horizon robot-exact at --fps 30: a track at 30 fps has no frames 0.04 s"):
        collect_human(1, seed, tmp_path / "c.hdf5", (32, 32), progress=False, head="robot", hand="replay",
                      motion="replay", rest="robot", horizon="robot-exact", replay_steps=steps)
    with pytest.raises(UserError, match="--horizon 'robots': use one of egomimic, robot, robot-exact"):
        collect_human(1, seed, tmp_path / "c.hdf5", (32, 32), progress=False, horizon="robots")
    assert not (tmp_path / "c.hdf5.recordings").exists()  # refused before anything was simulated


def test_picks_in_a_row_put_the_toy_anew_and_leave_the_first_pick_alone():
    """`picks=3`: the first pick is the episode of one pick up to its release; each later toy is put at a place
    of the task's toy_region when the robot env would re-place it (`rest_steps` after it lands in the bowl), the
    hand takes it there and drops it in the bowl, and only the last pick goes back to rest."""
    from egogym.core.spec import EGOMIMIC
    from egogym.sim.human import TOY_DROP_S

    with HumanDemonstrator(HumanConfig(image_size=(32, 32))) as one, \
            HumanDemonstrator(HumanConfig(image_size=(32, 32), picks=3)) as three:
        (x0, x1), (y0, y1) = three.config.task.toy_region
        for seed in range(3):
            a, b = one.plan_episode(seed), three.plan_episode(seed)
            assert len(b.picks) == 3 and b.duration > a.duration + 4.0
            for t in np.linspace(0.0, a.t_release, 25):
                np.testing.assert_array_equal(one.palm_target(t), three.palm_target(t))
            np.testing.assert_array_equal(b.picks[0].toy_pos, a.toy_pos)
            for before, q in zip(b.picks, b.picks[1:]):
                assert q.t_shown == pytest.approx(before.t_release + TOY_DROP_S + three.config.task.rest_steps
                                                  / EGOMIMIC.control_hz)
                assert x0 <= q.toy_pos[0] <= x1 and y0 <= q.toy_pos[1] <= y1
                assert np.linalg.norm(q.toy_pos[:2] - before.toy_pos[:2]) > 1e-3  # put anew
                # Up to the moment it is put, the toy lies in the bowl; then where it was put, until the hand takes it.
                assert np.linalg.norm(three.toy_pose(q.t_shown - 1e-3)[0][:2] - b.bowl[:2]) < BOWL_RADIUS
                np.testing.assert_array_equal(three.toy_pose(q.t_shown)[0], q.toy_pos)
                np.testing.assert_array_equal(three.toy_pose(q.t_grasp - 1e-3)[0], q.toy_pos)
                # The hand goes on from over the bowl: no rest in between.
                mid = three.palm_target(0.5 * (before.t_release + q.t_grasp))
                assert np.linalg.norm(mid - b.segments[-1].b) > 0.05
            for q in b.picks:  # the hand holds each toy between grasp and release, and drops it in the bowl
                three.set_time(q.t_grasp)
                palm = three.data.site_xpos[three.palm_site]
                assert np.linalg.norm(palm[:2] - q.toy_pos[:2]) < 0.03
                carried = three.toy_pose(0.5 * (q.t_grasp + q.t_release))[0]
                assert carried[2] > q.toy_pos[2] + 0.02
                assert np.linalg.norm(three.toy_pose(q.t_release + TOY_DROP_S)[0][:2] - b.bowl[:2]) < BOWL_RADIUS
            np.testing.assert_allclose(three.palm_target(b.duration), one.palm_target(a.duration), atol=0.1)


def test_picks_are_refused_where_they_mean_nothing():
    with pytest.raises(ValueError, match="picks=0: give a whole number of pick-and-places, 1..20"):
        HumanConfig(picks=0)
    with pytest.raises(ValueError, match="picks=2: a replay runs on past its point with replay_steps, not picks"):
        HumanConfig(picks=2, motion="replay", rest="robot", hand="replay")


def test_robot_motion_picks_follow_the_experts_waypoints_for_each_toy():
    """motion="robot", hand="robot": each later pick runs the expert's waypoints over its own toy, and the drawn
    arm's pinch point is on the toy at each grasp."""
    with HumanDemonstrator(HumanConfig(image_size=(32, 32), motion="robot", hand="robot", rest="robot",
                                       picks=2)) as h:
        p = h.plan_episode(4)
        for q in p.picks:
            h.set_time(q.t_grasp)
            np.testing.assert_allclose(h.physics.named.data.site_xpos["right/pinch"], q.toy_pos, atol=2e-3)


def test_kept_recordings_without_picks_are_one_pick_recordings(tmp_path):
    """A recording that predates `picks` names none: it is reused by a one-pick run and refused by another."""
    from egogym.pipelines.human import _check_reusable
    from egogym.sim.human import recording_settings

    settings = recording_settings(HumanConfig())
    del settings["picks"]
    (tmp_path / "recording.json").write_text(json.dumps(settings))
    _check_reusable(tmp_path, HumanConfig())
    with pytest.raises(UserError, match="recorded with picks 1; this run records picks 3:"):
        _check_reusable(tmp_path, HumanConfig(picks=3))


def test_picks_and_bridged_tracking_keep_whole_chunks_of_a_realistic_person(tmp_path):
    """The realistic person (natural head, hand, motion; 1% of frames untracked) at 50 fps, three picks, cut with
    the robot chunk's own times: bridging 0.1 s losses keeps every frame a whole chunk reaches (untracked and
    out-of-image drops only where a loss is longer), and the chunks of frames kept either way are the same."""
    import h5py

    from egogym.data import schema as S
    from egogym.data.aria import convert
    from egogym.pipelines.human import collect_human

    out, rec = tmp_path / "h.hdf5", tmp_path / "recs"
    assert collect_human(1, 2, out, (32, 32), progress=False, recordings=rec, fps=50.0, picks=3,
                         horizon="robot-exact", point="grip", fill_gaps=0.1) == 0
    plain = tmp_path / "plain.hdf5"
    convert([rec / "episode_000002"], plain, horizon="robot-exact", point="grip", progress=False)
    assert (~np.load(rec / "episode_000002" / "truth.npz")["tracked"]).sum() >= 3
    with h5py.File(out, "r") as f, h5py.File(plain, "r") as g:
        a, b = f[S.DATA]["demo_0"], g[S.DATA]["demo_0"]
        kept_a, kept_b = json.loads(a.attrs["frame_index"]), json.loads(b.attrs["frame_index"])
        dropped = json.loads(a.attrs["dropped"])
        assert a.attrs["fill_gaps"] == pytest.approx(0.1) and b.attrs["fill_gaps"] == 0
        n, span = int(a.attrs["n_frames"]), S.ROBOT_STRIDE * (S.CHUNK - 1)
        assert dropped["untracked"] == 0 and len(kept_a) + dropped["out_of_image"] == n - span
        assert len(kept_a) > 2 * len(kept_b) and set(kept_b) <= set(kept_a)
        common = [kept_a.index(t) for t in kept_b]
        np.testing.assert_allclose(a[S.XYZ_ACT][()][common], b[S.XYZ_ACT][()], atol=1e-9)


def test_the_positive_control_refuses_the_persons_recording_and_cut_options(tmp_path):
    """`--demonstrator robot` stores the robot's own demos and chunks: the person's horizon, label point, picks and
    bridge mean nothing there and are refused before anything is collected."""
    from egogym.pipelines.human import collect_human

    for option in ({"horizon": "robot-exact"}, {"point": "grip"}, {"picks": 3}, {"fill_gaps": 0.1}):
        with pytest.raises(UserError, match="--horizon, --point, --picks, --fill-gaps: the positive control's demos"):
            collect_human(1, 0, tmp_path / "pc.hdf5", (32, 32), progress=False, demonstrator="robot", **option)
    assert not list(tmp_path.iterdir())
