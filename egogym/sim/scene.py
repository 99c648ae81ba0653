"""The MuJoCo twin's scene, composed with dm_control's `mjcf` from the spec.

`build_robot_scene(spec)` returns an `mjcf.RootElement`: the work cell from
`assets/workcell.xml`, a torso with the Aria, and two ViperX 300 S arms built from
primitives (dark links, parallel fingers, a D405 on each wrist). A task's objects are
added by its realisation (`egogym.sim.tasks.build`). `calibration_from_model` reads the intrinsics
and extrinsics back out of the compiled model, so that no calibration number is typed.

Names in the compiled model: arm elements are prefixed by the arm ("right/elbow",
"right/pinch"); cameras keep their spec names through `camera_element_name`.
"""
from __future__ import annotations

import atexit
import weakref
from importlib import resources

import mujoco
import numpy as np
from dm_control import mjcf

from egogym.core import geometry
from egogym.core.spec import ARIA_IMAGE_SIZE, ArmSpec, Calibration, CameraSpec, RobotSpec

_RENDER_OWNERS: "weakref.WeakSet" = weakref.WeakSet()
_EXIT_HOOK: list[bool] = []


def _close_render_owners() -> None:
    for owner in list(_RENDER_OWNERS):
        owner.close()


def own_renderers(owner, first_renderer: bool = False) -> None:
    """Close `owner` (anything with `close()` that holds mujoco.Renderers) before the
    interpreter tears EGL down: EGL contexts left to interpreter teardown print errors.
    Call with first_renderer=True right after creating a renderer: atexit runs hooks last-in
    first-out, so the hook must be registered after mujoco's EGL module (imported with the
    first renderer) to run before it."""
    _RENDER_OWNERS.add(owner)
    if first_renderer and not _EXIT_HOOK:
        atexit.register(_close_render_owners)
        _EXIT_HOOK.append(True)


WORKCELL_XML = "workcell.xml"
"""The work cell (floor, table, lights, materials) in the package's `assets/` folder."""


def load_workcell() -> mjcf.RootElement:
    """The work cell as a fresh MJCF model, read from the installed package's data
    (`importlib.resources`, so a wheel finds it as the source tree does)."""
    with resources.as_file(resources.files("egogym") / "assets" / WORKCELL_XML) as path:
        return mjcf.from_path(str(path))

LINK_RADIUS = 0.022  # m, capsule radius of the arm links
FINGER_PAD_INSET = 0.015  # inner pad face sits this far inside the finger slide position (m)


def _mj_camera_axes(R_cv: np.ndarray) -> list[float]:
    """MuJoCo `xyaxes` for a camera whose OpenCV axes are the columns of R_cv."""
    R_mj = R_cv @ geometry.R_CV_FROM_MJ  # columns: x right, y up, z backward
    return list(R_mj[:, 0]) + list(R_mj[:, 1])


ROBOT_MATERIALS = {
    "robot_dark": (0.13, 0.13, 0.15, 1.0),
    "robot_accent": (0.28, 0.29, 0.32, 1.0),
    "robot_finger": (0.08, 0.08, 0.09, 1.0),
    "camera_body": (0.05, 0.05, 0.05, 1.0),
}


