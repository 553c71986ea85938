import json
import os
import subprocess
import sys

import pytest
import torch

from shared.checkpoint import atomic_save, atomic_write_json
from shared.seeding import seed_everything


def test_import_shared_pulls_no_graph_or_rl_library():
    code = (
        "import sys, shared, shared.losses, shared.heads, shared.probes, shared.distributed;"
        "bad = [m for m in ('torch_geometric', 'stable_baselines3', 'gymnasium') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_atomic_save_roundtrip_and_no_temp_left(tmp_path):
    path = tmp_path / "sub" / "ckpt.pt"
    atomic_save({"w": torch.arange(3)}, path)
    assert torch.equal(torch.load(path)["w"], torch.arange(3))
    atomic_write_json(tmp_path / "r.json", {"a": 1})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert sorted(os.listdir(path.parent)) == ["ckpt.pt"]


def test_atomic_writes_leave_the_permissions_a_plain_write_would(tmp_path):
    old = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.json"
        atomic_write_json(fresh, {"a": 1})
        plain = tmp_path / "plain.json"
        plain.write_text("{}")
        assert fresh.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644
        plain.chmod(0o640)  # an existing file keeps its mode
        atomic_save({"v": 1}, plain)
        assert plain.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"v": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_save({"v": Unpicklable()}, path)
    assert torch.load(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_seed_everything_repeats_and_validates():
    import random

    import numpy as np

    seed_everything(7)
    a, b, c = torch.randn(3), np.random.rand(3), random.random()
    seed_everything(7)
    assert torch.equal(a, torch.randn(3))  # every generator a run may draw from
    assert np.array_equal(b, np.random.rand(3)) and c == random.random()
    seed_everything(8)
    assert not torch.equal(a, torch.randn(3))
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
