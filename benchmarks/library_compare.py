"""What SynthVol writes by hand beside what MONAI / TorchIO / torchmetrics offer, side by side
(issue 15 §4): speed, memory and result, on the real head CT (data/real/head_ct).

    python benchmarks/library_compare.py                 # all four comparisons (a few minutes)
    python benchmarks/library_compare.py --only ssim,spade

- ``deform``: label-map deformation (affine + elastic) of the 256 x 256 x 108 head-CT label map:
  engine/synthesis/deform.py against TorchIO (RandomAffine + RandomElasticDeformation; label
  interpolation nearest, and label_gaussian) and MONAI (Rand3DElastic, nearest). Each runs in its own
  process (peak RSS above what the process held before the call). Result: change in each class's
  volume, connected pieces per class, and boundary voxels against the source (a stair-cased or
  frayed boundary has more).
- ``ssim``: SSIM and MS-SSIM of 64 real CT slices (256 px, [-1, 1]) against noisy/blurred copies:
  torchmetrics (what validation.py, fidelity.py and diversity.py call) against MONAI's metrics,
  and SSIM against a plain scipy reference of Wang et al. (Gaussian 11 / 1.5, valid region).
- ``patchgan``: the quality preset's two-scale spectral-norm PatchGAN (engine/models/discriminator.py)
  against MONAI's MultiScalePatchDiscriminator of the same depth and width (instance norm: MONAI has
  no spectral norm option): parameters, forward + backward time and saved activations, batch 4 at
  256 px.
- ``spade``: engine/models/spade.py's SPADE against MONAI's SPADE block with the same weights copied
  in (instance norm, 3x3 kernels: the closest configuration both have): the largest output difference,
  forward + backward time and saved activations, 64 channels, 8 label channels, hidden 128, 256 px.
CPU, torch threads as given (default 1, as training on this machine).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HEAD_CT = REPO / "data" / "real" / "head_ct"
DEFORMERS = ("synthvol", "torchio-nearest", "torchio-label_gaussian", "monai-nearest")


# --------------------------------------------------------------------------------------- deform
def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def deform_one(method: str, seed: int) -> dict:
    """Deform the head-CT label map with ``method``; seconds, peak RSS above the start, the result."""
    import SimpleITK as sitk

    label = sitk.ReadImage(str(HEAD_CT / "labels" / "head_ct.nii.gz"))
    src = sitk.GetArrayFromImage(label)
    if method.startswith("torchio"):
        import torchio as tio

        interp = method.split("-", 1)[1]
        transform = tio.Compose([
            tio.RandomAffine(scales=0.06, degrees=(2, 2, 6), translation=4, label_interpolation=interp),
            tio.RandomElasticDeformation(num_control_points=5, max_displacement=6, label_interpolation=interp),
        ])  # fmt: skip
        torch.manual_seed(seed)
        subject = tio.Subject(label=tio.LabelMap.from_sitk(label))
    elif method.startswith("monai"):
        from monai.transforms import Rand3DElastic

        transform = Rand3DElastic(sigma_range=(6, 8), magnitude_range=(40, 80), prob=1.0, rotate_range=(0.035, 0.035, 0.1),
                                  scale_range=0.06, translate_range=4, mode="nearest", padding_mode="zeros")  # fmt: skip
        transform.set_random_state(seed)
        data = torch.from_numpy(src.astype(np.float32))[None]
    before = _rss_mb()
    t0 = time.perf_counter()
    if method == "synthvol":
        from engine.synthesis.deform import DeformParams, deform_label

        out = sitk.GetArrayFromImage(deform_label(label, DeformParams(), np.random.default_rng(seed)))
    elif method.startswith("torchio"):
        out = transform(subject)["label"].as_sitk()
        out = sitk.GetArrayFromImage(out)
    else:
        out = transform(data)[0].numpy().astype(src.dtype)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": method,
        "seconds": seconds,
        "peak_mb": max(0.0, peak - before),
        **label_quality(src, out),
    }


def label_quality(src: np.ndarray, out: np.ndarray) -> dict:
    from scipy import ndimage

    values = [int(v) for v in np.unique(src) if v != 0]
    volume = [abs(1 - (out == v).sum() / max(1, (src == v).sum())) for v in values]
    pieces = {v: int(ndimage.label(out == v)[1]) for v in values}
    pieces_src = {v: int(ndimage.label(src == v)[1]) for v in values}

    def boundary(a: np.ndarray) -> int:
        edge = np.zeros(a.shape, bool)
        for axis in range(3):
            d = np.diff(a, axis=axis) != 0
            sl = [slice(None)] * 3
            sl[axis] = slice(1, None)
            edge[tuple(sl)] |= d
        return int(edge.sum())

    return {
        "changed": float((out != src).mean()),
        "volume_change": float(np.mean(volume)),
        "pieces": pieces,
        "pieces_source": pieces_src,
        "boundary_ratio": boundary(out) / max(1, boundary(src)),
    }


def compare_deform(threads: int) -> list[dict]:
    rows = []
    for method in DEFORMERS:
        cmd = [sys.executable, __file__, "--deform-one", method, "--threads", str(threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=REPO)
        if done.returncode != 0:
            rows.append({"method": method, "error": done.stderr.strip()[-400:]})
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print("\nLabel-map deformation, head CT 256x256x108, 4 classes (seed 0)")
    print(
        f"{'method':26s} {'s':>7s} {'peak MB':>8s} {'changed':>8s} {'|dV|':>6s} {'boundary':>9s}  pieces (source)"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['method']:26s} error: {r['error']}")
            continue
        pieces = " ".join(f"{v}:{n}({r['pieces_source'][v]})" for v, n in r["pieces"].items())
        print(f"{r['method']:26s} {r['seconds']:7.2f} {r['peak_mb']:8.0f} {r['changed']:8.3f} {r['volume_change']:6.3f} "
              f"{r['boundary_ratio']:8.2f}x  {pieces}")  # fmt: skip
    return rows


# ----------------------------------------------------------------------------------------- ssim
def ct_slices(n: int = 64, size: int = 256) -> np.ndarray:
    import SimpleITK as sitk

    ct = sitk.GetArrayFromImage(sitk.ReadImage(str(HEAD_CT / "images" / "head_ct.nii.gz"))).astype(np.float32)
    z = np.linspace(10, ct.shape[0] - 10, n).round().astype(int)
    s = ct[z, :size, :size]
    return np.clip((s + 1024) / (3000 + 1024) * 2 - 1, -1, 1).astype(np.float32)


def ssim_reference(a: np.ndarray, b: np.ndarray, data_range: float = 2.0) -> np.ndarray:
    """Wang et al.'s SSIM with an 11-tap Gaussian (sigma 1.5), the mean over the valid region."""
    from scipy.ndimage import gaussian_filter

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    out = []
    for x, y in zip(a.astype(np.float64), b.astype(np.float64)):
        f = lambda t: gaussian_filter(t, 1.5, truncate=5 / 1.5, mode="constant")[5:-5, 5:-5]  # noqa: E731
        mx, my = f(x), f(y)
        vx, vy, cxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
        out.append(np.mean((2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))))
    return np.array(out)