def _build_arm(arm: ArmSpec, wrist_camera: CameraSpec | None) -> mjcf.RootElement:
    """One ViperX 300 S from primitives, in its own namescope (prefix = arm name)."""
    model = mjcf.RootElement(model=arm.name)
    # Dark, machined look: visibly a robot, never a hand.
    for name, rgba in ROBOT_MATERIALS.items():
        model.asset.add("material", name=name, rgba=list(rgba), specular=0.3, shininess=0.4)
    parent = model.worldbody.add("body", name="base_link", gravcomp=1)
    parent.add("geom", type="cylinder", size=[0.05, 0.02], pos=[0, 0, 0.02], material="robot_accent", mass=0.5)
    for i, j in enumerate(arm.joints):
        body = parent.add("body", name=j.body, pos=list(j.offset), gravcomp=1)
        # Stiff limits (time constant 2 physics steps, impedance near 1; MuJoCo's defaults let a
        # fast forearm roll swing 0.88 rad past its range): what is left is `spec.JOINT_LIMIT_SLACK`.
        body.add("joint", name=j.name, axis=list(j.axis), range=[j.lower, j.upper], solreflimit=[0.004, 1], solimplimit=[0.99, 0.999, 0.001],
                 damping=2.0 if i < 3 else 0.5, armature=0.05 if i < 3 else 0.01)
        model.actuator.add("position", name=j.name, joint=j.name,
                           kp=j.kp, ctrlrange=[j.lower, j.upper])
        # Link drawn from this joint towards the next joint (or the gripper tip).
        nxt = arm.joints[i + 1].offset if i + 1 < len(arm.joints) else arm.gripper.finger_offset
        nxt = np.asarray(nxt, float)
        if np.linalg.norm(nxt) > 1e-6:
            material = "robot_dark" if i % 2 == 0 else "robot_accent"
            body.add("geom", type="capsule", fromto=[0, 0, 0] + list(nxt * 0.92),
                     size=[LINK_RADIUS * (1.0 if i < 3 else 0.8)], material=material, mass=0.3 if i < 3 else 0.1)
        # Motor housings at the joints (visual bulk only, no collision).
        body.add("geom", type="cylinder", size=[LINK_RADIUS * 1.3, 0.025], material="robot_dark",
                 zaxis=list(j.axis), contype=0, conaffinity=0, mass=0.05)
        parent = body
    g = arm.gripper
    gripper = parent
    # The palm sits well behind the pinch point so that a held bar never touches it.
    gripper.add("geom", type="box", size=[0.02, 0.045, 0.018], pos=[g.finger_offset[0] - 0.025, 0, 0],
                material="robot_accent", mass=0.1)
    gripper.add("site", name="pinch", pos=[g.pinch_offset, 0, 0], size=[0.006], rgba=[1, 0, 0, 0], group=4)
    lo, hi = g.finger_range
    for side, sign in (("left_finger", 1.0), ("right_finger", -1.0)):
        finger = gripper.add("body", name=side, pos=list(g.finger_offset), gravcomp=1)
        finger.add("joint", name=side, type="slide", axis=[0, sign, 0], range=[lo, hi], damping=5.0, armature=0.01)
        # The pad's inner face sits at FINGER_PAD_INSET inside the slide position; its tip
        # reaches just past the pinch point, so a toy resting on the table can be pinched
        # at its middle without the fingertips striking the table first.
        tip = g.pinch_offset + 0.005 - g.finger_offset[0]
        finger.add("geom", name=f"{side}_pad", type="box", size=[0.022, 0.006, 0.013],
                   pos=[tip - 0.022, sign * (0.006 - FINGER_PAD_INSET), 0], material="robot_finger",
                   friction=[1.5, 0.05, 0.002], mass=0.03, condim=4)
        model.actuator.add("position", name=side, joint=side, kp=g.kp, ctrlrange=[lo, hi])
    if wrist_camera is not None:
        R = geometry.look_at(wrist_camera.pos, wrist_camera.look_at, wrist_camera.up)
        housing = np.asarray(wrist_camera.pos) - 0.015 * R[:, 2]
        gripper.add("geom", type="box", size=[0.022, 0.008, 0.01], pos=list(housing), quat=list(geometry.mat_to_quat(R)),
                    material="camera_body", contype=0, conaffinity=0, mass=0.02)
        gripper.add("camera", name="wrist_cam", pos=list(wrist_camera.pos), xyaxes=_mj_camera_axes(R),
                    fovy=wrist_camera.fovy_deg)
    return model


def camera_element_name(spec: RobotSpec, camera: str) -> str:
    """Name of a spec camera in the compiled model."""
    cam = spec.camera(camera)
    if cam.parent == "torso":
        return cam.name
    arm = cam.parent.split("/")[0]
    return f"{arm}/wrist_cam"


def table_top_z(physics: mjcf.Physics) -> float:
    """Height (m, world) of the table's top surface in a compiled work cell."""
    m = physics.named.model
    return float(m.body_pos["table"][2] + m.geom_pos["tabletop"][2] + m.geom_size["tabletop"][2])


def build_robot_scene(spec: RobotSpec, offscreen_size: tuple[int, int] = ARIA_IMAGE_SIZE) -> mjcf.RootElement:
    """The work cell with the torso, the Aria and both arms (no task objects yet).

    offscreen_size: the largest (height, width) any renderer of this model will use.
    """
    root = load_workcell()
    root.option.timestep = spec.physics_dt
    root.visual.__getattr__("global").offheight = max(offscreen_size[0], 480)
    root.visual.__getattr__("global").offwidth = max(offscreen_size[1], 640)

    torso = add_torso(root, spec)
    mount_z = spec.arms[0].mount_pos[2]
    # The Aria's post, rising from the crossbar behind the lens.
    for cam in spec.cameras:
        if cam.parent == "torso":
            post_top = cam.pos[2] - 0.03
            torso.add("geom", type="cylinder", size=[0.012, (post_top - mount_z) / 2],
                      pos=[cam.pos[0] - 0.03, cam.pos[1], (post_top + mount_z) / 2], material="torso")

    for cam in spec.cameras:
        if cam.parent != "torso":
            continue
        R = geometry.look_at(cam.pos, cam.look_at, cam.up)
        # The device's housing sits just behind the lens so it never blocks the view.
        housing = np.asarray(cam.pos) - 0.025 * R[:, 2]
        torso.add("geom", type="box", size=[0.07, 0.015, 0.012], pos=list(housing), quat=list(geometry.mat_to_quat(R)),
                  material="camera_body", contype=0, conaffinity=0)
        torso.add("camera", name=cam.name, pos=list(cam.pos), xyaxes=_mj_camera_axes(R), fovy=cam.fovy_deg)

    attach_arms(torso, spec)
    return root


