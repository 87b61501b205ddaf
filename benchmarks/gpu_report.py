"""The table benchmarks/gpu_check.py prints from its report (kept apart from the measuring)."""

from __future__ import annotations


def _gb(b) -> str:
    return f"{b / 2**30:.2f} GB" if b else "n/a"


def print_table(report: dict, generation_size: tuple[int, int, int]) -> None:
    """The one table benchmarks/gpu_check.py prints from its JSON report."""
    print(f"\n{report['machine']}")
    print(f"{'what':44s} {'figure':>32s}")
    steps = {(r["size"], r["mode"]): r for r in report["steps"] if "images_per_s" in r}
    for r in report["steps"]:
        name = f"step {r['size']} px, {r['mode']}"
        if "images_per_s" not in r:
            print(f"{name:44s} {r.get('error', 'skipped'):>32s}")
            continue
        fp32 = steps.get((r["size"], "fp32"))
        ratio = (
            f" ({r['images_per_s'] / fp32['images_per_s']:.2f}x fp32)" if fp32 and r["mode"] != "fp32" else ""
        )
        print(f"{name:44s} {r['images_per_s']:9.1f} images/s{ratio:>14s}  batch {r['batch_slices']}")
    for m in report["memory"]:
        rel = f" (estimate/peak {m['estimate_over_peak']:.2f})" if m.get("estimate_over_peak") else ""
        print(
            f"{'peak memory ' + str(m['size']) + ' px vs planner':44s} {_gb(m['peak_bytes'])} vs {_gb(m['estimate_bytes'])}{rel}"
        )
    g = report.get("generation", {})
    label = "generate " + "x".join(map(str, g.get("size_xyz", generation_size)))
    print(
        f"{label:44s} {g['seconds']:9.2f} s (first {g['first_s']:.2f} s)"
        if "seconds" in g
        else f"{label:44s} {g.get('error')}"
    )
    d = report.get("ddp", {})
    if "images_per_s" in d:
        speed = f" ({d['speedup']:.2f}x one)" if d.get("speedup") else ""
        print(
            f"{'DDP on ' + str(d['world_size']) + ' (' + d['backend'] + ')':44s} {d['images_per_s']:9.1f} images/s{speed}"
        )
    else:
        print(f"{'DDP':44s} {d.get('error', 'skipped')}")
    print(f"total {report['seconds']:.0f} s")
