"""EvaluateConfig: the settings of a quality report, JSON round-trippable and validated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.configs import JsonConfig
from engine.errors import ConfigError


@dataclass
class EvaluateConfig(JsonConfig):
    run: Path | None = None  # a trained run folder
    out: Path | None = None  # the report folder (report.json, report.html, PNGs)
    data: Path | None = None  # None: the run's own dataset and its held-out split
    seed: int = 0  # style seeds, slice choice and the segmenters' training all follow it
    samples_per_map: int = 4  # diversity: synthetic samples (style seeds) per label map
    diversity_maps: int = 8  # diversity: label maps (held-out slices) sampled
    max_slices: int = 200  # held-out slices evaluated, and training slices used for the segmenters
    max_reference_slices: int = 4000  # training slices searched for nearest neighbours (memorisation)
    # utility: the same segmenter budget for every condition; None: the device's budget
    # (engine/evaluation/segmenter.py CPU_BUDGET / GPU_BUDGET)
    segmenter_iterations: int | None = None
    segmenter_batch_size: int | None = None
    segmenter_lr: float | None = None
    segmenter_channels: int | None = None  # width of the segmenter's first level
    # the utility study (docs/QUALITY.md): off = the quick three-segmenter check only
    study: bool = False
    study_ratios: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)  # synthetic slices per real slice
    study_sources: tuple[str, ...] = ("train", "augment", "rebalance")
    study_seeds: int = 3
    rare_label: int | None = None  # a label value; None: the rarest foreground label
    batch_size: int = 8  # slices per generator call
    device: str = "auto"
    checkpoint: Path | None = None  # None: the run's last checkpoint
    closest_pairs: int = 4  # memorisation pairs shown side by side

    def validate(self) -> EvaluateConfig:
        problems = []
        if self.run is None:
            problems.append("run: choose the trained run folder to evaluate")
        if self.out is None:
            problems.append("out: choose the folder the report is written to")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            problems.append(f"seed {self.seed!r}: use a whole number >= 0")
        if not 2 <= self.samples_per_map <= 32:
            problems.append(
                f"samples per map {self.samples_per_map}: use 2 to 32 (diversity compares samples in pairs)"
            )
        if not 1 <= self.diversity_maps <= 256:
            problems.append(f"diversity maps {self.diversity_maps}: use 1 to 256")
        if not 2 <= self.max_slices <= 100_000:
            problems.append(f"max slices {self.max_slices}: use 2 to 100000")
        if not 1 <= self.max_reference_slices <= 1_000_000:
            problems.append(f"max reference slices {self.max_reference_slices}: use 1 to 1000000")
        if self.segmenter_iterations is not None and not 1 <= self.segmenter_iterations <= 1_000_000:
            problems.append(f"segmenter iterations {self.segmenter_iterations}: use 1 or more")
        if self.segmenter_batch_size is not None and not 1 <= self.segmenter_batch_size <= 512:
            problems.append(f"segmenter batch size {self.segmenter_batch_size}: use 1 to 512")
        if self.segmenter_lr is not None and not 0 < self.segmenter_lr < 1:
            problems.append(f"segmenter learning rate {self.segmenter_lr}: use e.g. 3e-3")
        if self.segmenter_channels is not None and not 4 <= self.segmenter_channels <= 128:
            problems.append(f"segmenter channels {self.segmenter_channels}: use 4 to 128")
        if self.study:  # the study's own rules
            from engine.errors import EvaluationError
            from engine.evaluation.study import StudySettings

            try:
                StudySettings(tuple(self.study_ratios), tuple(self.study_sources), self.study_seeds).validate()
            except EvaluationError as exc:
                problems.append(str(exc))
        if not 1 <= self.batch_size <= 512:
            problems.append(f"batch size {self.batch_size}: use 1 to 512")
        if not 0 <= self.closest_pairs <= 32:
            problems.append(f"closest pairs {self.closest_pairs}: use 0 to 32")
        if problems:
            raise ConfigError("Quality report settings: " + "; ".join(problems))
        return self

    def segmenter_budget(self, device: str):
        """The segmenter budget: the device's (CPU or GPU) with the settings given here."""
        import dataclasses

        from engine.evaluation.segmenter import default_budget

        changes = {
            "iterations": self.segmenter_iterations,
            "batch_size": self.segmenter_batch_size,
            "lr": self.segmenter_lr,
            "filters": self.segmenter_channels,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(default_budget(device), seed=self.seed, device=str(device), **changes)

