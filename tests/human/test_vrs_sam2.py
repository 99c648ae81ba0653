"""The real-recording path: VRS frames through data_provider's interface, SAM2 masks.

VRS files cannot be written on this machine (REFERENCE §9), so a fake provider with
`data_provider`'s interface serves fisheye frames made from the simulated human's
linear frames with projectaria_tools' own calibration functions. SAM2 is exercised
with a fake predictor that has `SAM2ImagePredictor`'s interface (set_image, predict).
"""
from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from PIL import Image

from egogym.core import geometry
from egogym.data import aria
from egogym.data import schema as S
from egogym.data.sam2_masks import Sam2HandMasker
from egogym.sim.human import T_DEVICE_RGB_SENSOR, T_DEVICE_RGB_UPRIGHT

calibration = pytest.importorskip("projectaria_tools.core.calibration")
from projectaria_tools.core.sophus import SE3  # noqa: E402


def fisheye_calib(T_device_camera: np.ndarray, size: int = 256, f: float = 110.0):
    """A FISHEYE624 camera-rgb calibration (f, cx, cy, k0..k5, p0, p1, s0..s3)."""
    params = np.array([f, size / 2 - 0.5, size / 2 - 0.5, 0.12, -0.04, 0.01, 0, 0, 0, 0, 0, 0, 0, 0, 0], float)
    return calibration.CameraCalibration("camera-rgb", calibration.CameraModelType.FISHEYE624, params,
                                         SE3.from_matrix(T_device_camera), size, size, None, np.pi, "fake")


class FakeImageData:
    def __init__(self, a):
        self._a = a

    def to_numpy_array(self):
        return self._a


class FakeRecord:
    def __init__(self, t_ns):
        self.capture_timestamp_ns = int(t_ns)


class FakeDeviceCalibration:
    def __init__(self, cam):
        self._cam = cam

    def get_camera_calib(self, label):
        return self._cam if label == "camera-rgb" else None


class FakeVrsProvider:
    """data_provider.VrsDataProvider's interface, serving the sim recording's frames
    re-distorted to a fisheye camera (sensor orientation, as Aria's RGB sensor)."""

    def __init__(self, rec_folder, image_channel="frames"):
        ts = [ln.split(",") for ln in (rec_folder / "frames" / "timestamps.csv").read_text().splitlines()[1:]]
        self.t_ns = [int(t) for _, t in ts]
        self.folder = rec_folder / image_channel
        cal = json.loads((rec_folder / "device_calibration.json").read_text())
        T = np.array(cal["T_device_camera"])
        self.src_linear = calibration.get_linear_camera_calibration(cal["image_width"], cal["image_height"],
                                                                    cal["focal_px"], "camera-rgb", SE3.from_matrix(T))
        self.fisheye = fisheye_calib(T)
        self.calls = 0

    def get_stream_id_from_label(self, label):
        return "214-1" if label == "camera-rgb" else None

    def get_device_calibration(self):
        return FakeDeviceCalibration(self.fisheye)

    def get_num_data(self, stream):
        assert stream == "214-1"
        return len(self.t_ns)

    def get_timestamps_ns(self, stream, time_domain):
        from projectaria_tools.core.sensor_data import TimeDomain

        assert stream == "214-1" and time_domain == TimeDomain.DEVICE_TIME
        return list(self.t_ns)

    def get_image_data_by_index(self, stream, i):
        self.calls += 1
        lin = np.array(Image.open(self.folder / f"{i:06d}.png"))
        if lin.dtype == bool:
            lin = lin.astype(np.uint8) * 255
        fish = calibration.distort_by_calibration(lin, self.fisheye, self.src_linear)
        return FakeImageData(np.asarray(fish)), FakeRecord(self.t_ns[i])


class FakeSam2Predictor:
    """SAM2ImagePredictor's interface: a disk of radius r px around every click."""

    def __init__(self, r=5.0):
        self.r, self.image, self.clicks = r, None, []

    def set_image(self, image):
        self.image = np.asarray(image)

    def predict(self, point_coords=None, point_labels=None, multimask_output=True):
        assert self.image is not None and point_coords is not None and (np.asarray(point_labels) == 1).all()
        h, w = self.image.shape[:2]
        self.clicks.append(np.asarray(point_coords))
        vv, uu = np.mgrid[0:h, 0:w] + 0.5
        m = np.zeros((h, w), bool)
        for u, v in point_coords:
            m |= (uu - u) ** 2 + (vv - v) ** 2 <= self.r ** 2
        return m[None].astype(np.float32), np.array([0.9], np.float32), np.zeros((1, 256, 256), np.float32)


