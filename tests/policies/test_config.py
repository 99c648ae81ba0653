import dataclasses

import pytest

from egogym.policies.config import PRESETS, Config, ConfigError, FirstK, TemporalEnsemble, preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip_through_json_dict(name):
    cfg = preset(name)
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert cfg.preset == name


def test_paper_preset_matches_reference():
    m, t = preset("paper").model, preset("paper").train
    assert (m.hidden, m.ff, m.heads, m.latent, m.enc_layers, m.dec_layers, m.style_layers) == (512, 3200, 8, 32, 7, 7, 4)
    assert (m.image_size, m.backbone, m.queries, m.chunk) == ((480, 640), "resnet18", 100, 100)
    assert (t.lr, t.weight_decay, t.kl_weight, t.hand_lambda, t.batch_size) == (5e-5, 1e-4, 20.0, 1.0, 16)


def test_unknown_preset_names_the_nearest():
    with pytest.raises(ConfigError, match="did you mean 'paper'"):
        preset("papr")


def test_unknown_field_names_the_nearest():
    with pytest.raises(ConfigError, match="did you mean 'hidden'"):
        preset("cpu").with_overrides({"model.hiden": 64})
    with pytest.raises(ConfigError, match="did you mean 'train'"):
        preset("cpu").with_overrides({"trian.lr": 1})
    d = preset("cpu").to_dict()
    d["model"]["queris"] = 3
    with pytest.raises(ConfigError, match="did you mean 'queries'"):
        Config.from_dict(d)
    for e in (ConfigError,):
        try:
            preset("cpu").with_overrides({"model.hiden": 64})
        except e as err:
            assert "\n" not in str(err)


def test_overrides_parse_strings_and_validate():
    cfg = preset("cpu").with_overrides({"train.lr": "1e-3", "model.image_size": "96,128", "model.queries": "20"})
    assert cfg.train.lr == 1e-3 and cfg.model.image_size == (96, 128) and cfg.model.queries == 20
    with pytest.raises(ConfigError, match="divisible"):
        preset("cpu").with_overrides({"model.hidden": 130})
    with pytest.raises(ConfigError, match="queries"):
        preset("cpu").with_overrides({"model.queries": 101})


def test_configs_are_frozen_and_execution_is_a_choice_of_type():
    cfg = preset("cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model.hidden = 1
    d = cfg.to_dict()
    d["execution"] = {"kind": "temporal_ensemble", "m": 0.02}
    assert Config.from_dict(d).execution == TemporalEnsemble(0.02)
    d["execution"] = {"kind": "temporal_ensembel"}
    with pytest.raises(ConfigError, match="did you mean 'temporal_ensemble'"):
        Config.from_dict(d)
    assert preset("paper").execution == FirstK(25)