def add_torso(root: mjcf.RootElement, spec: RobotSpec) -> mjcf.Element:
    """The torso body (at the world origin): a column and the shoulder crossbar the arms hang from,
    which the robot's Aria sees at the bottom of its image. Returns the body (arms and cameras go in it)."""
    torso = root.worldbody.add("body", name="torso")
    tx, ty, _ = spec.torso_pos
    mount_z = spec.arms[0].mount_pos[2]
    torso.add("geom", type="box", size=[0.05, 0.08, mount_z / 2 + 0.06], pos=[tx, ty, mount_z / 2 + 0.06], material="torso")
    # A connector from the column to a shoulder crossbar the arms hang from.
    bar_x = float(np.mean([a.mount_pos[0] for a in spec.arms]))
    half_span = max(abs(a.mount_pos[1]) for a in spec.arms) + 0.06
    torso.add("geom", type="box", size=[(bar_x - tx) / 2, 0.04, 0.025], pos=[(bar_x + tx) / 2, ty, mount_z + 0.025],
              material="torso")
    torso.add("geom", type="box", size=[0.035, half_span, 0.025], pos=[bar_x, ty, mount_z + 0.025], material="torso")
    return torso


def attach_arms(parent: mjcf.Element, spec: RobotSpec) -> None:
    """Every arm of `spec` (with its wrist camera) at its mount, in `parent` (a body at the
    world origin): joints `<arm>/<joint>`, pinch site `<arm>/pinch`."""
    for arm in spec.arms:
        wrist = next((c for c in spec.cameras if c.parent == f"{arm.name}/gripper_link"), None)
        site = parent.add("site", name=f"{arm.name}_mount", pos=list(arm.mount_pos), quat=list(arm.mount_quat))
        site.attach(_build_arm(arm, wrist))


def arm_qpos_addresses(model: mujoco.MjModel, spec: RobotSpec) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per arm of `spec` in a model built with `attach_arms`: (qpos addresses of its 6 joints, of its
    two finger slides)."""
    return {a.name: (np.array([model.joint(f"{a.name}/{j}").qposadr[0] for j in a.joint_names]),
                     np.array([model.joint(f"{a.name}/{f}").qposadr[0] for f in ("left_finger", "right_finger")]))
            for a in spec.arms}


def arm_keypoints(model: mujoco.MjModel, data: mujoco.MjData, spec: RobotSpec, arm: str) -> np.ndarray:
    """(8, 3) points along an arm's links (m, world) in a model built with `attach_arms`: its base, each
    joint's body, then the pinch point. The red line of `front_img_1_line` is drawn through them."""
    ids = [model.body(f"{arm}/base_link").id] + [model.body(f"{arm}/{j.body}").id for j in spec.arm(arm).joints]
    return np.concatenate([data.xpos[ids], data.site_xpos[model.site(f"{arm}/pinch").id][None]], axis=0)


def arm_geoms(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    """Ids of every geom of the arms of `spec` in a model built with `attach_arms` (what a mask of the arms covers)."""
    names = {a.name for a in spec.arms}
    bodies = [b for b in range(model.nbody) if model.body(b).name.split("/")[0] in names]
    return np.flatnonzero(np.isin(model.geom_bodyid, bodies))


def calibration_from_model(model: mujoco.MjModel, data: mujoco.MjData, spec: RobotSpec,
                           size: tuple[int, int]) -> Calibration:
    """Intrinsics and extrinsics of the compiled model at image size (height, width).

    Intrinsics come from each camera's fovy; T_cam_base from the forward kinematics
    of `data` (the Aria is fixed to the torso, so any state gives the same answer);
    T_gripper_cam from the wrist cameras' mounting.
    """
    mujoco.mj_kinematics(model, data)
    h, w = size
    K, sizes, T_cam_base, T_grip_cam = {}, {}, {}, {}
    for cam in spec.cameras:
        cid = model.camera(camera_element_name(spec, cam.name)).id
        f = 0.5 * h / np.tan(np.radians(model.cam_fovy[cid]) / 2.0)
        K[cam.name] = geometry.intrinsics(f, h, w)
        sizes[cam.name] = (h, w)
        T_world_cam = camera_pose(model, data, cid)
        if cam.parent == "torso":
            for arm in spec.arms:
                T_world_base = body_pose(data, model.body(f"{arm.name}/base_link").id)
                T_cam_base[arm.name] = geometry.invert(T_world_cam) @ T_world_base
        else:
            arm = cam.parent.split("/")[0]
            T_world_grip = body_pose(data, model.body(f"{arm}/gripper_link").id)
            T_grip_cam[cam.name] = geometry.invert(T_world_grip) @ T_world_cam
    return Calibration(K, sizes, T_cam_base, T_grip_cam, source="sim model")


def camera_pose(model: mujoco.MjModel, data: mujoco.MjData, cam_id: int) -> np.ndarray:
    """T_world_cam with the camera frame in OpenCV convention."""
    R_mj = data.cam_xmat[cam_id].reshape(3, 3)
    return geometry.make_transform(R_mj @ geometry.R_CV_FROM_MJ, data.cam_xpos[cam_id])


def body_pose(data: mujoco.MjData, body_id: int) -> np.ndarray:
    """T_world_body."""
    return geometry.make_transform(data.xmat[body_id].reshape(3, 3), data.xpos[body_id])
