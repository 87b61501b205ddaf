"""Build the bundled demo dataset (resources/demo/) from nilearn's packaged ICBM 2009a template.

    python resources/build_demo.py        (needs `pip install nilearn`; works offline)

One real (averaged) brain: the T1 template at 2 mm as an MR image, and a tissue label map
0 background, 1 CSF, 2 grey matter, 3 white matter (argmax of CSF = 1 - GM - WM, GM and WM inside
the brain mask). Written in the nnU-Net v2 raw layout so the dataset.json carries the modality and
label names.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
from nilearn import datasets

OUT = Path(__file__).resolve().parent / "demo"
CASE = "icbm152_2009a"

LICENSE = """The demo data is derived from the ICBM 2009a Nonlinear Symmetric template
(McConnell Brain Imaging Centre, Montreal Neurological Institute), as packaged by nilearn.

Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological
Institute, McGill University. Permission to use, copy, modify, and distribute this software and its
documentation for any purpose and without fee is hereby granted, provided that the above copyright
notice appear in all copies. The authors and McGill University make no representations about the
suitability of this software for any purpose. It is provided "as is" without express or implied
warranty. The authors are not responsible for any data loss, equipment damage, property loss, or
injury to subjects or patients resulting from the use or misuse of this software package.

Changes by SynthVol: resampled copy at 2 mm as packaged by nilearn, intensities scaled to 0-1000
and stored as int16; tissue label map from the grey/white matter probability maps (argmax).
"""


def main() -> None:
    t1 = datasets.load_mni152_template(resolution=2)
    gm = datasets.load_mni152_gm_template(resolution=2).get_fdata()
    wm = datasets.load_mni152_wm_template(resolution=2).get_fdata()
    mask = datasets.load_mni152_brain_mask(resolution=2).get_fdata() > 0.5
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0)
    tissue = np.argmax(np.stack([csf, gm, wm]), axis=0) + 1
    label = np.where(mask, tissue, 0).astype(np.uint8)
    image = np.round(np.clip(t1.get_fdata(), 0, None) * 1000).astype(np.int16)

    (OUT / "imagesTr").mkdir(parents=True, exist_ok=True)
    (OUT / "labelsTr").mkdir(parents=True, exist_ok=True)
    for arr, path in ((image, OUT / "imagesTr" / f"{CASE}_0000.nii.gz"), (label, OUT / "labelsTr" / f"{CASE}.nii.gz")):
        img = nib.Nifti1Image(arr, t1.affine)
        img.header.set_xyzt_units("mm")
        img.set_qform(t1.affine, code=4)
        img.set_sform(t1.affine, code=4)
        nib.save(img, str(path))
    dataset = {
        "name": "SynthVol demo: ICBM 2009a brain (2 mm)",
        "description": "One averaged T1 brain with tissue labels; for trying SynthVol, not for judging quality.",
        "channel_names": {"0": "T1"},
        "labels": {"background": 0, "CSF": 1, "grey matter": 2, "white matter": 3},
        "numTraining": 1,
        "file_ending": ".nii.gz",
        "licence": "see LICENSE.txt",
    }
    (OUT / "dataset.json").write_text(json.dumps(dataset, indent=2) + "\n", encoding="utf-8")
    (OUT / "LICENSE.txt").write_text(LICENSE, encoding="utf-8")
    counts = np.bincount(label.ravel(), minlength=4)
    print(f"wrote {OUT}: image {image.shape}, label voxels per class {counts.tolist()}")


if __name__ == "__main__":
    main()
