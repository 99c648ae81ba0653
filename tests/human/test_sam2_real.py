"""SAM2 itself behind egogym's hand masker: a randomly initialised model built offline
from the sam2 package's own config (hiera tiny, image size 256, REFERENCE §9).

SAM2 needs torch 2.14.1 + torchvision, which cannot go into .venv (torch 2.13.0), so it
lives in `.venv-sam2` (made by `bash .ci/setup.sh --tests`) and runs in a subprocess; this
process stays on torch 2.13. The frames and prompts are the simulated human's, exactly
as the Aria converter hands them to a masker (projected wrist and palm). Checked: the
integration contract (mask shape and dtype, SAM2's click convention, several clicks in
one prompt, untracked points, one-line checkpoint errors), not mask quality (random
weights).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM2_PYTHON = ROOT / ".venv-sam2" / "bin" / "python"
SETUP = "bash .ci/setup.sh --tests (it makes .venv-sam2; see docs/HUMAN_DATA.md)"

# Runs in .venv-sam2: argv = frames.npz, out.json, scratch folder.
CHILD = r'''
import json, sys
from pathlib import Path
import numpy as np
import torch
from sam2.build_sam import build_sam2
from sam2.sam2_image_predictor import SAM2ImagePredictor
from egogym.core.errors import UserError
from egogym.data.sam2_masks import DEFAULT_CONFIG, Sam2HandMasker

src, out, scratch = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
data = np.load(src)
torch.manual_seed(0)
model = build_sam2(DEFAULT_CONFIG, ckpt_path=None, device="cpu", hydra_overrides_extra=["++model.image_size=256"])
pred = SAM2ImagePredictor(model)
pred._bb_feat_sizes = [(64, 64), (32, 32), (16, 16)]
seen = []  # what reaches the model: coordinates at its resolution, labels, low-res logits
inner = pred._predict
def spy(point_coords, point_labels, *a, **k):
    res = inner(point_coords, point_labels, *a, **k)
    seen.append((point_coords.numpy().tolist(), point_labels.numpy().tolist(), res[2].float().numpy()))
    return res
pred._predict = spy
masker = Sam2HandMasker(pred)
R = model.image_size
rep = {"image_size": R, "params": sum(p.numel() for p in model.parameters()), "frames": []}
for i in range(int(data["n"])):
    img, pts = data[f"img{i}"], data[f"pts{i}"]
    h, w = img.shape[:2]
    n0 = len(seen)
    m = masker.mask(img, pts)
    calls = seen[n0:]
    # SAM2's own answer to the same clicks given as pixel indices.
    ref, scores, _ = pred.predict(point_coords=pts - 0.5, point_labels=np.ones(len(pts), np.int32),
                                  multimask_output=False)
    one = masker.mask(img, pts[:1])
    logits_one = seen[-1][2]
    nan_first = masker.mask(img, np.vstack([[np.nan, np.nan], pts]))
    n1 = len(seen)
    empty = masker.mask(img, np.full((2, 2), np.nan))
    rep["frames"].append({
        "shape": list(m.shape), "dtype": str(m.dtype), "image_shape": list(img.shape), "calls": len(calls),
        "coords": calls[0][0], "labels": calls[0][1],
        "want_coords": ((pts - 0.5) / [w, h] * R).tolist(),
        "equals_sam2": bool(np.array_equal(m, ref[int(np.argmax(scores))] > 0.5)),
        "logits_differ_1_vs_all": float(np.abs(calls[0][2] - logits_one).max()),
        "nan_point_dropped": bool(np.array_equal(nan_first, m)) and len(seen[n1 - 1][0][0]) == len(pts),
        "untracked_empty": (not empty.any()) and empty.shape == m.shape and len(seen) == n1,
        "fraction": float(m.mean()),
    })

def err(fn):
    try:
        fn()
    except UserError as e:
        return ["UserError", str(e)]
    except BaseException as e:
        return [type(e).__name__, str(e)]
    return None

ckpt = scratch / "random_init.pt"
torch.save({"model": model.state_dict()}, ckpt)
loaded = Sam2HandMasker.from_checkpoint(ckpt)
key = "sam_mask_decoder.iou_prediction_head.layers.0.weight"
rep["checkpoint_loads"] = bool(torch.equal(loaded.predictor.model.state_dict()[key], model.state_dict()[key]))
(scratch / "garbage.pt").write_bytes(b"not a checkpoint")
torch.save({"model": {"nothing": torch.zeros(1)}}, scratch / "other.pt")
rep["errors"] = {
    "none": err(lambda: Sam2HandMasker.from_checkpoint(None)),
    "missing": err(lambda: Sam2HandMasker.from_checkpoint(scratch / "missing.pt")),
    "garbage": err(lambda: Sam2HandMasker.from_checkpoint(scratch / "garbage.pt")),
    "other_model": err(lambda: Sam2HandMasker.from_checkpoint(scratch / "other.pt")),
    "bad_config": err(lambda: Sam2HandMasker.from_checkpoint(ckpt, config="configs/no/such.yaml")),
}
out.write_text(json.dumps(rep))
'''


@pytest.fixture(scope="module")
def sam2_report(sim_recordings, tmp_path_factory, human_consts):
    if not SAM2_PYTHON.exists():
        pytest.skip(f"no {SAM2_PYTHON.relative_to(ROOT)}: run {SETUP}")
    from egogym.data import aria

    class Capture:
        """A masker that keeps what the converter asks it (image, projected wrist and palm)."""

        def __init__(self):
            self.calls = []

        def mask(self, image, points_uv):
            self.calls.append((np.array(image), np.array(points_uv, float)))
            return np.zeros(np.shape(image)[:2], bool)

    tmp = tmp_path_factory.mktemp("sam2_real")
    cap = Capture()
    aria.convert([sim_recordings[0]], tmp / "h.hdf5", image_size=human_consts[0], progress=False, masker=cap)
    picks = [cap.calls[i] for i in np.linspace(0, len(cap.calls) - 1, 3).astype(int)]
    assert all(len(p) >= 2 for _, p in picks), "the converter should give wrist and palm clicks"
    arrays = {"n": len(picks)}
    for i, (img, pts) in enumerate(picks):
        arrays[f"img{i}"], arrays[f"pts{i}"] = img, pts
    np.savez(tmp / "frames.npz", **arrays)
    script = tmp / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run([str(SAM2_PYTHON), str(script), str(tmp / "frames.npz"), str(tmp / "out.json"), str(tmp)],
                          cwd=tmp, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"SAM2 subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return json.loads((tmp / "out.json").read_text())


def test_random_init_sam2_is_built_from_the_package_config(sam2_report):
    assert sam2_report["image_size"] == 256
    assert 30e6 < sam2_report["params"] < 50e6  # hiera tiny: 39 M (REFERENCE §9)


def test_mask_is_sam2s_answer_with_the_images_shape(sam2_report):
    for f in sam2_report["frames"]:
        assert f["shape"] == f["image_shape"][:2] and f["dtype"] == "bool"
        assert f["image_shape"][:2] != [256, 256]  # SAM2 resized it to 256 and back
        assert f["equals_sam2"]


def test_clicks_reach_sam2_as_pixel_indices_in_one_prompt(sam2_report):
    for f in sam2_report["frames"]:
        assert f["calls"] == 1
        n = len(f["want_coords"])
        assert np.shape(f["coords"]) == (1, n, 2) and f["labels"] == [[1] * n]
        np.testing.assert_allclose(np.array(f["coords"])[0], f["want_coords"], atol=1e-4)
        # All clicks are one prompt: adding the second changes what SAM2 computes.
        assert f["logits_differ_1_vs_all"] > 1e-6


def test_untracked_points_never_reach_sam2(sam2_report):
    for f in sam2_report["frames"]:
        assert f["nan_point_dropped"] and f["untracked_empty"]


def test_checkpoints_load_and_bad_ones_are_one_line(sam2_report):
    assert sam2_report["checkpoint_loads"]
    errs = sam2_report["errors"]
    for name, e in errs.items():
        assert e is not None and e[0] == "UserError", (name, e)
        assert "\n" not in e[1] and len(e[1]) < 400, (name, e[1])
    assert "--sam2-checkpoint" in errs["none"][1] and "no such file" in errs["missing"][1]
    for name in ("garbage", "other_model", "bad_config"):
        assert "not a matching SAM2 checkpoint" in errs[name][1], errs[name]