def _timed(fn, repeat: int = 3):
    best, value = 1e9, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def compare_ssim() -> dict:
    from monai.metrics import MultiScaleSSIMMetric, SSIMMetric
    from scipy.ndimage import gaussian_filter
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure as tm_msssim,
    )
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    real = ct_slices()
    rng = np.random.default_rng(0)
    other = np.clip(gaussian_filter(real, (0, 1.0, 1.0)) + rng.normal(0, 0.05, real.shape), -1, 1).astype(
        np.float32
    )
    a, b = torch.from_numpy(other)[:, None], torch.from_numpy(real)[:, None]
    ref = ssim_reference(other, real)
    t_tm, v_tm = _timed(lambda: tm_ssim(a, b, data_range=2.0, kernel_size=11, sigma=1.5, reduction="none"))
    monai_ssim = SSIMMetric(spatial_dims=2, data_range=2.0, win_size=11, kernel_sigma=1.5, reduction="none")
    t_mo, v_mo = _timed(lambda: monai_ssim(a, b))
    t_tmm, v_tmm = _timed(
        lambda: tm_msssim(a, b, data_range=2.0, kernel_size=11, sigma=1.5, reduction="none")
    )
    monai_ms = MultiScaleSSIMMetric(
        spatial_dims=2, data_range=2.0, kernel_size=11, kernel_sigma=1.5, reduction="none"
    )
    t_mom, v_mom = _timed(lambda: monai_ms(a, b))
    v_tm, v_mo = v_tm.numpy().ravel(), v_mo.numpy().ravel()
    v_tmm, v_mom = v_tmm.numpy().ravel(), v_mom.numpy().ravel()
    out = {
        "n_slices": len(real), "mean_ssim_reference": float(ref.mean()),
        "ssim_torchmetrics_s": t_tm, "ssim_monai_s": t_mo,
        "ssim_torchmetrics_vs_reference_max": float(np.abs(v_tm - ref).max()),
        "ssim_monai_vs_reference_max": float(np.abs(v_mo - ref).max()),
        "msssim_torchmetrics_s": t_tmm, "msssim_monai_s": t_mom,
        "msssim_torchmetrics_vs_monai_max": float(np.abs(v_tmm - v_mom).max()), "mean_msssim": float(v_tmm.mean()),
    }  # fmt: skip
    print(
        f"\nSSIM / MS-SSIM, {len(real)} real CT slices 256 px vs blurred + noisy copies (mean SSIM {ref.mean():.4f})"
    )
    print(
        f"SSIM   torchmetrics {t_tm * 1000:7.1f} ms, |vs reference| <= {out['ssim_torchmetrics_vs_reference_max']:.2e}"
    )
    print(
        f"SSIM   MONAI        {t_mo * 1000:7.1f} ms, |vs reference| <= {out['ssim_monai_vs_reference_max']:.2e}"
    )
    print(f"MS-SSIM torchmetrics {t_tmm * 1000:6.1f} ms; MONAI {t_mom * 1000:6.1f} ms; |difference| <= "
          f"{out['msssim_torchmetrics_vs_monai_max']:.2e} (mean {out['mean_msssim']:.4f})")  # fmt: skip
    return out


