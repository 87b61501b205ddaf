"""SynthVol engine: data, models, training, synthesis, export and evaluation.

Plain Python + PyTorch + SimpleITK. Never imports Qt (tests/engine/test_layering.py enforces it).
"""

__version__ = "0.1.0"
APP_NAME = "SynthVol"
