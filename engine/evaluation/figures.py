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
