# %% [markdown]
# # SynthVol from Python: scan, train, generate, export
#
# The same engine the window and the CLI use, in five calls (a notebook in the "percent" format:
# Jupytext, VS Code and PyCharm open it as cells; `python docs/examples/quickstart.py` runs it).
# The settings are tiny, so it runs in about a minute on a CPU and the images are blurry: use
# `TrainingConfig(preset="quality")` on a GPU for real data. `tests/e2e/test_docs_example.py` runs
# this file, so it stays true.

# %%
import os
import tempfile
from pathlib import Path

from engine.data import discover
from engine.export import ExportConfig, export_gallery
from engine.resources import DEMO_DATASET
from engine.synthesis import GenerateConfig, generate_volumes
from engine.training.config import TrainingConfig
from engine.training.trainer import train

work = Path(os.environ.get("SYNTHVOL_EXAMPLE_DIR") or tempfile.mkdtemp(prefix="synthvol-example-"))
tiny_model = {"max_channels": 32, "spade_hidden": 8, "style_dim": 4, "d_base_channels": 8, "d_layers": 2}

# %% 1. Scan a dataset folder: every case with its geometry, labels and status
scan = discover(DEMO_DATASET)
print(scan.summary())

# %% 2. Train a few iterations into a run folder
training = train(
    TrainingConfig(
        data=DEMO_DATASET,
        run=work / "run",
        iterations=4,
        image_size=64,
        batch_size=2,
        base_channels=8,
        model_overrides=tiny_model,
        val_every=2,
        val_slices=2,
    )
)
print(f"trained to iteration {training.iteration}: {training.checkpoint.name}")

# %% 3. Generate synthetic labeled volumes from deformed training label maps (into the run's gallery)
samples = generate_volumes(GenerateConfig(run=training.run, count=2, label_source="augment"))
print([item.id for item in samples.items])

# %% 4. Export them: DICOM + SEG, NIfTI and an nnU-Net dataset, with pseudonyms only
export = export_gallery(ExportConfig(out_dir=work / "export"), training.run, samples.items)
print(f"{export.n_cases} cases, {export.files} files in {export.out_dir}")