# ------------------------------------------------------------------------------ patchgan, spade
def _fwd_bwd(module, inputs, repeat: int = 3) -> tuple[float, int]:
    """Best seconds of forward + backward, and the bytes the forward saves for backward."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    best = 1e9
    for i in range(repeat + 1):
        saved.clear()
        t0 = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = module(*inputs)
        flat = [t for group in out for t in (group if isinstance(group, (list, tuple)) else [group])]
        sum(t.float().mean() for t in flat).backward()
        if i:  # the first is a warm-up
            best = min(best, time.perf_counter() - t0)
    return best, sum(saved)


def compare_patchgan() -> dict:
    from monai.networks.nets import MultiScalePatchDiscriminator

    from engine.models.config import preset
    from engine.models.factory import build_discriminator

    cfg = preset("quality", num_classes=8)
    ours = build_discriminator(cfg)
    in_ch = cfg.d_slices * (cfg.num_classes + 1)
    theirs = MultiScalePatchDiscriminator(num_d=cfg.d_scales, num_layers_d=cfg.d_layers, spatial_dims=2,
                                          channels=cfg.d_base_channels, in_channels=in_ch, norm="INSTANCE",
                                          last_conv_kernel_size=4, minimum_size_im=256)  # fmt: skip
    label = torch.zeros(4, cfg.d_slices * cfg.num_classes, 256, 256)
    label[:, 0] = 1
    image = torch.randn(4, cfg.d_slices, 256, 256, requires_grad=True)
    t_ours, m_ours = _fwd_bwd(ours, (label, image))
    x = torch.cat([label, image.detach()], 1).requires_grad_()
    t_monai, m_monai = _fwd_bwd(lambda v: theirs(v)[0], (x,))
    # MONAI's PatchDiscriminator in our arrangement: the same net at full and at half resolution
    from monai.networks.nets import PatchDiscriminator

    nets = torch.nn.ModuleList(
        PatchDiscriminator(
            spatial_dims=2,
            channels=cfg.d_base_channels,
            in_channels=in_ch,
            num_layers_d=cfg.d_layers,
            norm="INSTANCE",
            last_conv_kernel_size=4,
        )  # fmt: skip
        for _ in range(cfg.d_scales)
    )

    def two_scales(v):
        return [nets[i](torch.nn.functional.avg_pool2d(v, 2**i) if i else v) for i in range(cfg.d_scales)]

    t_pair, m_pair = _fwd_bwd(two_scales, (x,))
    params = [sum(p.numel() for p in m.parameters()) for m in (ours, theirs, nets)]
    rows = [
        ("ours (spectral norm, 2 scales)", t_ours, m_ours, params[0]),
        ("MONAI MultiScale (deeper per scale)", t_monai, m_monai, params[1]),
        ("MONAI PatchDiscriminator x2 (our layout)", t_pair, m_pair, params[2]),
    ]
    print(f"\nPatchGAN, quality preset ({cfg.d_scales} scales x {cfg.d_layers} layers, width {cfg.d_base_channels}), "
          "batch 4 at 256 px")  # fmt: skip
    for name, t, m, n in rows:
        print(f"{name:42s} {t:6.2f} s fwd+bwd, {m / 2**20:6.0f} MB saved, {n / 1e6:6.2f} M params")
    return {name: {"s": t, "saved_mb": m / 2**20, "params": n} for name, t, m, n in rows}


def compare_spade() -> dict:
    from monai.networks.blocks import SPADE as MonaiSPADE

    from engine.models.spade import SPADE

    torch.manual_seed(0)
    ours = SPADE(64, 8, 128, norm="instance", kernel=3)
    theirs = MonaiSPADE(
        label_nc=8, norm_nc=64, kernel_size=3, spatial_dims=2, hidden_channels=128, norm="INSTANCE"
    )
    with torch.no_grad():  # the same weights: shared conv, then gamma and beta (ours: one fused conv)
        theirs.mlp_shared.conv.weight.copy_(ours.shared[0].weight)
        theirs.mlp_shared.conv.bias.copy_(ours.shared[0].bias)
        weights, biases = ours.gamma_beta.weight.chunk(2), ours.gamma_beta.bias.chunk(2)
        for conv, w, bias in (
            (theirs.mlp_gamma.conv, weights[0], biases[0]),
            (theirs.mlp_beta.conv, weights[1], biases[1]),
        ):
            conv.weight.copy_(w)
            conv.bias.copy_(bias)
    x = torch.randn(4, 64, 256, 256, requires_grad=True)
    seg = torch.zeros(4, 8, 256, 256)
    seg[:, 0, :, :128], seg[:, 3, :, 128:] = 1, 1
    diff = float((ours(x, seg) - theirs(x, seg)).abs().max())
    t_ours, m_ours = _fwd_bwd(ours, (x, seg))
    t_monai, m_monai = _fwd_bwd(theirs, (x, seg))
    out = {"max_abs_difference": diff, "ours_s": t_ours, "monai_s": t_monai,
           "ours_saved_mb": m_ours / 2**20, "monai_saved_mb": m_monai / 2**20}  # fmt: skip
    print("\nSPADE block, 64 channels, 8 label channels, hidden 128, instance norm, batch 4 at 256 px")
    print(
        f"same weights: largest output difference {diff:.2e} (MONAI instance-normalises gamma and beta and uses "
        "LeakyReLU 0.01 after the shared conv; Park et al. and ours: neither)"
    )
    print(f"ours (gamma+beta fused)   {t_ours:6.2f} s fwd+bwd, {m_ours / 2**20:7.0f} MB saved")
    print(f"MONAI                     {t_monai:6.2f} s fwd+bwd, {m_monai / 2**20:7.0f} MB saved")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="deform,ssim,patchgan,spade")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--deform-one", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.deform_one:
        print(json.dumps(deform_one(args.deform_one, 0)))
        return 0
    if not HEAD_CT.exists():
        raise SystemExit(f"{HEAD_CT} is missing: run python resources/fetch_real_data.py first")
    parts = {"deform": lambda: compare_deform(args.threads), "ssim": compare_ssim, "patchgan": compare_patchgan,
             "spade": compare_spade}  # fmt: skip
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    results = {name: parts[name]() for name in args.only.split(",") if name}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
