"""The scan result as a readable table for the terminal."""

from __future__ import annotations

from engine.data.cases import ScanResult


def _fmt_spacing(spacing) -> str:
    return "x".join(f"{v:.3g}" for v in spacing) if spacing else "-"


def format_scan_table(result: ScanResult) -> str:
    if not result.cases:
        notes = [f"Note: {n}" for n in result.notes] or [f"No image files found in {result.root}."]
        return "\n".join([*notes, "", result.summary()])
    rows = [("ID", "MODALITY", "SIZE", "SPACING (mm)", "LABELS", "STATUS")]
    for c in result.cases:
        g = c.geometry
        status = "ok" if c.usable else ("unlabeled" if c.ok else "error")
        if c.ok and c.label_resampled:
            status += " (label resampled)"
        rows.append(
            (
                c.id,
                c.modality_text,
                "x".join(map(str, g.size)) if g else "-",
                _fmt_spacing(g.spacing if g else None),
                ",".join(map(str, c.label_values)) if c.label_values else "-",
                status,
            )
        )
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(len(rows[0]))]
    lines = ["  ".join(cell[:40].ljust(w) for cell, w in zip(r, widths, strict=False)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = [f"Dataset {result.root} (layout: {result.layout})", *lines, ""]
    names = ", ".join(f"{v} {result.label_table.name(v)}" for v in result.label_table.values)
    out.append(f"Labels: {names}")
    problems = [c for c in result.cases if not c.ok]
    if problems:
        out.append("")
        out.append("Skipped:")
        for c in problems:
            out.append(f"  {c.id}: {c.error}")
    warned = [c for c in result.cases if c.ok and c.warnings]
    if warned:
        out.append("")
        out.append("Notes:")
        for c in warned:
            for w in c.warnings:
                out.append(f"  {c.id}: {w}")
    for note in result.notes:
        out.append(f"Note: {note}")
    out.append("")
    out.append(result.summary())
    return "\n".join(out)
