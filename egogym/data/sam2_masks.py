"""Hand masks for real Aria recordings with SAM2, prompted with the projected hand points.

Optional: needs the `sam2` package (and torch, torchvision) in the environment, and a
SAM2 checkpoint file the user has downloaded; nothing is downloaded here. The simulated
human does not need it: its masks come from segmentation rendering.

    masker = Sam2HandMasker.from_checkpoint("sam2.1_hiera_tiny.pt")
    mask = masker.mask(image, points_uv)   # (H, W) bool

`points_uv` are the projections of the tracked wrist and palm into the (upright,
undistorted) image, continuous pixel coordinates (u right, v down, (0, 0) the top-left
corner of the top-left pixel, as everywhere in egogym); each is a positive (foreground)
click for SAM2. SAM2 takes clicks as pixel indices (the centre of the top-left pixel is
(0, 0): its prompt encoder adds the half pixel), so they are passed as `points_uv - 0.5`.
torch is imported only by the sam2 package, only when `from_checkpoint` runs.

Tested against SAM2 itself (a randomly initialised model from the package's own config,
in the separate `.venv-sam2`) by tests/human/test_sam2_real.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from egogym.core.errors import UserError

DEFAULT_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
"""SAM2's own config name for the tiny model (the checkpoint must match the config)."""


class Sam2HandMasker:
    """Wraps an object with `SAM2ImagePredictor`'s interface: `set_image(image)` and
    `predict(point_coords=(N, 2), point_labels=(N,), multimask_output=False) ->
    (masks (C, H, W), scores (C,), low-res logits)`."""

    def __init__(self, predictor):
        self.predictor = predictor

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path | None, config: str | None = None,
                        device: str = "cpu") -> "Sam2HandMasker":
        """Build SAM2 from a local checkpoint and a config name of the sam2 package."""
        if not checkpoint:
            raise UserError("SAM2 masks need --sam2-checkpoint PATH (a SAM2 .pt file you downloaded; "
                            "egogym downloads nothing)")
        path = Path(checkpoint)
        if not path.is_file():
            raise UserError(f"--sam2-checkpoint {path}: no such file")
        try:
            from sam2.build_sam import build_sam2
            from sam2.sam2_image_predictor import SAM2ImagePredictor
        except ImportError as e:
            raise UserError(f"SAM2 masks need the 'sam2' package ({e.name} is missing): install it as "
                            "docs/HUMAN_DATA.md says (torch + torchvision, SAM2_BUILD_CUDA=0)") from None
        config = config or DEFAULT_CONFIG
        try:
            model = build_sam2(config, ckpt_path=str(path), device=device)
        except Exception as e:  # hydra, torch.load and load_state_dict errors run over many lines
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise UserError(f"--sam2-checkpoint {path} with --sam2-config {config}: not a matching SAM2 "
                            f"checkpoint and config ({type(e).__name__}{': ' + first if first else ''})") from None
        return cls(SAM2ImagePredictor(model))

    def mask(self, image: np.ndarray, points_uv: np.ndarray) -> np.ndarray:
        """(H, W) bool hand mask of `image` (H, W, 3) uint8 from positive clicks at
        `points_uv` (N, 2). No point (hand untracked) gives an empty mask."""
        image = np.asarray(image)
        h, w = image.shape[:2]
        pts = np.asarray(points_uv, dtype=np.float32).reshape(-1, 2)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) == 0:
            return np.zeros((h, w), bool)
        self.predictor.set_image(image)
        masks, scores, _ = self.predictor.predict(point_coords=pts - 0.5, point_labels=np.ones(len(pts), np.int32),
                                                  multimask_output=False)
        masks = np.asarray(masks)
        if masks.ndim == 3:
            masks = masks[int(np.argmax(np.asarray(scores).reshape(-1)))] if len(masks) > 1 else masks[0]
        if masks.shape != (h, w):
            raise ValueError(f"SAM2 returned a mask of shape {masks.shape} for an image of {(h, w)}")
        return masks > 0.5
