"""The opt-in recipe options: random shift, learning-rate schedule, coordinate channels, keypoints."""
import dataclasses

import pytest
import torch

from egogym.policies.batch import random_shift
from egogym.policies.config import ConfigError, preset
from egogym.policies.model import EgoACT
from egogym.policies.train import Trainer, open_files

SMOKE = preset("smoke").with_overrides({"model.image_size": "32,32"})


def test_new_fields_default_to_the_old_behaviour_and_validate():
    t, m = preset("smoke").train, preset("smoke").model
    assert (t.shift_pad, t.lr_schedule, t.warmup_steps) == (0, "constant", 0)
    assert (m.coord_channels, m.keypoints) == (False, 0)
    assert [t.lr_at(s, 10) for s in range(10)] == [t.lr] * 10
    with pytest.raises(ConfigError, match="did you mean 'cosine'"):
        SMOKE.with_overrides({"train.lr_schedule": "cosin"})
    for bad in ({"train.shift_pad": "-1"}, {"train.warmup_steps": "-2"}, {"model.keypoints": "-1"}):
        with pytest.raises(ConfigError):
            SMOKE.with_overrides(bad)
    assert SMOKE.with_overrides({"model.coord_channels": "true"}).model.coord_channels is True


def test_warmup_then_cosine_reaches_zero():
    t = dataclasses.replace(preset("smoke").train, lr=1.0, lr_schedule="cosine", warmup_steps=4)
    lrs = [t.lr_at(s, 14) for s in range(14)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0]
    assert lrs[4] == 1.0 and abs(lrs[9] - 0.5) < 1e-9 and lrs[-1] < 0.03
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))


def test_random_shift_is_a_replicate_padded_crop():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    y = random_shift(x, 2, torch.tensor([[2, 2], [0, 4]]))
    torch.testing.assert_close(y[0], x[0])  # offset (pad, pad) is the identity
    assert y.shape == x.shape
    torch.testing.assert_close(y[1, :, 2:, :3], x[1, :, :3, 2:])  # moved down 2 and left 2
    torch.testing.assert_close(y[1, :, 0], x[1, :, 0][:, [2, 3, 4, 4, 4]])  # top row: padded rows repeat row 0
    assert random_shift(x, 0, None) is x


@pytest.mark.parametrize("over", [{"model.coord_channels": "1"}, {"model.keypoints": "4"},
                                  {"model.keypoints": "3", "model.coord_channels": "1"}])
def test_model_options_keep_shapes_and_both_domains(over):
    cfg = SMOKE.with_overrides(over).model
    m = EgoACT(cfg, 1, ("robot", "human"))
    img = {"front": torch.rand(2, 3, 32, 32), "wrist": torch.rand(2, 3, 32, 32)}
    r = m("robot", img, torch.randn(2, 7), torch.randn(2, 100, 10))
    h = m("human", {"front": img["front"]}, torch.randn(2, 3), torch.randn(2, 100, 3))
    assert r["joints"].shape == (2, 100, 7) and r["xyz"].shape == h["xyz"].shape == (2, 100, 3)
    assert "joints" not in h


def test_resnet_refuses_conv_only_options():
    cfg = preset("smoke").with_overrides({"model.backbone": "resnet18", "model.keypoints": "2"}).model
    with pytest.raises(ValueError, match="conv"):
        EgoACT(cfg, 1, ("robot",))


def test_training_with_shift_and_cosine_runs_cotrained_and_resumes(tiny_files, tmp_path):
    robot, human = tiny_files
    cfg = SMOKE.with_overrides({"train.val_every": 100, "train.ckpt_every": 2, "train.video_frames": 0,
                                "train.shift_pad": "2", "train.lr_schedule": "cosine", "train.warmup_steps": "1",
                                "model.coord_channels": "1", "model.keypoints": "2"})
    data, stats = open_files(cfg, robot, human)
    Trainer(cfg, data, stats, tmp_path / "straight", 4, progress=False).fit()
    t = Trainer(cfg, data, stats, tmp_path / "split", 4, progress=False)
    step = t.train_step

    def interrupted(s):  # killed after the step-2 checkpoint: the schedule still spans 4 steps
        if s == 2:
            raise KeyboardInterrupt
        return step(s)

    t.train_step = interrupted
    with pytest.raises(KeyboardInterrupt):
        t.fit()
    t2 = Trainer(cfg, data, stats, tmp_path / "split", 4, resume=True, progress=False)
    t2.fit()
    from safetensors.torch import load_file
    w = lambda run: load_file(str(sorted((run / "checkpoints").iterdir())[-1] / "model.safetensors"))
    a, b = w(tmp_path / "straight"), w(tmp_path / "split")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_early_frames_are_oversampled_and_proprio_dropout_zeroes_whole_samples(tiny_files, tmp_path):
    robot, _ = tiny_files
    base = SMOKE.with_overrides({"train.val_every": 100, "train.ckpt_every": 100, "train.video_frames": 0})
    data, stats = open_files(base, robot, None)
    ds = data["robot"][0]
    assert list(Trainer(base, data, stats, tmp_path / "a", 1, progress=False).sample_map["robot"]) == list(range(len(ds)))
    cfg = base.with_overrides({"train.early_steps": "3", "train.early_repeat": "4", "train.proprio_dropout": "0.5"})
    t = Trainer(cfg, data, stats, tmp_path / "b", 1, progress=False)
    smap = t.sample_map["robot"]
    assert len(smap) == len(ds) + 3 * 3 * len(ds.lengths)
    assert all(ds.locate(int(i))[1] < 3 for i in smap[len(ds):])
    inp, _ = t._batch("robot", 0)
    zero = (inp.proprio == 0).all(1)
    assert ((inp.proprio != 0).all(1) | zero).all()  # a sample keeps all its joints or none
    assert inp.wrist_keep is None  # wrist dropout off: every sample keeps its wrist camera
    t = Trainer(base.with_overrides({"train.wrist_dropout": "0.5"}), data, stats, tmp_path / "c", 1, progress=False)
    inp, _ = t._batch("robot", 0)
    assert inp.wrist_keep.dtype == torch.bool and 0 < int(inp.wrist_keep.sum()) < len(inp.wrist_keep)
    assert t._batch("robot", 0)[0].wrist_keep.tolist() == inp.wrist_keep.tolist()  # drawn from (seed, step)
    with pytest.raises(ConfigError):
        SMOKE.with_overrides({"train.proprio_dropout": "1.0"})
    with pytest.raises(ConfigError):
        SMOKE.with_overrides({"train.early_repeat": "0"})


