"""The utility study: does the synthetic data help a segmenter, and more than plain augmentation?

Every condition trains the same MONAI segmenter (engine/evaluation/segmenter.py) with the same
budget and the same ``seeds`` seeds, and is tested on the held-out real slices (the run's held-out
patients, or every case of a test folder):

- ``real``: the real training slices;
- ``real+augmentation``: the same with classic augmentation (engine/synthesis/augmentation.py);
- ``synthetic``: as many synthetic slices from the training label maps, no real slice;
- ``real+synthetic``: the real slices plus ``ratio`` synthetic slices per real one, for each
  label source (``train`` maps, ``augment``: deformed maps, ``rebalance``: more of the rare label);
- ``real+synthetic+augmentation``: the best ``real+synthetic`` mix, augmented.

``utility_study`` returns the ``utility_study`` section of report.json (docs/QUALITY.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.errors import EvaluationError
from engine.evaluation.real_data import EvaluationData, spread
from engine.evaluation.sampling import SliceGenerator
from engine.evaluation.segmenter import CPU_BUDGET, SegmenterBudget
from engine.evaluation.study_sources import (
    SOURCE_KINDS,
    SourceSettings,
    rare_class,
    rare_regions,
    synthetic_pool,
    training_segments,
)
from engine.evaluation.utility import TestSet, difference, score_condition, segmenter_json
from engine.synthesis.augmentation import AugmentParams, SliceAugmenter

CONDITIONS = ("real", "real+augmentation", "synthetic", "real+synthetic", "real+synthetic+augmentation")
GAIN_NOTABLE = 0.01  # mean Dice a mix must add over real (with an interval above 0) to be recommended
LEARNED_DICE = 0.1  # a label whose best condition stays below this Dice is "not learned"
GOALS = {  # the targets on a real CT with a rare lesion
    "augmentation_beaten": 0.01,  # real+synthetic+augmentation - real+augmentation, mean Dice
    "rare_label_gain": 0.05,  # rare-label Dice, best rebalanced mix - real
    "synthetic_vs_real": 0.90,  # synthetic / real, mean Dice
}


@dataclass(frozen=True)
class StudySettings:
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    sources: tuple[str, ...] = SOURCE_KINDS
    seeds: int = 3
    rare_label: int | None = None  # a stored label value; None: the rarest foreground label
    budget: SegmenterBudget = CPU_BUDGET
    augment: AugmentParams = field(default_factory=AugmentParams)
    deform_strength: float = 1.0
    rare_copies: int = 2
    seed: int = 0
    batch_size: int = 8  # slices per generator call
    max_train_slices: int = 200

    def validate(self) -> StudySettings:
        problems = []
        if not self.ratios or any(not (0 < r <= 20) for r in self.ratios):
            problems.append(f"ratios {list(self.ratios)}: use synthetic-per-real ratios above 0, at most 20")
        unknown = [s for s in self.sources if s not in SOURCE_KINDS]
        if unknown or not self.sources:
            problems.append(f"sources {list(self.sources)}: use some of {', '.join(SOURCE_KINDS)}")
        if not 1 <= self.seeds <= 20:
            problems.append(f"seeds {self.seeds}: use 1 to 20 (3 or more for an interval)")
        if problems:
            raise EvaluationError("Utility study settings: " + "; ".join(problems))
        return self


def study_plan(settings: StudySettings, n_real: int) -> tuple[int, dict[str, int]]:
    """Work units (generated slices + segmenter iterations + tests) and the pool size per source."""
    top = max(settings.ratios)
    pools = {s: int(round(top * n_real)) for s in settings.sources}
    pools["train"] = max(pools.get("train", 0), n_real)
    n_cond = 3 + len(settings.sources) * len(settings.ratios) + 1
    return sum(pools.values()) + n_cond * settings.seeds * (settings.budget.iterations + 1), pools


def heldout_set(data: EvaluationData, rows: np.ndarray) -> TestSet:
    images, classes = data.slices(rows)
    vols = [data.volumes[int(v)] for v, _ in rows]
    sx, sy, sz = vols[0].geometry.spacing if vols else (1.0, 1.0, 1.0)
    return TestSet(images, classes, data.case_of(rows), rows[:, 1].astype(np.int64), (sz, sy, sx))


def _check_split(data: EvaluationData, test: TestSet) -> None:
    train_cases = set(data.case_of(data.train_rows))
    if data.split_mode != "slice_block" and train_cases & set(test.cases):
        raise EvaluationError(
            f"The test slices include training patient(s) {sorted(train_cases & set(test.cases))[:3]}; "
            "the utility study tests on held-out patients only."
        )


def utility_study(
    data: EvaluationData,
    generator: SliceGenerator,
    names: dict[int, str],
    settings: StudySettings = StudySettings(),
    tick=None,
    stage=None,
) -> dict:
    """Run every condition; ``tick(n)`` reports work units (and checks stop), ``stage(text)`` names
    the step."""
    cfg = settings.validate()
    stage = stage or (lambda text: None)
    real_rows = data.train_rows[spread(len(data.train_rows), cfg.max_train_slices)]
    held = data.heldout_rows[spread(len(data.heldout_rows), cfg.max_train_slices)]
    real = data.slices(real_rows)
    test = heldout_set(data, held)
    _check_split(data, test)
    n_real = len(real[0])
    _, pools = study_plan(cfg, n_real)
    rare, rare_share = rare_class(data, real[1], cfg.rare_label)
    rare_name = names[rare] if rare is not None else None
    segments = training_segments(data.train_rows)
    src = SourceSettings(cfg.seed, cfg.deform_strength, rare, cfg.rare_copies, cfg.batch_size)
    notes, synthetic = [], {}
    for kind, count in pools.items():
        regions = None
        if kind == "rebalance":
            regions = rare_regions(data, segments, rare) if rare is not None else []
            if not regions:
                notes.append("rebalance skipped: the rare label has no region to copy in the training maps.")
                if tick is not None:
                    tick(count)
                continue
        stage(f"Utility study: generating {count} synthetic slices ({kind} label maps)")
        synthetic[kind] = synthetic_pool(data, generator, kind, segments, count, src, regions, tick)

    seeds = [cfg.seed + i for i in range(cfg.seeds)]

    def augmenter(seed: int):
        return SliceAugmenter(cfg.augment, seed)

    def run(name: str, ratio, source, augment: bool, images, classes) -> dict:
        stage(f"Utility study: {name}" + (f" ({source} maps, {ratio:g} per real)" if ratio else ""))
        scored = score_condition(
            (images, classes), test, names, cfg.budget, seeds, augmenter if augment else None, tick, rare_name
        )
        return {"name": name, "ratio": ratio, "label_source": source, "augmentation": augment, **scored}

    def mix(kind: str, ratio: float):
        n = int(round(ratio * n_real))
        syn = synthetic[kind]
        return np.concatenate([real[0], syn[0][:n]]), np.concatenate([real[1], syn[1][:n]])

    conditions = [
        run("real", 0.0, None, False, *real),
        run("real+augmentation", 0.0, None, True, *real),
        run(
            "synthetic", None, "train", False, synthetic["train"][0][:n_real], synthetic["train"][1][:n_real]
        ),
    ]
    for kind in cfg.sources:
        if kind not in synthetic:
            continue
        for ratio in cfg.ratios:
            conditions.append(run("real+synthetic", float(ratio), kind, False, *mix(kind, ratio)))
    mixes = [c for c in conditions if c["name"] == "real+synthetic"]
    best = max(mixes, key=lambda c: c["dice_mean"]) if mixes else None
    if best is not None:
        conditions.append(
            run(
                "real+synthetic+augmentation",
                best["ratio"],
                best["label_source"],
                True,
                *mix(best["label_source"], best["ratio"]),
            )
        )
    elif tick is not None:
        tick(cfg.seeds * (cfg.budget.iterations + 1))
    study = {
        "segmenter": segmenter_json(cfg.budget, max(names) + 1, data.slice_shape),
        "augmentation": cfg.augment.to_json(),
        "test_cases": 0 if data.split_mode == "slice_block" else len(test.case_ids()),
        "test_slices": int(len(test.images)),
        "patient_level": data.split_mode != "slice_block",
        "train_cases": len({data.volumes[int(v)].case_id for v, _ in real_rows}),
        "train_slices": n_real,
        "rare_label": rare_name,
        "rare_label_share": rare_share,
        "ratios": [float(r) for r in cfg.ratios],
        "sources": [s for s in cfg.sources if s in synthetic],
        "seeds": seeds,
        "conditions": conditions,
        "notes": notes,
    }
    study.update(summarise(conditions, rare_name))
    return study


def _find(conditions: list[dict], name: str) -> dict | None:
    return next((c for c in conditions if c["name"] == name), None)


def _rare(c: dict | None, rare: str | None) -> float | None:
    if c is None or rare is None or rare not in c["per_label"]:
        return None
    return c["per_label"][rare]["dice_mean"]


def summarise(conditions: list[dict], rare: str | None) -> dict:
    """The best mix, the recommended ratio (if any helps), the issue's goals, unlearned labels."""
    real, aug = _find(conditions, "real"), _find(conditions, "real+augmentation")
    syn, rsa = _find(conditions, "synthetic"), _find(conditions, "real+synthetic+augmentation")
    mixes = [c for c in conditions if c["name"] == "real+synthetic"]
    for c in conditions:
        if real is not None and c is not real:
            c["gain_over_real"], c["gain_over_real_ci95"] = difference(c, real)
    best = max(mixes, key=lambda c: c["dice_mean"]) if mixes else None
    helping = [
        c for c in mixes if c["gain_over_real"] >= GAIN_NOTABLE and (c["gain_over_real_ci95"] or [0])[0] > 0
    ]
    pick = max(helping, key=lambda c: c["dice_mean"]) if helping else None
    if pick is not None:
        recommended = {
            "ratio": pick["ratio"],
            "label_source": pick["label_source"],
            "gain": pick["gain_over_real"],
            "gain_ci95": pick["gain_over_real_ci95"],
        }
    else:
        recommended = {
            "ratio": None,
            "label_source": None,
            "gain": best["gain_over_real"] if best else None,
            "reason": "no real+synthetic mix beat real by 0.01 Dice with its 95% interval above 0",
        }
    goals = {}
    if rsa is not None and aug is not None:
        gain, ci = difference(rsa, aug)
        goals["augmentation_beaten"] = _goal(gain, GOALS["augmentation_beaten"], ci)
    rebal = [c for c in mixes if c["label_source"] == "rebalance"]
    if rare is not None and real is not None and rebal:
        top = max(rebal, key=lambda c: _rare(c, rare) or 0.0)
        goals["rare_label_gain"] = _goal(
            (_rare(top, rare) or 0.0) - (_rare(real, rare) or 0.0), GOALS["rare_label_gain"]
        )
        goals["rare_label_gain"]["ratio"] = top["ratio"]
        same = next((c for c in mixes if c["label_source"] == "train" and c["ratio"] == top["ratio"]), None)
        if same is not None:
            goals["rare_label_gain"]["vs_train_maps_same_ratio"] = (_rare(top, rare) or 0.0) - (
                _rare(same, rare) or 0.0
            )
    if syn is not None and real is not None and real["dice_mean"] > 0:
        goals["synthetic_vs_real"] = _goal(syn["dice_mean"] / real["dice_mean"], GOALS["synthetic_vs_real"])
    labels = list(conditions[0]["per_label"]) if conditions else []
    best_label = {n: max(c["per_label"].get(n, {}).get("dice_mean", 0.0) for c in conditions) for n in labels}
    return {
        "best": {"ratio": best["ratio"], "label_source": best["label_source"], "dice_mean": best["dice_mean"]}
        if best
        else None,
        "recommended": recommended,
        "goals": goals,
        "unlearned_labels": [n for n, d in best_label.items() if d < LEARNED_DICE],
        "best_label_dice": best_label,
    }