def test_upright_linear_calibration_agrees_with_ours(sim_recordings, human_consts):
    size = human_consts[0]
    frames = aria.VrsFrames(sim_recordings[0] / "x.vrs", size, provider=FakeVrsProvider(sim_recordings[0]))
    # projectaria_tools' rotated calibration = our device->upright camera transform.
    np.testing.assert_allclose(frames.T_device_rgb, T_DEVICE_RGB_UPRIGHT, atol=1e-6)
    np.testing.assert_allclose(T_DEVICE_RGB_SENSOR @ aria_rot4(), T_DEVICE_RGB_UPRIGHT, atol=1e-12)
    # Its projection (integer pixel centres) = ours (pixel corners at integers) - 0.5.
    up = calibration.rotate_camera_calib_cw90deg(frames.dst)
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2), rng.uniform(0.5, 1.5)])
        np.testing.assert_allclose(np.asarray(up.project(p)), geometry.project(frames.K, p) - 0.5, atol=1e-6)


def aria_rot4():
    return geometry.make_transform(aria.R_UPRIGHT_FROM_SENSOR.T, np.zeros(3))


def test_vrs_frames_are_undistorted_and_upright(sim_recordings, human_consts):
    """The hand mask pushed through fisheye and back lands on the recording's own mask."""
    size = human_consts[0]
    rec = sim_recordings[0]
    frames = aria.VrsFrames(rec / "x.vrs", size, provider=FakeVrsProvider(rec, image_channel="masks"))
    ious = []
    for i in (20, 40, 60):
        got = frames.image(i)[..., 0] > 127
        want = np.rot90(np.array(Image.open(rec / "masks" / f"{i:06d}.png")), k=-1)
        ious.append((got & want).sum() / max((got | want).sum(), 1))
    assert min(ious) > 0.7, ious


def test_vrs_recording_with_sam2_masks_converts_to_the_truth(sim_recordings, tmp_path, human_consts):
    size, _, truth_chunks = human_consts
    src = sim_recordings[1]
    rec = tmp_path / "real_like"
    rec.mkdir()
    shutil.copytree(src / "mps", rec / "mps_real_like_vrs")  # MPS's own folder name
    (rec / "real_like.vrs").write_bytes(b"")  # a stand-in; the fake provider serves the frames
    fake = FakeSam2Predictor()
    out = tmp_path / "h.hdf5"
    names = aria.convert([rec], out, image_size=size, progress=False, masker=Sam2HandMasker(fake),
                         vrs_provider=lambda path: FakeVrsProvider(src))
    assert names == ["demo_0"]
    truth = np.load(src / "truth.npz")
    with h5py.File(out) as f:
        g = f["data/demo_0"]
        keep = np.array(json.loads(g.attrs["frame_index"]))
        err = np.abs(g[S.XYZ_ACT][()] - truth_chunks(truth, keep)).max()
        assert err < 1e-3
        masks = g["obs"][S.FRONT_MASK][()]
    assert len(fake.clicks) == len(keep)
    # The clicks (wrist, palm) fall on the hand, and the stored mask is SAM2's answer.
    on_hand = []
    for t, clicks in zip(keep, fake.clicks):
        true_mask = np.rot90(np.array(Image.open(src / "masks" / f"{t:06d}.png")), k=-1)
        on_hand += [true_mask[int(v), int(u)] for u, v in clicks]
    assert np.mean(on_hand) > 0.95
    assert masks.any(axis=(1, 2)).all()


def test_sam2_without_checkpoint_is_one_clear_error(tmp_path):
    from egogym.core.errors import UserError

    with pytest.raises(UserError, match="--sam2-checkpoint"):
        Sam2HandMasker.from_checkpoint(None)
    with pytest.raises(UserError, match="no such file"):
        Sam2HandMasker.from_checkpoint(tmp_path / "missing.pt")
