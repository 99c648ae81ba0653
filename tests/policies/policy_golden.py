"""Golden outputs of a fixed-seed `smoke` model: the inputs, the model and what is pinned.

Regenerate (only after an intended change to the model, and say so in the commit):

    python tests/policies/policy_golden.py --write
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from egogym.policies.batch import ModelInputs  # noqa: E402
from egogym.policies.config import preset  # noqa: E402
from egogym.policies.model import EgoACT  # noqa: E402
from egogym.policies.objective import cotrain_loss  # noqa: E402

GOLDEN = Path(__file__).with_name("golden_smoke.json")


def golden_outputs() -> dict[str, list[float]]:
    torch.manual_seed(0)
    cfg = preset("smoke")
    model = EgoACT(cfg.model, 1, ("robot", "human"))
    g = torch.Generator().manual_seed(1)
    h, w = cfg.model.image_size

    def inputs(domain, B=2):
        imgs = {"front": torch.rand(B, 3, h, w, generator=g)}
        if domain == "robot":
            imgs["wrist"] = torch.rand(B, 3, h, w, generator=g)
        p = torch.randn(B, 7 if domain == "robot" else 3, generator=g)
        a = torch.randn(B, 100, 10 if domain == "robot" else 3, generator=g)
        return ModelInputs(domain, imgs, p, a, None)

    robot, human = inputs("robot"), inputs("human")
    noise = {"robot": torch.randn(2, cfg.model.latent, generator=g), "human": torch.randn(2, cfg.model.latent, generator=g)}
    model.eval()
    with torch.no_grad():
        out = model("robot", robot.images, robot.proprio)
        loss, _ = cotrain_loss(model, robot, human, cfg.train, noise)
    return {"joints_first_points": out["joints"][0, :3].reshape(-1).tolist(),
            "xyz_last_point": out["xyz"][1, -1].tolist(),
            "joints_sum": [float(out["joints"].sum())], "xyz_sum": [float(out["xyz"].sum())],
            "cotrain_loss": [float(loss)]}


if __name__ == "__main__":
    if "--write" not in sys.argv:
        print(json.dumps(golden_outputs(), indent=1))
        sys.exit(0)
    GOLDEN.write_text(json.dumps(golden_outputs(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