def _goal(measured: float, target: float, ci=None) -> dict:
    out = {
        "measured": float(measured),
        "target": target,
        "met": bool(math.isfinite(measured) and measured >= target),
    }
    if ci is not None:
        out["ci95"] = ci
        out["beyond_interval"] = bool(ci[0] > 0 and measured >= target)  # met with the interval above 0
    return out


def study_settings(cfg, budget: SegmenterBudget) -> StudySettings:
    """The study's settings from an EvaluateConfig and the segmenter budget."""
    return StudySettings(
        ratios=tuple(float(r) for r in cfg.study_ratios),
        sources=tuple(cfg.study_sources),
        seeds=int(cfg.study_seeds),
        rare_label=cfg.rare_label,
        budget=budget,
        seed=int(cfg.seed),
        batch_size=int(cfg.batch_size),
        max_train_slices=int(cfg.max_slices),
    ).validate()


def tstr_from_study(study: dict) -> dict:
    """The report's ``tstr`` section from the study (real, synthetic, and real + synthetic from the
    training maps at one synthetic per real, or the nearest ratio), seed means."""
    by = {c["name"]: c for c in study["conditions"] if c["name"] != "real+synthetic"}
    mixes = [c for c in study["conditions"] if c["name"] == "real+synthetic"]
    train = [c for c in mixes if c["label_source"] == "train"] or mixes
    mixed = min(train, key=lambda c: abs(math.log(c["ratio"]))) if train else by["real"]
    real, syn = by["real"], by["synthetic"]
    picks = {"real": real, "synthetic": syn, "mixed": mixed}
    per_label = {
        n: {k: c["per_label"].get(n, {}).get("dice_mean", 0.0) for k, c in picks.items()}
        for n in real["per_label"]
    }
    ratio = 0.0 if real["dice_mean"] < 0.01 else min(10.0, syn["dice_mean"] / real["dice_mean"])
    return {
        "dice_real": real["dice_mean"],
        "dice_synthetic": syn["dice_mean"],
        "dice_mixed": mixed["dice_mean"],
        "ratio": ratio,
        "gain": mixed["dice_mean"] - real["dice_mean"],
        "per_label": per_label,
        "mixed_ratio": mixed.get("ratio"),
        "train_slices_real": study["train_slices"],
        "train_slices_synthetic": syn["train_slices"],
        "test_slices": study["test_slices"],
        "seeds": len(study["seeds"]),
        "test_cases": study["test_cases"],
        "segmenter": study["segmenter"],
        "from_study": True,
    }
