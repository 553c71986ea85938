"""Suite-wide settings: one torch thread (oversubscribed threads run 10-20x slower on the 2-core
machines this project is tested on), headless rendering, and the benchmark data directory."""

from __future__ import annotations

import os
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]

torch.set_num_threads(1)
os.environ.setdefault("MUJOCO_GL", "egl")
# Raw datasets: ../shared/data next to the checkout unless GRAPHREP_DATA says otherwise.
os.environ.setdefault("GRAPHREP_DATA", str(REPO.parent / "shared" / "data"))
