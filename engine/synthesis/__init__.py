"""Synthesis: label-map sources (training, deformed, rebalanced, a folder) and volume generation."""

from engine.synthesis.gallery import Gallery, GalleryItem
from engine.synthesis.generate import GenerateConfig, GenerateResult, generate_volumes
from engine.synthesis.synthesizer import Synthesizer

__all__ = ["Gallery", "GalleryItem", "GenerateConfig", "GenerateResult", "Synthesizer", "generate_volumes"]