def test_human_early_frames_are_oversampled_only_when_asked(tiny_files, tmp_path):
    """The first frames, where only vision says where the toy is, are drawn more often in the
    robot demos; `train.early_human` does the same for the human demos (issue 24: without it,
    human-only placements are seen 10x less often at t = 0 than the robot's)."""
    robot, human = tiny_files
    base = SMOKE.with_overrides({"train.val_every": 100, "train.ckpt_every": 100, "train.video_frames": 0,
                                 "train.early_steps": "2", "train.early_repeat": "3"})
    data, stats = open_files(base, robot, human)
    hs = data["human"][0]
    assert len(Trainer(base, data, stats, tmp_path / "a", 1, progress=False).sample_map["human"]) == len(hs)
    cfg = base.with_overrides({"train.early_human": "1"})
    smap = Trainer(cfg, data, stats, tmp_path / "b", 1, progress=False).sample_map["human"]
    assert len(smap) == len(hs) + 2 * 2 * len(hs.lengths)
    assert all(hs.locate(int(i))[1] < 2 for i in smap[len(hs):])


def test_front_crop_keeps_the_region_before_resizing_and_validates():
    from egogym.policies.batch import images_to_tensor

    img = torch.zeros(1, 8, 8, 3, dtype=torch.uint8)
    img[0, 4:, 4:] = 255  # bottom-right quarter white
    x = images_to_tensor(img.numpy(), (8, 8), (0.5, 0.5, 0.5, 0.5))
    assert x.shape == (1, 3, 8, 8) and float(x.min()) == 1.0
    assert float(images_to_tensor(img.numpy(), (8, 8), (0.0, 0.0, 0.5, 0.5)).max()) == 0.0
    for bad in ("0.5,0.5,0.6,0.5", "0.1,0.1,0.5", "-0.1,0,0.5,0.5"):
        with pytest.raises(ConfigError):
            SMOKE.with_overrides({"model.front_crop": bad})
    cfg = SMOKE.with_overrides({"model.front_crop": "0.25,0.25,0.5,0.5"})
    from egogym.policies.config import Config
    assert Config.from_dict(cfg.to_dict()) == cfg and cfg.model.front_crop == (0.25, 0.25, 0.5, 0.5)


def test_checkpoint_digest_ignores_later_fields_at_their_old_values():
    from egogym.policies.checkpoint import config_digest
    import hashlib, json

    cfg = preset("smoke")
    old = {k: v for k, v in cfg.to_dict()["model"].items() if k not in ("front_crop", "coord_channels", "keypoints")}
    assert config_digest(cfg) == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()
    assert config_digest(cfg.with_overrides({"model.keypoints": "2"})) != config_digest(cfg)


def test_cpu_preset_recipe_cotrains_and_trains_robot_only(tiny_files, tmp_path):
    robot, human = tiny_files
    cfg = preset("cpu").with_overrides({"train.val_every": 100, "train.ckpt_every": 100, "train.video_frames": 0,
                                        "train.batch_size": 2, "train.val_batches": 1})
    for name, h in (("cotrain", human), ("robot", None)):
        data, stats = open_files(cfg, robot, h)
        t = Trainer(cfg, data, stats, tmp_path / name, 2, progress=False)
        t.fit()
        assert t.domains == (("robot", "human") if h else ("robot",))
        assert len(t.sample_map["robot"]) > len(data["robot"][0])  # early frames oversampled
