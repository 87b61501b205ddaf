"""Models: label-map-conditioned generators (SPADE U-Net, pix2pix U-Net), the multi-scale
PatchGAN discriminator, the style encoder, and the factory that builds them from a ModelConfig."""

from engine.models.config import (
    PRESETS,
    QUALITY,
    QUICK,
    ModelConfig,
    describe_incompatibility,
    generator_depth,
    preset,
)
from engine.models.context import centre_label, one_hot_context
from engine.models.discriminator import MultiScaleDiscriminator, PatchDiscriminator
from engine.models.factory import (
    build_discriminator,
    build_generator,
    build_style_encoder,
    count_parameters,
    model_signature,
)
from engine.models.generator import Pix2PixUNetGenerator, SpadeUNetGenerator
from engine.models.style import StyleEncoder, reparameterize, sample_style

__all__ = [
    "PRESETS",
    "QUALITY",
    "QUICK",
    "ModelConfig",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "Pix2PixUNetGenerator",
    "SpadeUNetGenerator",
    "StyleEncoder",
    "build_discriminator",
    "build_generator",
    "build_style_encoder",
    "centre_label",
    "count_parameters",
    "describe_incompatibility",
    "generator_depth",
    "model_signature",
    "one_hot_context",
    "preset",
    "reparameterize",
    "sample_style",
]
