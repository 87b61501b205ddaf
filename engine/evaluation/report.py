"""The quality report of a trained run: ``evaluate_run`` computes every measure on held-out real
data and writes REPORT/report.json, REPORT/report.html and the pictures (definitions in
docs/QUALITY.md)."""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path

import numpy as np

from engine import __version__
from engine.errors import EvaluationError
from engine.evaluation.config import EvaluateConfig
from engine.evaluation.diversity import diversity_measures
from engine.evaluation.fidelity import fidelity_measures
from engine.evaluation.intensity import histograms, intensity_summary, intensity_w1
from engine.evaluation.memorization import memorization_from_features, slice_features
from engine.evaluation.progress import ReportProgress
from engine.evaluation.real_data import EvaluationData, load_evaluation_data, spread
from engine.evaluation.realism import MAX_SLAB, realism_report, realism_verdict
from engine.evaluation.sampling import RunSliceGenerator, SliceGenerator, generate_for_rows
from engine.evaluation.schema import check_report, clean_json
from engine.evaluation.study import heldout_set, study_plan, study_settings, tstr_from_study, utility_study
from engine.evaluation.utility import tstr_measures
from engine.evaluation.verdicts import (
    diversity_verdict,
    fidelity_verdict,
    intensity_verdict,
    memorization_verdict,
    utility_study_verdict,
    utility_verdict,
)
from engine.evaluation.writer import write_report
from engine.events import Control, EventCallback, Finished, Log, Progress, ignore_events
from engine.release import Release
from engine.training.devices import resolve_device, set_cpu_threads
from engine.training.run_folder import TrainingRun
from engine.training.run_lock import RunLock

log = logging.getLogger(__name__)
FEATURE_CHUNK = 256


def class_names(data: EvaluationData) -> dict[int, str]:
    """Class index -> label name (made unique by its value where two labels share a name)."""
    values = data.label_table.values
    names = [data.label_table.name(v) for v in values]
    return {i: (n if names.count(n) == 1 else f"{n} ({v})") for i, (n, v) in enumerate(zip(names, values))}


def volume_seeds(seed: int, rows: np.ndarray) -> list[int]:
    """One style seed per volume (as each exported volume gets its own), the same for its slices."""
    return [int(np.random.default_rng([seed, int(v), 11]).integers(0, 2**31 - 1)) for v, _ in rows]


def _forward_logs(on_event: EventCallback) -> EventCallback:
    return lambda e: None if isinstance(e, Progress) else on_event(e)


def evaluate_run(
    config: EvaluateConfig,
    on_event: EventCallback = ignore_events,
    control: Control | None = None,
    generator: SliceGenerator | None = None,
) -> dict:
    """Compute the report and write it to ``config.out``; returns the report.json dict.
    ``generator`` replaces the run's own generator (tests, other models). Holds the run folder's
    lock meanwhile (one job per run folder)."""
    cfg = config.validate()
    if not TrainingRun(cfg.run).exists():
        raise EvaluationError(f"{cfg.run}: not a SynthVol run folder (no config.json); train a model first.")
    with RunLock(cfg.run, "evaluating") as lock:
        for text in lock.notes:
            on_event(Log("warning", text))
        return _evaluate_locked(cfg, on_event, control, generator)


