"""The utility study's tables for report.html: one row per condition (mean Dice with its 95 %
interval, Dice per label with the rare label apart, HD95), then the budget and the goals."""

from __future__ import annotations

from html import escape


def _dice(mean, ci) -> str:
    if mean is None:
        return "–"
    return f"{mean:.3f}" + (f" <span class='small'>[{ci[0]:.3f}, {ci[1]:.3f}]</span>" if ci else "")


def condition_title(c: dict) -> str:
    if c["name"] in ("real+synthetic", "real+synthetic+augmentation"):
        return f"{c['name']} ({c['label_source']} maps, {c['ratio']:g} per real)"
    return c["name"]


def study_tables(study: dict) -> str:
    rare = study.get("rare_label")
    labels = list(study["conditions"][0]["per_label"]) if study["conditions"] else []
    common = [n for n in labels if n != rare]
    head = "".join(f"<th>{escape(n)}</th>" for n in common)
    head += f"<th>rare: {escape(rare)}</th>" if rare in labels else ""
    rows = []
    for c in study["conditions"]:
        cells = "".join(
            f"<td>{_dice(c['per_label'][n]['dice_mean'], c['per_label'][n]['dice_ci95'])}</td>"
            for n in common
        )
        if rare in labels:
            r = c["per_label"][rare]
            cells += f"<td><b>{_dice(r['dice_mean'], r['dice_ci95'])}</b></td>"
        hd = [c["per_label"][n]["hd95_mm"] for n in labels if c["per_label"][n]["hd95_mm"] is not None]
        hd_text = f"{sum(hd) / len(hd):.1f}" if hd else "–"
        rows.append(
            f"<tr><th>{escape(condition_title(c))}</th><td>{_dice(c['dice_mean'], c['dice_ci95'])}</td>"
            f"{cells}<td>{hd_text}</td></tr>"
        )
    table = (
        f"<table><tr><th>condition</th><th>mean Dice [95% interval]</th>{head}<th>mean HD95 (mm)</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    b = study["segmenter"]
    facts = [
        ("segmenter", b.get("network", "")),
        (
            "budget",
            f"{b['iterations']} iterations x {b['batch_size']} patches of {b['patch_size'][0]}x{b['patch_size'][1]} px, learning rate "
            f"{b['lr']:g}, {len(study['seeds'])} seeds, {b['parameters']:,} parameters",
        ),
        ("training slices (real)", study["train_slices"]),
        ("test", f"{study['test_cases']} held-out patient(s), {study['test_slices']} slices"),
    ]
    rec = study.get("recommended") or {}
    facts.append(
        (
            "recommended mix",
            f"{rec['ratio']:g} synthetic per real ({rec['label_source']} maps)"
            if rec.get("ratio") is not None
            else rec.get("reason", "none"),
        )
    )
    for key, g in (study.get("goals") or {}).items():
        facts.append(
            (
                f"goal {key}",
                f"{g['measured']:.3f} against {g['target']:g}: {'met' if g['met'] else 'not met'}"
                + (
                    " (its 95% interval includes 0)" if g["met"] and g.get("beyond_interval") is False else ""
                ),
            )
        )
    facts_html = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    return table + f"<table>{facts_html}</table>"


def _md(mean, ci) -> str:
    if mean is None:
        return "–"
    return f"{mean:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def study_markdown(study: dict) -> str:
    """The per-condition table as Markdown (what docs/QUALITY.md records and the CLI prints)."""
    rare = study.get("rare_label")
    labels = list(study["conditions"][0]["per_label"]) if study["conditions"] else []
    common = [n for n in labels if n != rare]
    cols = (
        ["condition", "mean Dice [95% CI]", *common]
        + ([f"rare: {rare}"] if rare in labels else [])
        + ["HD95 mm"]
    )
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for c in study["conditions"]:
        cells = [condition_title(c), _md(c["dice_mean"], c["dice_ci95"])]
        cells += [_md(c["per_label"][n]["dice_mean"], c["per_label"][n]["dice_ci95"]) for n in common]
        if rare in labels:
            cells.append(_md(c["per_label"][rare]["dice_mean"], c["per_label"][rare]["dice_ci95"]))
        hd = [c["per_label"][n]["hd95_mm"] for n in labels if c["per_label"][n]["hd95_mm"] is not None]
        cells.append(f"{sum(hd) / len(hd):.1f}" if hd else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
