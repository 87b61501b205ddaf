"""The report's pictures as PNG bytes (matplotlib, Agg canvas, no pyplot state: safe in a worker
thread). Slices are in the normalised space [-1, 1] and shown with the same grey scale."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

REAL_COLOR, SYN_COLOR, MIX_COLOR = "#1f77b4", "#d62728", "#2ca02c"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _grey(ax, img: np.ndarray, title: str | None = None) -> None:
    ax.imshow(np.asarray(img, np.float32), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _label_rgb(classes: np.ndarray, colors: list[tuple[int, int, int]]) -> np.ndarray:
    palette = np.array(colors, dtype=np.uint8).reshape(-1, 3)
    return palette[np.clip(classes, 0, len(palette) - 1)]


def pairs_figure(
    classes: np.ndarray, real: np.ndarray, synthetic: np.ndarray, colors, captions: list[str]
) -> bytes:
    """Rows: label map | real | synthetic | |difference|."""
    n = len(real)
    fig = Figure(figsize=(8, 2.1 * max(n, 1)))
    for i in range(n):
        axes = [fig.add_subplot(n, 4, 4 * i + j + 1) for j in range(4)]
        axes[0].imshow(_label_rgb(classes[i], colors), interpolation="nearest")
        axes[0].set_xticks([])
        axes[0].set_yticks([])
        axes[0].set_title(f"label map ({captions[i]})" if i == 0 else captions[i], fontsize=8)
        _grey(axes[1], real[i], "real" if i == 0 else None)
        _grey(axes[2], synthetic[i], "synthetic" if i == 0 else None)
        axes[3].imshow(np.abs(real[i] - synthetic[i]), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        axes[3].set_xticks([])
        axes[3].set_yticks([])
        if i == 0:
            axes[3].set_title("|difference|", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def intensity_figure(hists: dict[str, dict], w1: dict[str, float], units: str) -> bytes:
    names = list(hists)
    cols = min(4, max(1, len(names)))
    rows = int(np.ceil(len(names) / cols)) or 1
    fig = Figure(figsize=(3.2 * cols, 2.5 * rows))
    for k, name in enumerate(names):
        h = hists[name]
        ax = fig.add_subplot(rows, cols, k + 1)
        centres = 0.5 * (h["edges"][1:] + h["edges"][:-1])
        ax.plot(centres, h["real"], color=REAL_COLOR, label="real")
        ax.plot(centres, h["synthetic"], color=SYN_COLOR, label="synthetic")
        ax.set_title(f"{name}: W1 {w1.get(name, 0.0):.3g} {units}", fontsize=8)
        ax.set_xlabel(units, fontsize=7)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def diversity_figure(synthetic: np.ndarray, real: np.ndarray, ms_syn: float, ms_real: float) -> bytes:
    n = max(len(synthetic), len(real), 1)
    fig = Figure(figsize=(1.8 * n, 4.4))
    for i in range(len(synthetic)):
        _grey(fig.add_subplot(2, n, i + 1), synthetic[i], f"style {i + 1}")
    for i in range(len(real)):
        _grey(fig.add_subplot(2, n, n + i + 1), real[i], f"real neighbour {i + 1}")
    fig.suptitle(
        f"one label map, several styles (MS-SSIM {ms_syn:.2f}) / real neighbouring slices "
        f"(MS-SSIM {ms_real:.2f})",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return _png(fig)


def memorization_figure(pairs: list[dict]) -> bytes:
    """Each row: a synthetic slice | its nearest training slice."""
    n = max(len(pairs), 1)
    fig = Figure(figsize=(4.4, 2.2 * n))
    for i, p in enumerate(pairs):
        flag = "  FLAGGED" if p.get("flagged") else ""
        _grey(
            fig.add_subplot(n, 2, 2 * i + 1),
            p["synthetic_slice"],
            f"synthetic ({p.get('synthetic_from', '')})",
        )
        _grey(
            fig.add_subplot(n, 2, 2 * i + 2),
            p["training_slice"],
            f"training {p.get('training_from', '')}\ndistance {p['distance']:.3f}{flag}",
        )
    fig.tight_layout()
    return _png(fig)


def distances_figure(nn_synthetic: np.ndarray, nn_real: np.ndarray, threshold: float) -> bytes:
    fig = Figure(figsize=(6, 2.8))
    ax = fig.add_subplot(1, 1, 1)
    hi = float(max(np.max(nn_synthetic, initial=0), np.max(nn_real, initial=0), threshold)) * 1.05 or 1.0
    bins = np.linspace(0, hi, 40)
    ax.hist(
        nn_real,
        bins=bins,
        alpha=0.6,
        color=REAL_COLOR,
        label="held-out real -> nearest training",
        density=True,
    )
    ax.hist(
        nn_synthetic,
        bins=bins,
        alpha=0.6,
        color=SYN_COLOR,
        label="synthetic -> nearest training",
        density=True,
    )
    ax.axvline(threshold, color="k", linestyle="--", label="flag line (half the closest real)")
    ax.set_xlabel("distance to the nearest training slice (RMS, normalised intensities)", fontsize=8)
    ax.set_yticks([])
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def tstr_figure(per_label: dict[str, dict[str, float]], means: dict[str, float]) -> bytes:
    names = list(per_label) + ["mean"]
    vals = {k: [per_label[n][k] for n in per_label] + [means[k]] for k in ("real", "synthetic", "mixed")}
    x = np.arange(len(names))
    fig = Figure(figsize=(max(5, 1.3 * len(names)), 3.0))
    ax = fig.add_subplot(1, 1, 1)
    for k, (key, color) in enumerate((("real", REAL_COLOR), ("synthetic", SYN_COLOR), ("mixed", MIX_COLOR))):
        ax.bar(x + (k - 1) * 0.27, vals[key], 0.27, color=color, label=f"trained on {key}")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Dice on held-out real slices", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


SOURCE_COLORS = {"train": "#d62728", "augment": "#9467bd", "rebalance": "#ff7f0e"}
AUG_COLOR = "#7f7f7f"


def _band(ax, c: dict | None, key, color: str, label: str) -> None:
    if c is None:
        return
    mean, ci = key(c)
    if mean is None:
        return
    ax.axhline(mean, color=color, linewidth=1.2, label=label)
    if ci:
        ax.axhspan(ci[0], ci[1], color=color, alpha=0.15, linewidth=0)


def study_figure(study: dict) -> bytes:
    """Dice against the synthetic:real ratio, one line per label source (95% intervals as error
    bars), ``real`` and ``real+augmentation`` as bands; a second panel for the rare label."""
    conds = study["conditions"]
    by = {c["name"]: c for c in conds if c["name"] != "real+synthetic"}
    rare = study.get("rare_label")
    panels = [("mean Dice over the labels", lambda c: (c["dice_mean"], c.get("dice_ci95")))]
    if rare:
        panels.append(
            (
                f"rare label: {rare}",
                lambda c: (
                    c["per_label"].get(rare, {}).get("dice_mean"),
                    c["per_label"].get(rare, {}).get("dice_ci95"),
                ),
            )
        )
    fig = Figure(figsize=(5.2 * len(panels), 3.6))
    ratios = sorted({c["ratio"] for c in conds if c["name"] == "real+synthetic"})
    for k, (title, key) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        _band(ax, by.get("real"), key, REAL_COLOR, "real")
        _band(ax, by.get("real+augmentation"), key, AUG_COLOR, "real + augmentation")
        for source in study.get("sources", []):
            pts = sorted(
                (c["ratio"], *key(c))
                for c in conds
                if c["name"] == "real+synthetic" and c["label_source"] == source
            )
            pts = [p for p in pts if p[1] is not None]
            if not pts:
                continue
            x = np.array([p[0] for p in pts])
            y = np.array([p[1] for p in pts])
            err = np.array([[m - (ci or [m, m])[0], (ci or [m, m])[1] - m] for _, m, ci in pts]).T
            ax.errorbar(
                x,
                y,
                yerr=err,
                marker="o",
                capsize=3,
                color=SOURCE_COLORS.get(source, MIX_COLOR),
                label=f"real + synthetic ({source} maps)",
            )
        rsa = by.get("real+synthetic+augmentation")
        if rsa is not None and key(rsa)[0] is not None:
            ax.plot(
                [rsa["ratio"]],
                [key(rsa)[0]],
                marker="*",
                markersize=12,
                color="k",
                linestyle="none",
                label="real + synthetic + augmentation",
            )
        syn = by.get("synthetic")
        if syn is not None and key(syn)[0] is not None:
            ax.plot([], [], " ", label=f"synthetic alone: {key(syn)[0]:.3f}")
        if ratios:
            ax.set_xscale("log", base=2)
            ax.set_xticks(ratios, [f"{r:g}" for r in ratios])
        ax.set_xlabel("synthetic slices per real slice", fontsize=8)
        ax.set_ylabel("Dice on held-out real slices", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        low, high = ax.get_ylim()
        ax.set_ylim(max(0.0, low), min(1.0, max(high, max(0.0, low) + 0.1)))
        if k == 0:
            ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    return _png(fig)