def _evaluate_locked(
    config: EvaluateConfig, on_event: EventCallback, control: Control | None, generator: SliceGenerator | None
) -> dict:
    cfg = config.validate()
    control = control or Control()
    started = time.perf_counter()
    progress = ReportProgress(on_event, control)
    run = TrainingRun(cfg.run)
    if not run.exists():
        raise EvaluationError(
            f"{run.folder}: not a SynthVol run folder (no config.json); train a model first."
        )
    progress.start("Loading the model")
    checkpoint, iteration = None, None
    device = resolve_device(cfg.device)
    if device.type == "cpu":
        set_cpu_threads()
    if generator is None:
        from engine.synthesis.synthesizer import Synthesizer

        synth = Synthesizer(run.folder, cfg.checkpoint, cfg.device)
        generator = RunSliceGenerator(synth)
        checkpoint, iteration = str(synth.checkpoint), synth.checkpoint_iteration
    progress.start("Preparing the real data")
    data = load_evaluation_data(run, cfg.data, _forward_logs(on_event), control)
    names = class_names(data)

    held = data.heldout_rows[spread(len(data.heldout_rows), cfg.max_slices)]
    seg_rows = data.train_rows[spread(len(data.train_rows), cfg.max_slices)]
    ref_rows = data.train_rows[spread(len(data.train_rows), cfg.max_reference_slices)]
    div_rows = held[spread(len(held), cfg.diversity_maps)]
    s = cfg.samples_per_map
    gens = len(held) * (2 if generator.has_style else 1)
    budget = cfg.segmenter_budget(str(device))
    study_cfg = study_settings(cfg, budget) if cfg.study else None
    utility_work = (
        study_plan(study_cfg, len(seg_rows))[0] if study_cfg else len(seg_rows) + 3 * (budget.iterations + 1)
    )
    realism_work = 2 * min(MAX_SLAB, len(data.heldout_rows))
    progress.plan(gens + len(div_rows) * s + max(1, len(ref_rows) // 20) + utility_work + realism_work + 1)

    def generate(rows, seeds):
        return generate_for_rows(data.contexts, rows, generator, seeds, cfg.batch_size, progress.tick)

    # --- fidelity and intensity: held-out label maps -> synthetic, against the real slices
    progress.start(f"Fidelity: generating {len(held)} held-out slices")
    real, classes = data.slices(held)
    synthetic = generate(held, volume_seeds(cfg.seed, held))
    real_units = data.to_units(real, data.units_range(held))
    syn_units = data.to_units(synthetic, np.tile(data.synthetic_range, (len(held), 1)))
    cases = data.case_of(held)
    fidelity = fidelity_measures(real, synthetic, classes, names, real_units, syn_units, cases=cases)
    if generator.has_style:
        mean_style = generate(held, [None] * len(held))
        fm = fidelity_measures(real, mean_style, classes, names)
        fidelity.update(
            psnr_mean_style=fm["psnr"],
            ssim_mean_style=fm["ssim"],
            ssim_foreground_mean_style=fm["ssim_foreground"],
        )
    w1 = intensity_w1(real_units, syn_units, classes, names, seed=cfg.seed)
    intensity = intensity_summary(w1, names, data.normalization.yardstick_width, data.units)

    # --- realism: a slab of consecutive held-out slices, two seeds (engine/evaluation/realism.py)
    progress.start("Realism: sharpness, texture, bone range, seed diversity, through-plane change")
    realism = realism_report(data, generator, names, cfg.seed, cfg.batch_size, progress.tick)

    # --- diversity: several styles per held-out label map, against real neighbouring slices
    progress.start(f"Diversity: {s} styles for {len(div_rows)} label maps")
    syn_groups, real_groups = [], []
    for j, row in enumerate(div_rows):
        seeds = [int(np.random.default_rng([cfg.seed, j, k, 13]).integers(0, 2**31 - 1)) for k in range(s)]
        rows = np.repeat(row[None], s, axis=0)
        syn_groups.append(np.concatenate([generate(rows[k : k + 1], [seeds[k]]) for k in range(s)]))
        real_groups.append(data.slices(data.neighbours(row, s))[0])
    diversity = diversity_measures(syn_groups, real_groups, generator.has_style)

    # --- memorisation: synthetic (from held-out maps) and held-out real against the training slices
    progress.start(f"Memorisation: nearest of {len(ref_rows)} training slices")
    ref_feats = []
    for i in range(0, len(ref_rows), FEATURE_CHUNK):
        ref_feats.append(slice_features(data.slices(ref_rows[i : i + FEATURE_CHUNK])[0]))
        progress.tick(len(ref_rows[i : i + FEATURE_CHUNK]) // 20)
    memo = memorization_from_features(
        slice_features(synthetic), np.concatenate(ref_feats), slice_features(real), cfg.closest_pairs
    )
    train_where = [f"{c} z{int(z)}" for c, (_, z) in zip(data.case_of(ref_rows), ref_rows)]
    held_where = [f"{c} z{int(z)}" for c, (_, z) in zip(cases, held)]
    for pair in memo["closest_pairs"]:
        pair["synthetic_from"] = f"map of {held_where[pair['synthetic_index']]}"
        pair["training_from"] = train_where[pair["training_index"]]
        pair["synthetic_slice"] = synthetic[pair["synthetic_index"]]
        t = pair["training_index"]
        pair["training_slice"] = data.slices(ref_rows[t : t + 1])[0][0]
    memo["flagged_slices"] = [
        {"map": held_where[i], "distance": float(memo["nn_synthetic"][i])} for i in memo["flagged_indices"]
    ]

    # --- utility: the study (every condition, several seeds), or the quick three-segmenter check
    study = None
    if study_cfg is not None:
        study = utility_study(data, generator, names, study_cfg, progress.tick, progress.start)
        tstr = tstr_from_study(study)
    else:
        progress.start(f"Utility: generating {len(seg_rows)} synthetic training slices")
        seg_real, seg_classes = data.slices(seg_rows)
        seg_syn = generate(seg_rows, volume_seeds(cfg.seed, seg_rows))
        progress.start("Utility: training three segmenters")
        tstr = tstr_measures(
            (seg_real, seg_classes), (seg_syn, seg_classes), heldout_set(data, held), names, budget, progress.tick
        )

    progress.start("Writing the report")
    verdicts = {
        "fidelity": fidelity_verdict(fidelity),
        "intensity_w1": intensity_verdict(intensity),
        "diversity": diversity_verdict(diversity),
        "memorization": memorization_verdict(memo),
        "tstr": utility_verdict(tstr),
        "realism": realism_verdict(realism),
    }
    if study is not None:
        verdicts["utility_study"] = utility_study_verdict(study)
    report = {
        "fidelity": fidelity,
        "intensity_w1": w1,
        "intensity": intensity,
        "diversity": diversity,
        "memorization": {
            k: v for k, v in memo.items() if k not in ("nn_synthetic", "nn_real", "nn_real_index")
        },
        "tstr": tstr,
        "realism": realism,
        **({"utility_study": study} if study is not None else {}),
        "verdicts": verdicts,
        "run": str(run.folder.resolve()),
        "checkpoint": checkpoint,
        "checkpoint_iteration": iteration,
        "data": str(Path(cfg.data).resolve()) if cfg.data else str(run.read_manifest()["dataset"]),
        "modality": data.normalization.modality,
        "units": data.units,
        "heldout": {
            "mode": data.split_mode,
            "description": data.description,
            "cases": data.heldout_cases,
            "slices": int(len(held)),
        },
        "settings": cfg.to_json(),
        "notes": _notes(data, fidelity),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "synthvol_version": __version__,
    }
    report["seconds"] = time.perf_counter() - started
    figures = {
        "held": (classes, real, synthetic, held_where),
        "colors": [data.label_table.entries[v].color for v in data.label_table.values],
        "hists": histograms(real_units, syn_units, classes, names),
        "div": (syn_groups[0], real_groups[0]),
        "pairs": memo["closest_pairs"],
        "nn": (memo["nn_synthetic"], memo["nn_real"]),
    }
    clean = check_report(clean_json(report))
    write_report(Path(cfg.out), clean, figures, control, release=Release.of(run))
    from engine.training.tensorboard_log import log_quality_report

    log_quality_report(run.tensorboard_dir, clean)  # the run's TensorBoard shows the report's measures too
    progress.finish()
    on_event(Log("info", f"Quality report written to {cfg.out} in {clean['seconds']:.0f} s"))
    on_event(Finished(clean))
    return clean


def _notes(data: EvaluationData, fidelity: dict) -> list[str]:
    notes = [f"Held-out data: {data.description}; {fidelity['slices']} labelled slices evaluated."]
    if data.split_mode == "slice_block":
        notes.append(
            "This run was trained on a single case: the held-out slices are neighbours of the training slices in "
            "the same body, so fidelity, utility and the memorisation yardstick are optimistic and say nothing "
            "about new patients."
        )
    if data.normalization.modality == "CT":
        lo, hi = data.normalization.value_range
        notes.append(
            f"HU values are compared inside the model's range {lo:g} to {hi:g} HU (values outside it are "
            "clipped on both sides, as the model only produces values inside it)."
        )
    else:
        notes.append(
            "MR intensities have no absolute scale: real slices are mapped back with their own case's "
            "percentiles, synthetic ones with the median of the training cases' (as the export does)."
        )
    if fidelity.get("labels_absent"):
        notes.append(
            f"Label(s) absent from the held-out slices, so not measured: {', '.join(fidelity['labels_absent'])}."
        )
    return notes
