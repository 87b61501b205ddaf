"""Model configuration: validation, presets, JSON round trip, checkpoint compatibility."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engine.configs import config_from_dict, config_to_dict
from engine.errors import ConfigError
from engine.models import (
    QUALITY,
    QUICK,
    ModelConfig,
    build_generator,
    count_parameters,
    describe_incompatibility,
    model_signature,
    preset,
)
from tests.engine.model_helpers import (
    tiny,
    torch_threads,  # noqa: F401 (an autouse fixture)
)


# ---- config ----------------------------------------------------------------------------------
def test_config_json_round_trip():
    cfg = dataclasses.replace(QUALITY, num_classes=7, context_slices=2, arch="pix2pix_unet", dropout=0.5)
    text = json.dumps(config_to_dict(cfg))
    back = config_from_dict(ModelConfig, json.loads(text))
    assert back == cfg
    with pytest.raises(ConfigError, match="unknown setting"):
        config_from_dict(ModelConfig, {**json.loads(text), "colour": "blue"})
    with pytest.raises(ConfigError, match="arch"):
        config_from_dict(ModelConfig, {**json.loads(text), "arch": "transformer"})


@pytest.mark.parametrize("size", [48, 1000, 136 + 4])
def test_validate_rejects_unsupported_image_sizes(size):
    with pytest.raises(ConfigError) as info:
        ModelConfig(image_size=size).validate()
    msg = str(info.value)
    assert f"image_size {size}" in msg and "multiple of 16 between 64 and 512" in msg


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (dict(num_classes=1), "background plus at least one"),
        (dict(context_slices=-1), "context_slices is -1"),
        (dict(style_dim=-2), "style_dim is -2"),
        (dict(d_scales=0), "d_scales is 0"),
        (dict(image_size=64, d_layers=5, d_scales=2), "discriminator is too deep"),
        (dict(arch="resnet"), "arch 'resnet' is unknown"),
        (dict(base_channels=64, max_channels=32), "below base_channels"),
        (dict(spade_kernel=5), "spade_kernel is 5"),
        (dict(dropout=1.0), "dropout is 1.0"),
    ],
)
def test_validate_names_other_bad_settings(kwargs, text):
    with pytest.raises(ConfigError, match=text):
        ModelConfig(**kwargs).validate()
    with pytest.raises(ConfigError, match=text):
        build_generator(ModelConfig(**kwargs))


def test_presets():
    for cfg in (QUICK, QUALITY):
        cfg.validate()
    # issue 12: lean channels (a 512 px slice in under a second on a CPU core), per-pixel norm,
    # a discriminator over pairs of neighbouring slices
    assert (QUICK.image_size, QUICK.base_channels, QUICK.style_dim) == (128, 16, 16)
    assert (QUICK.norm, QUICK.noise, QUICK.d_slices) == (QUALITY.norm, QUALITY.noise, QUALITY.d_slices) == ("pixel", True, 2)
    q = QUALITY
    assert (q.image_size, q.base_channels, q.spade_hidden, q.style_dim) == (256, 64, 128, 64)
    assert QUALITY.d_scales == 2
    cfg = preset("quick", num_classes=6, context_slices=2)
    assert cfg.in_channels == 30 and cfg.image_size == 128
    with pytest.raises(ConfigError, match="unknown model preset"):
        preset("fastest")
    with pytest.raises(ConfigError, match="image_size"):
        preset("quick", image_size=48)
    assert count_parameters(build_generator(cfg)) > count_parameters(build_generator(tiny()))


# ---- compatibility ---------------------------------------------------------------------------
def test_describe_incompatibility():
    a = tiny(num_classes=4)
    assert describe_incompatibility(a, a) == []
    assert describe_incompatibility(a, dataclasses.replace(a)) == []
    classes = describe_incompatibility(a, tiny(num_classes=6))
    assert classes == ["label classes: checkpoint has 4, this run has 6"]
    arch = describe_incompatibility(a, tiny(num_classes=4, arch="pix2pix_unet"))
    assert arch == ["architecture: spade_unet vs pix2pix_unet"]
    both = describe_incompatibility(a, tiny(num_classes=5, arch="pix2pix_unet"))
    assert "architecture: spade_unet vs pix2pix_unet" in both and any("label classes" in m for m in both)
    # settings that do not change weights are not reported; sizes with the same depth share weights
    assert describe_incompatibility(tiny(image_size=128), tiny(image_size=96, dropout=0.3)) == []
    deeper = describe_incompatibility(a, tiny(num_classes=4, image_size=128))
    assert len(deeper) == 1 and "depth" in deeper[0]
    # stored signatures and config dicts work too; generation can ignore the discriminator
    sig = model_signature(a)
    assert json.loads(json.dumps(sig)) == sig
    d_only = tiny(num_classes=4, d_layers=2)
    assert describe_incompatibility(sig, d_only) == ["discriminator layers: checkpoint has 3, this run has 2"]
    assert describe_incompatibility(config_to_dict(a), d_only, generator_only=True) == []
    assert describe_incompatibility(a, tiny(num_classes=4, spectral_norm=False)) == [
        "discriminator spectral normalisation: checkpoint has on, this run has off"
    ]


def test_signature_holds_what_decides_weight_shapes():
    sig = model_signature(QUICK)
    keys = (
        "arch",
        "num_classes",
        "context_slices",
        "base_channels",
        "style_dim",
        "d_scales",
        "spectral_norm",
    )
    assert set(keys) <= set(sig)
    assert "image_size" not in sig and sig["depth"] == 4
    old = {k: v for k, v in sig.items() if k != "layout_version"}  # a checkpoint from before versioning
    assert describe_incompatibility(old, QUICK, generator_only=True)[0].startswith(
        "model layout version: checkpoint has none, this run has"
    )
    assert model_signature(dataclasses.replace(QUICK, arch="pix2pix_unet"))["spade_hidden"] is None


def test_describe_incompatibility_matches_real_load_failures():
    """Every pair it calls compatible loads; every pair it calls incompatible fails to load."""
    base = tiny()
    variants = [
        base,
        tiny(num_classes=4),
        tiny(context_slices=0),
        tiny(base_channels=16),
        tiny(style_dim=8),
        tiny(spade_hidden=16),
        tiny(image_size=128),
        tiny(image_size=96),
        tiny(dropout=0.5, spectral_norm=True),
    ]
    src = build_generator(base).state_dict()
    for v in variants:
        compatible = not describe_incompatibility(base, v, generator_only=True)
        try:
            build_generator(v).load_state_dict(src)
            loaded = True
        except RuntimeError:
            loaded = False
        assert compatible == loaded, v
